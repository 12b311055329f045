//! A device its owner holds (`updater hold`) stays where it is, whatever the policy says,
//! until `updater unhold`: every decision becomes a decision to stay, waiting for the hold.
//! One rule for `apply` and `run` (which act on it) and `plan` (which announces it). A hold
//! is local to the device and never signed: it can only keep a device from moving, never
//! move it.

use crate::datetime::UtcTime;
use crate::rollout::decide::{Action, Decision, Waiting};

/// What the device remembers of a hold (`state.json`'s `held`).
#[derive(Clone, Copy, Debug)]
pub struct Hold<'a> {
    pub since: UtcTime,
    pub reason: Option<&'a str>,
}

/// `decision`, unless the device is held: then a decision to stay, waiting for the hold,
/// that still names the release the policy would move it to.
pub fn held(decision: Decision, hold: Option<Hold<'_>>) -> Decision {
    let Some(hold) = hold else {
        return decision;
    };
    let running = decision
        .running
        .as_ref()
        .map_or("nothing".to_owned(), |r| r.to_string());
    let why = hold.reason.map(|r| format!(": {r}")).unwrap_or_default();
    let would = match (decision.action, &decision.release) {
        (Action::Stay, _) | (_, None) => String::new(),
        (_, Some(release)) => format!(" (the policy would move it to {release})"),
    };
    Decision {
        action: Action::Stay,
        at: None,
        waiting_for: Some(Waiting::Hold),
        reason: format!(
            "staying on {running}: held since {}{why}{would}; `updater unhold` lets it move",
            hold.since
        ),
        ..decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::policy::Release;

    fn install(release: &str) -> Decision {
        Decision {
            action: Action::Install,
            channel: "stable".into(),
            running: Some(Release::new("1.0.0").unwrap()),
            release: Some(Release::new(release).unwrap()),
            at: Some(UtcTime::parse("2026-11-23T02:30:00Z").unwrap()),
            waiting_for: None,
            wave: Some(1),
            bucket: Some(312),
            reason: "install 2.0.0 now".into(),
        }
    }

    #[test]
    fn a_held_device_stays_and_says_why_and_how_to_move() {
        let since = UtcTime::parse("2026-11-20T10:00:00Z").unwrap();
        let decision = held(
            install("2.0.0"),
            Some(Hold {
                since,
                reason: Some("field trial"),
            }),
        );
        assert_eq!(decision.action, Action::Stay);
        assert_eq!(decision.at, None);
        assert_eq!(decision.waiting_for, Some(Waiting::Hold));
        assert_eq!(decision.release, Some(Release::new("2.0.0").unwrap()));
        assert_eq!(
            decision.reason,
            "staying on 1.0.0: held since 2026-11-20T10:00:00Z: field trial (the policy would \
             move it to 2.0.0); `updater unhold` lets it move"
        );
    }

    #[test]
    fn without_a_hold_the_decision_stands() {
        assert_eq!(held(install("2.0.0"), None), install("2.0.0"));
    }
}
