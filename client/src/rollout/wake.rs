//! When `updater run` wakes next: the one rule `run` follows and the rollout simulation
//! (`client/examples/sim_rollout.rs`) measures. Pure: the randomness comes in as a number.
//!
//! The rule: wake at the earlier of
//! - the next check: `every` plus a random part of `jitter` (as before), and
//! - when the decision waits for a moment (`at` of a `wait`: the window's opening, or the
//!   first moment the device is eligible and inside the window), that moment plus a random
//!   spread: within the first half of what is left of the window at that moment, or within
//!   `jitter` when the policy has no window.
//!
//! The spread keeps a fleet from reaching the mirror in the same second at 02:00:00, and the
//! half keeps every device inside the window with the other half left for a retry: a device
//! whose check fails at the opening still has time before the window closes, because a
//! failed check is retried soon ([`after_failure`]: 5 minutes, doubling to at most an hour).
//! A device that has just installed checks again a minute later ([`AFTER_INSTALL`]), so a
//! stepping stone is followed by the target in the same window, not a check interval later.

use crate::datetime::UtcTime;
use crate::rollout::decide::{closes_after, Action, Decision};
use crate::rollout::policy::{Policy, Window};

/// What the next wake-up depends on, taken from the policy and the decision just made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WakePlan {
    /// Seconds between checks (at least 1).
    pub every: u64,
    /// Largest random addition to `every`, in seconds.
    pub jitter: u64,
    /// The install window, if the policy has one.
    pub window: Option<Window>,
    /// The moment the decision waits for, if any.
    pub until: Option<UtcTime>,
    /// The decision installed a release: check again soon, for the next step.
    pub installed: bool,
}

/// Seconds after an install before the next check.
pub const AFTER_INSTALL: u64 = 60;

impl WakePlan {
    /// The plan after `decision`, made under `policy`.
    pub fn new(policy: &Policy, decision: &Decision) -> Self {
        WakePlan {
            every: policy.check_every.seconds().unsigned_abs().max(1),
            jitter: policy
                .check_jitter
                .map_or(0, |j| j.seconds().unsigned_abs()),
            window: policy.window.clone(),
            until: (decision.action == Action::Wait)
                .then_some(decision.at)
                .flatten(),
            installed: decision.action == Action::Install,
        }
    }
}

/// The next wake-up after `now` under `plan`; `random` is a uniformly random number (its low
/// half spreads the check, its high half the wait).
pub fn next_wake(plan: &WakePlan, now: UtcTime, random: u64) -> UtcTime {
    let check_spread = (random & 0xffff_ffff) % plan.jitter.saturating_add(1);
    let check = now.plus_seconds(seconds(plan.every.saturating_add(check_spread)));
    if plan.installed {
        return check.min(now.plus_seconds(seconds(AFTER_INSTALL)));
    }
    let Some(until) = plan.until.filter(|t| *t > now) else {
        return check;
    };
    let room = match &plan.window {
        Some(window) => {
            let left = closes_after(window, until).unix() - until.unix();
            left.max(0).unsigned_abs() / 2
        }
        None => plan.jitter,
    };
    let wait_spread = (random >> 32) % room.saturating_add(1);
    check.min(until.plus_seconds(seconds(wait_spread)))
}

/// The next attempt after `failures` checks in a row failed (1 for the first): 5 minutes,
/// doubling each time, at most an hour, plus up to a fifth more at random so a fleet that
/// failed together (a mirror outage) does not come back together.
pub fn after_failure(failures: u32, now: UtcTime, random: u64) -> UtcTime {
    let base = (300u64 << failures.saturating_sub(1).min(4)).min(3600);
    now.plus_seconds(seconds(base + random % (base / 5 + 1)))
}

fn seconds(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::policy::parse;

    fn t(text: &str) -> UtcTime {
        UtcTime::parse(text).unwrap()
    }

    fn plan(until: Option<&str>, window: bool) -> WakePlan {
        let xml = if window {
            r#"<policy><check every="6h" jitter="30m"/><window days="mon-fri" from="02:00" to="04:00"/></policy>"#
        } else {
            r#"<policy><check every="6h" jitter="30m"/></policy>"#
        };
        let policy = parse(xml.as_bytes()).unwrap();
        WakePlan {
            every: policy.check_every.seconds().unsigned_abs(),
            jitter: 1800,
            window: policy.window,
            until: until.map(t),
            installed: false,
        }
    }

    #[test]
    fn without_a_wait_the_next_check_is_the_interval_plus_jitter() {
        let now = t("2026-11-20T12:00:00Z");
        let p = plan(None, true);
        assert_eq!(next_wake(&p, now, 0), t("2026-11-20T18:00:00Z"));
        assert_eq!(next_wake(&p, now, 1800), t("2026-11-20T18:30:00Z"));
        assert_eq!(next_wake(&p, now, 1801), t("2026-11-20T18:00:00Z"));
    }

    #[test]
    fn a_wait_for_the_window_wakes_in_the_first_half_of_it() {
        // Friday noon, waiting for Monday 02:00-04:00: the checks come first until the last
        // one before the opening, and every draw of the spread lands in 02:00-03:00.
        let p = plan(Some("2026-11-23T02:00:00Z"), true);
        let late = t("2026-11-23T00:00:00Z");
        for high in [0u64, 1, 1799, 3600, 3601, u64::from(u32::MAX)] {
            let wake = next_wake(&p, late, high << 32);
            assert!(
                wake >= t("2026-11-23T02:00:00Z") && wake <= t("2026-11-23T03:00:00Z"),
                "{wake}"
            );
        }
        let early = t("2026-11-20T12:00:00Z");
        assert_eq!(next_wake(&p, early, 0), t("2026-11-20T18:00:00Z"));
    }

    #[test]
    fn a_wait_in_the_middle_of_the_window_stays_inside_it() {
        let p = plan(Some("2026-11-23T03:50:00Z"), true);
        let now = t("2026-11-23T03:00:00Z");
        for high in [0u64, 299, 300, 301, 600, u64::from(u32::MAX)] {
            let wake = next_wake(&p, now, high << 32);
            assert!(wake < t("2026-11-23T04:00:00Z"), "{wake}");
            assert!(wake >= t("2026-11-23T03:50:00Z"), "{wake}");
        }
    }

    #[test]
    fn without_a_window_a_wait_is_spread_over_the_jitter() {
        let p = plan(Some("2026-11-20T13:00:00Z"), false);
        let now = t("2026-11-20T12:00:00Z");
        assert_eq!(next_wake(&p, now, 0), t("2026-11-20T13:00:00Z"));
        assert_eq!(next_wake(&p, now, 1800 << 32), t("2026-11-20T13:30:00Z"));
    }

    #[test]
    fn a_moment_already_past_is_not_waited_for() {
        let p = plan(Some("2026-11-20T11:00:00Z"), false);
        let now = t("2026-11-20T12:00:00Z");
        assert_eq!(next_wake(&p, now, 0), t("2026-11-20T18:00:00Z"));
    }

    #[test]
    fn after_an_install_the_next_check_is_a_minute_later() {
        let p = WakePlan {
            installed: true,
            ..plan(None, true)
        };
        let now = t("2026-11-23T02:10:00Z");
        assert_eq!(next_wake(&p, now, u64::MAX), t("2026-11-23T02:11:00Z"));
    }

    #[test]
    fn a_failed_check_is_retried_soon_then_less_often() {
        let now = t("2026-11-23T02:00:00Z");
        let minutes =
            |failures, random| (after_failure(failures, now, random).unix() - now.unix()) / 60;
        assert_eq!(minutes(1, 0), 5);
        assert_eq!(minutes(2, 0), 10);
        assert_eq!(minutes(3, 0), 20);
        assert_eq!(minutes(4, 0), 40);
        assert_eq!(minutes(5, 0), 60);
        assert_eq!(minutes(50, 0), 60);
        // The random part adds at most a fifth.
        assert_eq!(minutes(1, 60), 6);
        assert_eq!(minutes(5, 720), 72);
        assert_eq!(minutes(5, 721), 60);
    }
}
