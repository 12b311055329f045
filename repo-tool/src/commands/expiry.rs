//! Expiry as monitoring sees it, for `repo status` and `repo verify`: each role is judged
//! once (valid, expiring within `--warn-days`, or expired) and every output is drawn from
//! that one judgement: the warnings on stderr, the exit code, the `expiry` field of `--json`
//! and the one line of `--nagios`.
//!
//! Exit codes: by default 0 valid, 3 expiring, 1 expired (1 is also "failed verification",
//! which an expired role is to a device). With `--nagios` the plugin convention: 0 OK,
//! 1 WARNING (expiring), 2 CRITICAL (expired, or the repository fails verification),
//! 3 UNKNOWN (the repository could not be read).

use serde::Serialize;
use updater::datetime::UtcTime;

use super::{EXIT_EXPIRING, EXIT_UNTRUSTED};

/// Nagios plugin exit codes.
pub(crate) const NAGIOS_OK: u8 = 0;
pub(crate) const NAGIOS_WARNING: u8 = 1;
pub(crate) const NAGIOS_CRITICAL: u8 = 2;
pub(crate) const NAGIOS_UNKNOWN: u8 = 3;

/// One role's expiry, judged against now and the warning window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Expiry {
    /// Valid beyond the warning window.
    Valid,
    /// Still valid, but expires within `--warn-days`.
    Expiring,
    /// Expired: devices refuse it.
    Expired,
}

/// Every role's expiry, judged at one moment.
pub(crate) struct Judgement {
    now: UtcTime,
    warn_days: i64,
    roles: Vec<(String, UtcTime, Expiry)>,
}

impl Judgement {
    /// Judges each `(role, expires)` at `now` with a window of `warn_days`.
    pub(crate) fn new<'a>(
        roles: impl Iterator<Item = (&'a str, UtcTime)>,
        now: UtcTime,
        warn_days: i64,
    ) -> Self {
        let horizon = now.plus_seconds(warn_days.saturating_mul(86_400));
        let roles = roles
            .map(|(role, expires)| {
                let state = if expires <= now {
                    Expiry::Expired
                } else if expires <= horizon {
                    Expiry::Expiring
                } else {
                    Expiry::Valid
                };
                (role.to_owned(), expires, state)
            })
            .collect();
        Judgement {
            now,
            warn_days,
            roles,
        }
    }

    /// The judgement of `role` (valid if it was not judged).
    pub(crate) fn of(&self, role: &str) -> Expiry {
        self.roles
            .iter()
            .find(|(r, _, _)| r == role)
            .map_or(Expiry::Valid, |(_, _, s)| *s)
    }

    /// Prints a line on stderr for each role expired or expiring.
    pub(crate) fn warn(&self) {
        for (role, expires, state) in &self.roles {
            match state {
                Expiry::Expired => eprintln!("error: {role} expired at {expires}"),
                Expiry::Expiring => {
                    let minutes = (expires.unix() - self.now.unix()) / 60;
                    eprintln!(
                        "warning: {role} expires at {expires} (in {}h{:02}m): re-sign it",
                        minutes / 60,
                        minutes % 60
                    );
                }
                Expiry::Valid => {}
            }
        }
    }

    /// The default exit code: `None` when every role is valid beyond the window.
    pub(crate) fn exit_code(&self) -> Option<u8> {
        let worst = self.worst();
        match worst {
            Expiry::Expired => Some(EXIT_UNTRUSTED),
            Expiry::Expiring => Some(EXIT_EXPIRING),
            Expiry::Valid => None,
        }
    }

    /// The Nagios exit code and its one line: `REPO OK - ...`, `REPO WARNING - ...`,
    /// `REPO CRITICAL - ...`.
    pub(crate) fn nagios(&self) -> (u8, String) {
        let problems: Vec<String> = self
            .roles
            .iter()
            .filter_map(|(role, expires, state)| match state {
                Expiry::Expired => Some(format!("{role} expired at {expires}")),
                Expiry::Expiring => Some(format!(
                    "{role} expires in {} at {expires}",
                    self.left(*expires)
                )),
                Expiry::Valid => None,
            })
            .collect();
        match self.worst() {
            Expiry::Expired => (
                NAGIOS_CRITICAL,
                format!("REPO CRITICAL - {}", problems.join("; ")),
            ),
            Expiry::Expiring => (
                NAGIOS_WARNING,
                format!("REPO WARNING - {}", problems.join("; ")),
            ),
            Expiry::Valid => {
                let next = self
                    .roles
                    .iter()
                    .min_by_key(|(_, expires, _)| *expires)
                    .map(|(role, expires, _)| {
                        format!(
                            "; next to expire: {role} in {} at {expires}",
                            self.left(*expires)
                        )
                    })
                    .unwrap_or_default();
                (
                    NAGIOS_OK,
                    format!(
                        "REPO OK - {} role(s) valid beyond {} day(s){next}",
                        self.roles.len(),
                        self.warn_days
                    ),
                )
            }
        }
    }

    fn worst(&self) -> Expiry {
        let states = || self.roles.iter().map(|(_, _, s)| *s);
        if states().any(|s| s == Expiry::Expired) {
            Expiry::Expired
        } else if states().any(|s| s == Expiry::Expiring) {
            Expiry::Expiring
        } else {
            Expiry::Valid
        }
    }

    /// Time left until `expires`, for people: `2d 03h`, or `3h07m` under a day.
    fn left(&self, expires: UtcTime) -> String {
        let minutes = (expires.unix() - self.now.unix()).max(0) / 60;
        let (days, hours) = (minutes / 1440, minutes % 1440 / 60);
        if days > 0 {
            format!("{days}d {hours:02}h")
        } else {
            format!("{hours}h{:02}m", minutes % 60)
        }
    }
}

/// Prints a Nagios line and returns its code.
pub(crate) fn nagios_line(code: u8, line: &str) -> std::process::ExitCode {
    println!("{line}");
    std::process::ExitCode::from(code)
}
