//! `repo merge`: the signatures gathered on another copy of the repository folder join
//! this one's pending versions (a staged root, targets, policy), each only if both copies
//! sign the same bytes.

use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use updater::canonical::to_canonical_bytes;
use updater::conventions::POLICY_ROLE;
use updater::metadata::Envelope;

use super::gather::pending_path;
use crate::workspace::{ExportedVersions, Workspace};

/// Merges the pending signatures of another copy (a repository folder) into this one:
/// a staged root, targets and policy, each only if both sides sign the same bytes.
pub fn merge(ws: &Workspace, other: &Path) -> Result<usize> {
    let mut added = 0;
    // Versions an archive made from the copy used: the next online ones must go past them.
    if other.is_dir() {
        let theirs = Workspace::new(other).exported_versions()?;
        let ours = ws.exported_versions()?;
        let both = ExportedVersions {
            snapshot: ours.snapshot.max(theirs.snapshot),
            timestamp: ours.timestamp.max(theirs.timestamp),
        };
        if both != ours {
            ws.write_exported_versions(Some(both))?;
        }
    }
    if other.is_dir() && crate::rotate::staged_root(ws)?.is_some() {
        added += crate::rotate::merge(ws, other)?;
    }
    for role in pending_roles(ws, other)? {
        let role = role.as_str();
        let ours = pending_path(ws, role);
        let read = |p: &Path| -> Result<Envelope<Value>> {
            let bytes = updater::fs::read_bounded(p, updater::limits::MAX_TARGETS_BYTES)?;
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a signed file", p.display()))
        };
        // Their signatures: still pending there, or already published there (their last
        // signature completed it) under the version pending here.
        let mut theirs = other.join("staged").join(format!("{role}.signed.json"));
        if !theirs.exists() && ours.exists() {
            let version = read(&ours)?.signed.get("version").and_then(Value::as_u64);
            if let Some(v) = version {
                let stem = updater::names::RoleName::new(role)
                    .map_err(|e| anyhow::anyhow!("role {role}: {e}"))?
                    .file_stem();
                theirs = other
                    .join("public/metadata")
                    .join(format!("{v}.{stem}.json"));
            }
        }
        if !theirs.exists() {
            continue;
        }
        let theirs = read(&theirs)?;
        if !ours.exists() {
            let bytes = serde_json::to_vec_pretty(&theirs)?;
            updater::fs::write_atomic(&ours, &bytes)?;
            added += theirs.signatures.len();
            continue;
        }
        let mut mine = read(&ours)?;
        if to_canonical_bytes(&mine.signed)? != to_canonical_bytes(&theirs.signed)? {
            bail!("the copies stage different {role} versions: sign the same one");
        }
        for signature in theirs.signatures {
            if !mine.signatures.iter().any(|s| s.keyid == signature.keyid) {
                mine.signatures.push(signature);
                added += 1;
            }
        }
        updater::fs::write_atomic(&ours, &serde_json::to_vec_pretty(&mine)?)?;
    }
    Ok(added)
}

/// Every role with a version pending here or on the other copy (`staged/ROLE.signed.json`):
/// targets, policy and the catalogue's roles.
fn pending_roles(ws: &Workspace, other: &Path) -> Result<std::collections::BTreeSet<String>> {
    let mut roles =
        std::collections::BTreeSet::from(["targets".to_owned(), POLICY_ROLE.to_owned()]);
    for dir in [ws.staged_dir(), other.join("staged")] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let name = entry?.file_name();
            if let Some(role) = name.to_str().and_then(|n| n.strip_suffix(".signed.json")) {
                roles.insert(role.to_owned());
            }
        }
    }
    Ok(roles)
}
