//! What `public/` holds, as a publication sends it: one [`ServedFile`] per file on disk
//! (per inode), carrying every name it is served under (its hard links), in the
//! [`Phase`] that keeps readers from seeing a half-published repository.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

/// When a file becomes visible: each phase completes before the next starts, so a reader
/// that sees a name of a later phase finds every name an earlier phase sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    /// `targets/...`: artifacts, under every name the metadata can point to.
    Artifacts,
    /// `metadata/N.root.json`: a device walks roots before it reads the rest.
    Roots,
    /// Every other versioned metadata file (`N.targets.json`, `N.snapshot.json`, ...).
    Metadata,
    /// `metadata/timestamp.json`: the one name that makes the new publication visible.
    Timestamp,
}

impl Phase {
    /// Every phase, in the order they are published.
    pub(crate) const ALL: [Phase; 4] = [
        Phase::Artifacts,
        Phase::Roots,
        Phase::Metadata,
        Phase::Timestamp,
    ];

    /// The phase of `name` (relative to `public/`, `/`-separated).
    fn of(name: &str) -> Phase {
        let base = name.rsplit('/').next().unwrap_or(name);
        if name.starts_with("targets/") {
            Phase::Artifacts
        } else if base.ends_with(".root.json") {
            Phase::Roots
        } else if name == "metadata/timestamp.json" {
            Phase::Timestamp
        } else {
            Phase::Metadata
        }
    }
}

/// One file of `public/`, sent once whatever the number of its names.
#[derive(Debug)]
pub(crate) struct ServedFile {
    /// Where its bytes are read from.
    pub(crate) path: PathBuf,
    /// Every name it is served under, relative to `public/`, sorted.
    pub(crate) names: Vec<String>,
    pub(crate) size: u64,
    pub(crate) phase: Phase,
}

impl ServedFile {
    /// Whether its names carry what their bytes are: a hash (artifacts) or a version
    /// (`N.*.json`), so a name already published with the same size needs no upload.
    /// `timestamp.json` (and any other unversioned name) changes in place: always sent.
    pub(crate) fn fixed_content(&self) -> bool {
        self.names.iter().all(|name| {
            let base = name.rsplit('/').next().unwrap_or(name);
            name.starts_with("targets/")
                || base
                    .split_once('.')
                    .is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
    }
}

/// Every file under `public`, hard links grouped, sorted by phase then first name.
pub(crate) fn served_files(public: &Path) -> Result<Vec<ServedFile>> {
    let mut by_inode: BTreeMap<(u64, u64), ServedFile> = BTreeMap::new();
    for entry in walkdir::WalkDir::new(public).sort_by_file_name() {
        let entry = entry.with_context(|| format!("reading {}", public.display()))?;
        if !entry.file_type().is_file() {
            continue;
        }
        let meta = entry
            .metadata()
            .with_context(|| format!("reading {}", entry.path().display()))?;
        let relative = entry.path().strip_prefix(public)?;
        let name = relative
            .to_str()
            .with_context(|| format!("{} is not a UTF-8 name", entry.path().display()))?
            .to_owned();
        let phase = Phase::of(&name);
        let file = by_inode
            .entry((meta.dev(), meta.ino()))
            .or_insert_with(|| ServedFile {
                path: entry.path().to_owned(),
                names: Vec::new(),
                size: meta.len(),
                phase,
            });
        // Links of one inode in two phases would make one phase's bytes visible early:
        // the earliest phase wins.
        file.phase = file.phase.min(phase);
        file.names.push(name);
    }
    let mut files: Vec<ServedFile> = by_inode.into_values().collect();
    for file in &mut files {
        file.names.sort();
    }
    files.sort_by(|a, b| (a.phase, &a.names).cmp(&(b.phase, &b.names)));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_follow_the_visibility_order() {
        assert_eq!(Phase::of("targets/a/1.x.bin"), Phase::Artifacts);
        assert_eq!(Phase::of("metadata/3.root.json"), Phase::Roots);
        assert_eq!(Phase::of("metadata/2.snapshot.json"), Phase::Metadata);
        assert_eq!(Phase::of("metadata/timestamp.json"), Phase::Timestamp);
    }

    #[test]
    fn hard_links_are_one_file_and_only_versioned_names_are_fixed() {
        let dir = tempfile::tempdir().unwrap();
        let targets = dir.path().join("targets/r");
        let metadata = dir.path().join("metadata");
        std::fs::create_dir_all(&targets).unwrap();
        std::fs::create_dir_all(&metadata).unwrap();
        std::fs::write(targets.join("aa.app.bin"), b"app").unwrap();
        std::fs::hard_link(targets.join("aa.app.bin"), targets.join("bb.app.bin")).unwrap();
        std::fs::write(metadata.join("1.snapshot.json"), b"{}").unwrap();
        std::fs::write(metadata.join("timestamp.json"), b"{}").unwrap();
        let files = served_files(dir.path()).unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(
            files[0].names,
            ["targets/r/aa.app.bin", "targets/r/bb.app.bin"]
        );
        assert!(files[0].fixed_content());
        assert_eq!(files[1].names, ["metadata/1.snapshot.json"]);
        assert!(files[1].fixed_content());
        assert_eq!(files[2].phase, Phase::Timestamp);
        assert!(!files[2].fixed_content());
    }
}
