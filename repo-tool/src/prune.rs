//! `repo prune`: ends the grace period of what devices no longer need. Removes the
//! versioned metadata of each role but its newest `keep` versions (the versions the current
//! snapshot and timestamp name are always kept; every `N.root.json` stays, since a device
//! that has been offline walks the whole root chain), every version of roles the current
//! snapshot no longer lists, and the files of releases `repo retire` took out (listed in
//! `retired.json`). A prune that stops midway leaves a repository devices accept: only
//! files nothing current points to are removed.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use updater::metadata::{Snapshot, Version};
use updater::names::RoleName;
use updater::verify::Unverified;

use crate::published::read_timestamp;
use crate::sign::{read_retired, retired_path};
use crate::workspace::Workspace;

/// What a prune removed.
#[derive(Debug, Default, serde::Serialize)]
pub struct Pruned {
    pub metadata_files: usize,
    pub artifact_files: usize,
    pub bytes: u64,
}

/// Prunes `ws`, keeping the newest `keep` versions of each role (at least 1).
pub fn prune(ws: &Workspace, keep: usize) -> Result<Pruned> {
    ws.check_exists()?;
    let keep = keep.max(1);
    let dir = ws.metadata_dir();
    let (current_snapshot, listed) = current(ws)?;
    let mut versions: BTreeMap<String, Vec<(Version, std::path::PathBuf)>> = BTreeMap::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        let Some((n, stem)) = name
            .to_str()
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|n| n.split_once('.'))
        else {
            continue;
        };
        let (Some(version), false) = (n.parse().ok().and_then(Version::new), stem == "root") else {
            continue;
        };
        versions
            .entry(stem.to_owned())
            .or_default()
            .push((version, entry.path()));
    }
    let mut pruned = Pruned::default();
    for (stem, mut files) in versions {
        files.sort_by_key(|f| std::cmp::Reverse(f.0));
        let pinned = if stem == "snapshot" {
            current_snapshot
        } else {
            listed.get(&stem).copied()
        };
        // A role the current snapshot does not list is no longer delegated: all goes.
        let keep_here = if pinned.is_some() { keep } else { 0 };
        for (i, (version, path)) in files.iter().enumerate() {
            if i < keep_here || Some(*version) == pinned {
                continue;
            }
            remove(path, &mut pruned.bytes)?;
            pruned.metadata_files += 1;
        }
    }
    let retired = read_retired(ws)?;
    let mut gone = BTreeSet::new();
    for (name, info) in &retired {
        for path in Workspace::served_paths(&ws.artifacts_dir(), name, &info.hashes) {
            if gone.insert(path.clone()) && path.exists() {
                remove(&path, &mut pruned.bytes)?;
                pruned.artifact_files += 1;
            }
        }
    }
    if !retired.is_empty() {
        let path = retired_path(ws);
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
    }
    Ok(pruned)
}

/// The snapshot version the timestamp names and each role's version (by file stem) that
/// snapshot lists.
fn current(ws: &Workspace) -> Result<(Option<Version>, BTreeMap<String, Version>)> {
    let Some(timestamp) = read_timestamp(ws)? else {
        return Ok((None, BTreeMap::new()));
    };
    let Some(meta) = timestamp.snapshot_meta() else {
        return Ok((None, BTreeMap::new()));
    };
    let path = ws
        .metadata_dir()
        .join(format!("{}.snapshot.json", meta.version));
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_SNAPSHOT_BYTES)?;
    let snapshot = Unverified::<Snapshot>::parse(&RoleName::snapshot(), &bytes)?;
    let mut listed = BTreeMap::new();
    for (file, m) in &snapshot.untrusted().meta {
        let Some(role) = file.strip_suffix(".json") else {
            continue;
        };
        let stem = RoleName::new(role)
            .map_err(|e| anyhow::anyhow!("{file}: {e}"))?
            .file_stem();
        listed.insert(stem, m.version);
    }
    Ok((Some(meta.version), listed))
}

fn remove(path: &std::path::Path, bytes: &mut u64) -> Result<()> {
    let size = std::fs::symlink_metadata(path)
        .map(|m| m.len())
        .unwrap_or(0);
    std::fs::remove_file(path).with_context(|| format!("removing {}", path.display()))?;
    *bytes += size;
    Ok(())
}
