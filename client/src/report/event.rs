//! What a device reports: one typed event per step, numbered per device.
//!
//! Invariant: events are the wire format (tagged by `kind`, unknown fields refused when
//! read back), they hold integers and strings only (canonical JSON has no floats), and free
//! text is cut to [`MAX_EVENT_TEXT_BYTES`](crate::limits) when an event is made, so one
//! event stays small whatever an error message says.

use serde::{Deserialize, Serialize};

use crate::conventions::Release;
use crate::datetime::UtcTime;
use crate::rollout::decide::{Action, Decision};

/// One thing that happened on the device.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Event {
    /// A check decided (what `updater plan` computes).
    Checked {
        action: CheckAction,
        release: Option<Release>,
        wave: Option<u64>,
        bucket: Option<u32>,
        /// When the install can happen, if it waits.
        eligible_at: Option<UtcTime>,
        reason: String,
    },
    /// A release's artifacts are being fetched: `done` of `total` bytes.
    Downloading {
        release: Release,
        done: u64,
        total: u64,
    },
    /// `release` was installed and committed; `from` ran before.
    Installed {
        release: Release,
        from: Option<Release>,
    },
    /// `release` failed its trial (post-install scripts or health check).
    HealthCheckFailed { release: Release, reason: String },
    /// The device went back from `release` to `to` (after a failed trial, or by hand).
    RolledBack {
        release: Release,
        to: Option<Release>,
    },
    /// A check or an install failed before deciding or installing.
    Failed { reason: String },
    /// At start, an install or rollback that a crash interrupted was finished or undone.
    Recovered { what: String },
    /// What the device is and runs.
    Inventory {
        running: Option<Release>,
        platform: String,
        /// The policy channel the device follows.
        channel: String,
        groups: Vec<String>,
        free_bytes: Option<u64>,
        updater_version: String,
    },
}

/// The decision of a check, as reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckAction {
    Install,
    Wait,
    Stay,
}

/// An event with its place in the device's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Strictly increasing per device, across restarts.
    pub seq: u64,
    pub time: UtcTime,
    pub event: Event,
}

impl Event {
    /// The `checked` event of `decision`.
    pub fn checked(decision: &Decision) -> Event {
        Event::Checked {
            action: match decision.action {
                Action::Install => CheckAction::Install,
                Action::Wait => CheckAction::Wait,
                Action::Stay => CheckAction::Stay,
            },
            release: decision.release.clone(),
            wave: decision.wave.map(|w| w as u64),
            bucket: decision.bucket,
            eligible_at: decision.at,
            reason: bounded_text(&decision.reason),
        }
    }

    /// A `failed` event, its reason cut to the bound.
    pub fn failed(reason: &str) -> Event {
        Event::Failed {
            reason: bounded_text(reason),
        }
    }

    /// A `recovered` event, its text cut to the bound.
    pub fn recovered(what: &str) -> Event {
        Event::Recovered {
            what: bounded_text(what),
        }
    }

    /// A `health_check_failed` event, its reason cut to the bound.
    pub fn health_check_failed(release: &Release, reason: &str) -> Event {
        Event::HealthCheckFailed {
            release: release.clone(),
            reason: bounded_text(reason),
        }
    }
}

/// Most groups an `inventory` event lists.
pub const MAX_INVENTORY_GROUPS: usize = 64;
/// Longest group name an `inventory` event carries, in bytes: 64 of them and the other
/// texts at their bound still fit one event file.
pub const MAX_GROUP_TEXT_BYTES: usize = 128;

impl Event {
    /// An `inventory` event, bounded: at most [`MAX_INVENTORY_GROUPS`] groups of at most
    /// [`MAX_GROUP_TEXT_BYTES`] each, platform and version cut like any free text.
    pub fn inventory(
        running: Option<Release>,
        platform: &str,
        channel: &str,
        groups: impl IntoIterator<Item = String>,
        free_bytes: Option<u64>,
        updater_version: &str,
    ) -> Event {
        Event::Inventory {
            running,
            platform: bounded_text(platform),
            channel: bounded_text(channel),
            groups: groups
                .into_iter()
                .take(MAX_INVENTORY_GROUPS)
                .map(|g| cut(&g, MAX_GROUP_TEXT_BYTES))
                .collect(),
            free_bytes,
            updater_version: bounded_text(updater_version),
        }
    }
}

/// `text`, cut at a character boundary to at most the bound.
fn bounded_text(text: &str) -> String {
    cut(text, crate::limits::MAX_EVENT_TEXT_BYTES)
}

/// `text`, cut at a character boundary to at most `limit` bytes.
fn cut(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tagged_by_kind_and_read_back() {
        let record = Record {
            seq: 7,
            time: UtcTime::from_unix(1_800_000_000).unwrap(),
            event: Event::RolledBack {
                release: Release::new("2.0.0").unwrap(),
                to: Some(Release::new("1.0.0").unwrap()),
            },
        };
        let json = serde_json::to_string(&record).unwrap();
        assert!(json.contains(r#""kind":"rolled_back""#), "{json}");
        assert_eq!(serde_json::from_str::<Record>(&json).unwrap(), record);
        let extra = json.replace(r#""kind""#, r#""extra":1,"kind""#);
        assert!(serde_json::from_str::<Record>(&extra).is_err());
    }

    #[test]
    fn long_reasons_are_cut_on_a_character() {
        let reason = "é".repeat(5000);
        let Event::Failed { reason: cut } = Event::failed(&reason) else {
            panic!()
        };
        assert!(cut.len() <= crate::limits::MAX_EVENT_TEXT_BYTES && cut.len() > 2000);
    }

    /// However many and however long the groups, an inventory fits one event file.
    #[test]
    fn an_inventory_is_bounded_when_made() {
        let long = "g".repeat(10_000);
        let groups = (0..1000).map(|n| format!("{n}{long}"));
        let event = Event::inventory(None, &long, &long, groups, Some(1), &long);
        let Event::Inventory {
            platform,
            groups,
            updater_version,
            ..
        } = event.clone()
        else {
            panic!()
        };
        assert_eq!(groups.len(), MAX_INVENTORY_GROUPS);
        assert!(groups.iter().all(|g| g.len() == MAX_GROUP_TEXT_BYTES));
        let limit = crate::limits::MAX_EVENT_TEXT_BYTES;
        assert_eq!((platform.len(), updater_version.len()), (limit, limit));
        let record = Record {
            seq: u64::MAX,
            time: UtcTime::from_unix(1_800_000_000).unwrap(),
            event,
        };
        let bytes = serde_json::to_vec(&record).unwrap().len() as u64;
        assert!(bytes <= crate::limits::MAX_EVENT_FILE_BYTES, "{bytes}");
    }
}
