//! A release that failed its trial on this device is not tried again under the same policy:
//! the decision to move to it becomes a decision to stay, waiting for a new policy. One rule
//! for `apply` (which acts on it) and `plan` (which announces it), so both say the same:
//! when it failed, and that `updater retry` clears the block on this device alone.

use crate::datetime::UtcTime;
use crate::rollout::decide::{Action, Decision, Waiting};
use crate::rollout::policy::Release;

/// What the device remembers of a failed trial (`state.json`'s `failed`).
#[derive(Clone, Copy, Debug)]
pub struct FailedTrial<'a> {
    pub release: &'a Release,
    /// SHA-256 (hex) of the `policy.xml` the release was tried under.
    pub policy_sha256: &'a str,
    pub reason: &'a str,
    /// When it failed; unknown in records older versions wrote.
    pub at: Option<UtcTime>,
}

/// `decision`, unless it moves to a release that failed on this device under the policy
/// whose SHA-256 (hex) is `policy_sha256`: then a decision to stay, waiting for `failed`.
pub fn not_again(
    decision: Decision,
    failed: Option<FailedTrial<'_>>,
    policy_sha256: &str,
) -> Decision {
    let Some(failed) = failed else {
        return decision;
    };
    let again = decision.action != Action::Stay
        && decision.release.as_ref() == Some(failed.release)
        && failed.policy_sha256 == policy_sha256;
    if !again {
        return decision;
    }
    let running = decision
        .running
        .as_ref()
        .map_or("nothing".to_owned(), |r| r.to_string());
    let when = failed.at.map(|at| format!(" at {at}")).unwrap_or_default();
    Decision {
        action: Action::Stay,
        at: None,
        waiting_for: Some(Waiting::Failed),
        reason: format!(
            "staying on {running}: {} failed on this device{when} ({}); it is not tried again \
             until the policy changes, or until `updater retry` clears the block on this device",
            failed.release, failed.reason
        ),
        ..decision
    }
}
