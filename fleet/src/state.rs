//! What a device's events mean for its state: the one place the rollout picture is derived.
//!
//! Invariant: pure functions over typed events, no I/O; the store loads the rows, applies
//! the events of a report in sequence order, and writes back what changed. A device's state
//! for a release only moves forward through an attempt (waiting, eligible, downloading) and
//! ends in installed, failed or rolled back; a new download after a failure is a new
//! attempt. Events for a release a device never reported checking still count.

use std::collections::BTreeMap;

use updater::report::event::{CheckAction, Event, Record};

/// Where a device stands with one release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum State {
    /// Checked; its wave has not reached it yet.
    Waiting,
    /// Checked and decided to install.
    Eligible,
    Downloading,
    Installed,
    /// Its health check failed, or its install failed while downloading.
    Failed,
    RolledBack,
}

impl State {
    const ALL: [State; 6] = [
        State::Waiting,
        State::Eligible,
        State::Downloading,
        State::Installed,
        State::Failed,
        State::RolledBack,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Eligible => "eligible",
            State::Downloading => "downloading",
            State::Installed => "installed",
            State::Failed => "failed",
            State::RolledBack => "rolled_back",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether an attempt is under way (a `checked` may still move it).
    fn before_download(self) -> bool {
        matches!(self, State::Waiting | State::Eligible)
    }
}

/// A device's state with one release (a row of `rollout`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rollout {
    pub(crate) state: State,
    pub(crate) wave: Option<i64>,
    pub(crate) bucket: Option<i64>,
    pub(crate) eligible_at: Option<i64>,
    pub(crate) reason: Option<String>,
    pub(crate) checked_at: Option<i64>,
    pub(crate) installed_at: Option<i64>,
    pub(crate) failed_at: Option<i64>,
    pub(crate) rolled_back_at: Option<i64>,
    pub(crate) updated_at: i64,
}

impl Rollout {
    fn new(state: State, at: i64) -> Rollout {
        Rollout {
            state,
            wave: None,
            bucket: None,
            eligible_at: None,
            reason: None,
            checked_at: None,
            installed_at: None,
            failed_at: None,
            rolled_back_at: None,
            updated_at: at,
        }
    }
}

/// What a device is and runs (a row of `devices`, less its key and enrolment).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Device {
    pub(crate) last_seen: Option<i64>,
    pub(crate) last_seq: Option<i64>,
    pub(crate) dropped: i64,
    pub(crate) running: Option<String>,
    pub(crate) platform: Option<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) channel: Option<String>,
    pub(crate) free_bytes: Option<i64>,
    pub(crate) updater_version: Option<String>,
    pub(crate) last_failure: Option<String>,
    pub(crate) last_failure_at: Option<i64>,
}

/// A device and its rollout rows, as loaded, with the releases whose rows changed.
pub(crate) struct DeviceView {
    pub(crate) device: Device,
    pub(crate) rollout: BTreeMap<String, Rollout>,
    pub(crate) changed: std::collections::BTreeSet<String>,
}

impl DeviceView {
    /// Applies one event recorded at `at` (unix seconds, the device's clock).
    pub(crate) fn apply(&mut self, record: &Record) {
        let at = record.time.unix();
        self.device.last_seen = Some(self.device.last_seen.map_or(at, |seen| seen.max(at)));
        match &record.event {
            Event::Checked {
                action,
                release: Some(release),
                wave,
                bucket,
                eligible_at,
                reason,
            } => {
                let state = match action {
                    CheckAction::Install => State::Eligible,
                    CheckAction::Wait => State::Waiting,
                    // Staying says nothing new about a release the device is not moving to.
                    CheckAction::Stay => return self.touch_checked(release.as_str(), at),
                };
                let row = self.row(release.as_str(), state, at);
                if row.state.before_download() {
                    row.state = state;
                }
                row.wave = wave.map(|w| w as i64);
                row.bucket = bucket.map(i64::from);
                row.eligible_at = eligible_at.map(|t| t.unix());
                row.reason = Some(reason.clone());
                row.checked_at = Some(at);
            }
            Event::Checked { release: None, .. } | Event::Recovered { .. } => {}
            Event::Downloading { release, .. } => {
                let row = self.row(release.as_str(), State::Downloading, at);
                if !matches!(row.state, State::Installed | State::RolledBack) {
                    row.state = State::Downloading;
                }
            }
            Event::Installed { release, .. } => {
                let row = self.row(release.as_str(), State::Installed, at);
                row.state = State::Installed;
                row.installed_at = Some(at);
                self.device.running = Some(release.as_str().to_owned());
            }
            Event::HealthCheckFailed { release, reason } => {
                let row = self.row(release.as_str(), State::Failed, at);
                row.state = State::Failed;
                row.reason = Some(reason.clone());
                row.failed_at = Some(at);
                self.device.last_failure = Some(reason.clone());
                self.device.last_failure_at = Some(at);
            }
            Event::RolledBack { release, to } => {
                let row = self.row(release.as_str(), State::RolledBack, at);
                row.state = State::RolledBack;
                row.rolled_back_at = Some(at);
                self.device.running = to.as_ref().map(|r| r.as_str().to_owned());
            }
            Event::Failed { reason } => self.failed(reason, at),
            Event::Inventory {
                running,
                platform,
                channel,
                groups,
                free_bytes,
                updater_version,
            } => {
                let device = &mut self.device;
                device.running = running.as_ref().map(|r| r.as_str().to_owned());
                device.platform = Some(platform.clone());
                device.channel = Some(channel.clone());
                device.groups = groups.clone();
                device.free_bytes = free_bytes.and_then(|b| i64::try_from(b).ok());
                device.updater_version = Some(updater_version.clone());
            }
        }
    }

    /// A failure before deciding or installing: the device's failure, and the failure of
    /// the release it was downloading, if any.
    fn failed(&mut self, reason: &str, at: i64) {
        self.device.last_failure = Some(reason.to_owned());
        self.device.last_failure_at = Some(at);
        let downloading: Vec<String> = self
            .rollout
            .iter()
            .filter(|(_, row)| row.state == State::Downloading)
            .map(|(release, _)| release.clone())
            .collect();
        for release in downloading {
            let row = self.row(&release, State::Failed, at);
            row.state = State::Failed;
            row.reason = Some(reason.to_owned());
            row.failed_at = Some(at);
        }
    }

    fn touch_checked(&mut self, release: &str, at: i64) {
        if self.rollout.contains_key(release) {
            let row = self.row(release, State::Waiting, at);
            row.checked_at = Some(at);
        }
    }

    /// The row for `release`, made in `state` if there is none, marked changed at `at`.
    fn row(&mut self, release: &str, state: State, at: i64) -> &mut Rollout {
        self.changed.insert(release.to_owned());
        let row = self
            .rollout
            .entry(release.to_owned())
            .or_insert_with(|| Rollout::new(state, at));
        row.updated_at = row.updated_at.max(at);
        row
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
