//! What a repository holds that devices do not see yet: a staged root still gathering
//! signatures, staged changes to the index or the policy, a role waiting for more
//! signatures, or a role published but not yet in the snapshot. `repo sign` reports it and
//! exits with its own code, so a script never takes a partial publish for a finished one.

use anyhow::{Context, Result};
use updater::limits::{MAX_SNAPSHOT_BYTES, MAX_TIMESTAMP_BYTES};
use updater::metadata::{Snapshot, Timestamp};
use updater::names::RoleName;
use updater::verify::Unverified;

use crate::published::latest_version;
use crate::sign::pending_path;
use crate::workspace::Workspace;
use updater::conventions::POLICY_ROLE;

/// Each piece of unfinished work, in words with the step that finishes it; empty when
/// devices see everything staged.
pub fn unfinished(ws: &Workspace) -> Result<Vec<String>> {
    let mut left = Vec::new();
    let repo = ws.root().display();
    if let Some(progress) = crate::rotate::progress(ws)? {
        let (by_current, by_new) = progress.missing();
        let needs = if progress.current_threshold == 0 {
            format!("{by_new} more signature(s) by its root keys")
        } else {
            format!(
                "{by_current} more signature(s) by the current root keys and {by_new} by its own"
            )
        };
        left.push(format!(
            "root version {} is staged and needs {needs}: `repo sign {repo} --key ROOT_KEY` (here or on a copy, then `repo merge`)",
            progress.version
        ));
    }
    if ws.published_root()?.is_none() {
        return Ok(left);
    }
    for role in pending_roles(ws)? {
        let role = role.as_str();
        if pending_path(ws, role).exists() {
            left.push(format!(
                "{role} is signed by fewer keys than its threshold: `repo sign {repo} --key {}_KEY` with more of its keys (here or on a copy, then `repo merge`)",
                role.to_uppercase()
            ));
        }
    }
    let status = crate::status::status(ws)?;
    // A role still gathering signatures already said what it needs.
    if status.staged_changes > 0 && !pending_path(ws, "targets").exists() {
        left.push(format!(
            "{} staged change(s) to the index are not signed: `repo sign {repo}` with the targets key(s)",
            status.staged_changes
        ));
    }
    if status.policy_staged && !pending_path(ws, POLICY_ROLE).exists() {
        // The first policy also publishes targets' delegation to the policy role.
        let keys = if latest_version(ws, POLICY_ROLE)?.is_none() {
            "the targets, policy, snapshot and timestamp keys (the first policy also publishes targets' delegation to it)"
        } else {
            "the policy, snapshot and timestamp keys"
        };
        left.push(format!(
            "the staged policy.xml is not signed: `repo sign {repo}` with {keys}"
        ));
    }
    let in_snapshot = snapshot_versions(ws)?;
    for role in ["targets", POLICY_ROLE] {
        let newest = latest_version(ws, role)?;
        let listed = in_snapshot
            .as_ref()
            .and_then(|s| s.meta.get(&format!("{role}.json")))
            .map(|m| m.version);
        if newest.is_some() && newest != listed {
            left.push(format!(
                "{role} version {} is published but not in a snapshot: devices do not see it until `repo sign {repo}` with the snapshot and timestamp keys",
                newest.map_or(0, |v| v.get())
            ));
        }
    }
    Ok(left)
}

/// The snapshot the published timestamp names, if any.
fn snapshot_versions(ws: &Workspace) -> Result<Option<Snapshot>> {
    let dir = ws.metadata_dir();
    let path = dir.join("timestamp.json");
    if !path.exists() {
        return Ok(None);
    }
    let bytes = updater::fs::read_bounded(&path, MAX_TIMESTAMP_BYTES)?;
    let timestamp = Unverified::<Timestamp>::parse(&RoleName::timestamp(), &bytes)?;
    let Some(meta) = timestamp.untrusted().snapshot_meta() else {
        return Ok(None);
    };
    let path = dir.join(format!("{}.snapshot.json", meta.version));
    let bytes = updater::fs::read_bounded(&path, MAX_SNAPSHOT_BYTES)
        .with_context(|| format!("reading {}", path.display()))?;
    let snapshot = Unverified::<Snapshot>::parse(&RoleName::snapshot(), &bytes)?;
    Ok(Some(snapshot.untrusted().clone()))
}

/// Roles with a version waiting for more signatures (`staged/ROLE.signed.json`): targets,
/// the policy, then the catalogue's, by name.
fn pending_roles(ws: &Workspace) -> Result<Vec<String>> {
    let mut roles = vec!["targets".to_owned(), POLICY_ROLE.to_owned()];
    let mut more = Vec::new();
    for entry in std::fs::read_dir(ws.staged_dir())? {
        let name = entry?.file_name();
        if let Some(role) = name.to_str().and_then(|n| n.strip_suffix(".signed.json")) {
            if !roles.iter().any(|r| r == role) {
                more.push(role.to_owned());
            }
        }
    }
    more.sort();
    roles.extend(more);
    Ok(roles)
}
