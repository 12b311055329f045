//! Step 4 of `repo sign`, check: what was signed passes the device's own verifier, the
//! policy names only releases the index holds and strands no device, and the root the
//! roles are signed under outlives them. Nothing becomes visible before these pass.

use anyhow::{bail, Context, Result};
use updater::conventions::POLICY_ROLE;
use updater::datetime::UtcTime;
use updater::metadata::{Role, Root};
use updater::names::RoleName;
use updater::verify::Unverified;

use super::plan::Plan;
use crate::workspace::Settings;

/// Refuses to sign under a root that devices will refuse first: an expired root always,
/// and (unless forced) one that expires before the metadata signed now, since devices stop
/// trusting anything once root expires, whatever the other roles say.
pub(super) fn check_root_lifetime(
    root: &Root,
    plan: &Plan<'_>,
    settings: &Settings,
    now: UtcTime,
    force: bool,
) -> Result<()> {
    let fix = "stage a new root with `repo root edit REPO --expires PERIOD`, sign it with the root keys, then sign again";
    if root.expires <= now {
        bail!(
            "root version {} expired at {}: devices refuse everything signed under it; {fix}",
            root.version,
            root.expires
        );
    }
    let expiry = &settings.expiry;
    let signed_now = [
        ("targets", plan.targets.is_some(), expiry.targets),
        (POLICY_ROLE, plan.policy.is_some(), expiry.policy),
        ("snapshot", plan.snapshot.is_some(), expiry.snapshot),
        ("timestamp", plan.timestamp.is_some(), expiry.timestamp),
    ];
    let outlived = signed_now
        .iter()
        .filter(|(_, signing, _)| *signing)
        .map(|(role, _, period)| (role, now.plus_seconds(period.seconds())))
        .filter(|(_, expires)| *expires > root.expires)
        .max_by_key(|(_, expires)| *expires);
    if let (Some((role, expires)), false) = (outlived, force) {
        bail!(
            "root version {} expires at {}, before the {role} signed now ({expires}): devices stop updating when root expires; {fix} (or pass --force to sign anyway)",
            root.version,
            root.expires
        );
    }
    Ok(())
}

/// Parses `xml` and checks it against `index`: every release it names is there, no early
/// device or group is named twice (under the matching rule), and no device is left with
/// nowhere to go.
pub(crate) fn check_policy_against(
    xml: &[u8],
    index: &updater::rollout::decide::Index,
) -> Result<updater::rollout::policy::Policy> {
    let policy = updater::rollout::policy::parse(xml)?;
    let mut missing = Vec::new();
    for channel in policy.channels.values() {
        let named = channel
            .target
            .iter()
            .map(|t| &t.release)
            .chain(channel.vias.iter().map(|v| &v.release))
            .chain(channel.revoked.iter());
        for release in named {
            if !index.has_release(release) {
                missing.push(format!("{release} (channel {:?})", channel.name));
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "policy names releases the index does not hold: {}: stage each with `repo add REPO \
             DIR --release VERSION --platform PLATFORM` first, or correct the policy",
            missing.join(", ")
        );
    }
    if !policy.early_repeats.is_empty() {
        let repeats: Vec<String> = policy.early_repeats.iter().map(|e| e.to_string()).collect();
        bail!("{}", repeats.join("; "));
    }
    let stranded = updater::rollout::stranded::stranded(&policy, index);
    if !stranded.is_empty() {
        let stranded: Vec<String> = stranded.iter().map(|s| s.to_string()).collect();
        bail!(
            "policy leaves devices with nowhere to go: {}",
            stranded.join("; ")
        );
    }
    Ok(policy)
}

pub(crate) fn check_signed<T: Role>(root: &Root, role: &str, bytes: &[u8]) -> Result<()> {
    let name = RoleName::new(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    let parsed = Unverified::<T>::parse(&name, bytes)?;
    let role_keys = root.roles.get(role).context("role missing from root")?;
    parsed.verify(&root.keys, role_keys)?;
    Ok(())
}
