//! Releases staged since the last signing: `staged/releases/<R>.json`, each the complete
//! list of files the release's role will list (a published release that gains a platform
//! is staged whole). `repo add` writes one file per release it touches, so staging costs
//! what the release costs, never the history; `repo sign` publishes and removes them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use updater::conventions::Release;
use updater::metadata::TargetInfo;
use updater::names::TargetName;

use crate::workspace::Workspace;

/// The files of one release (or one role): target name -> length and hashes.
/// The most a staged release's file may weigh. It is the admin's own file, not a device's
/// input: the bound is against a mistake only, far above a release of a million files
/// (about 470 MB), which signing splits into hash bins a device can read.
const MAX_STAGED_RELEASE_BYTES: u64 = 2 << 30;

pub(crate) type TargetMap = BTreeMap<TargetName, TargetInfo>;

/// The staged releases of a repository.
pub(crate) struct StagedReleases<'a> {
    ws: &'a Workspace,
}

impl<'a> StagedReleases<'a> {
    pub(crate) fn new(ws: &'a Workspace) -> Self {
        StagedReleases { ws }
    }

    /// `staged/releases/`.
    pub(crate) fn dir(&self) -> PathBuf {
        self.ws.staged_dir().join("releases")
    }

    /// `staged/releases/<R>.json`.
    pub(crate) fn path(&self, release: &Release) -> PathBuf {
        self.dir().join(format!("{release}.json"))
    }

    /// The staged files of `release`, if it is staged.
    pub(crate) fn get(&self, release: &Release) -> Result<Option<TargetMap>> {
        let path = self.path(release);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = updater::fs::read_bounded(&path, MAX_STAGED_RELEASE_BYTES)?;
        let map = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not valid", path.display()))?;
        Ok(Some(map))
    }

    /// Every staged release, in release order.
    pub(crate) fn all(&self) -> Result<BTreeMap<Release, TargetMap>> {
        let dir = self.dir();
        let mut all = BTreeMap::new();
        if !dir.is_dir() {
            return Ok(all);
        }
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let name = entry?.file_name();
            let Some(label) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
                continue;
            };
            let release = Release::new(label)
                .with_context(|| format!("{} holds a file that is not a release", dir.display()))?;
            if let Some(map) = self.get(&release)? {
                all.insert(release, map);
            }
        }
        Ok(all)
    }

    /// The bytes `staged/releases/<R>.json` holds for `map`.
    pub(crate) fn bytes(map: &TargetMap) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(map)?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// Moves the release files a staged index of an older version of this tool lists at the
/// top level (`staged/targets.json`) into `staged/releases/`, so the next signing
/// publishes them as release roles: how an existing repository becomes a catalogue. One
/// publication: the staged index and the release files change together. Returns how many
/// releases moved.
pub(crate) fn migrate_staged(ws: &Workspace) -> Result<usize> {
    let mut top = ws.staged_targets()?;
    let mut moved: BTreeMap<Release, TargetMap> = BTreeMap::new();
    let releases = format!("{}/", updater::conventions::RELEASES);
    let names: Vec<TargetName> = top
        .targets
        .keys()
        .filter(|n| n.as_str().starts_with(&releases))
        .cloned()
        .collect();
    if names.is_empty() {
        return Ok(0);
    }
    for name in names {
        let Some(info) = top.targets.remove(&name) else {
            continue;
        };
        let label = name.as_str()[releases.len()..]
            .split('/')
            .next()
            .unwrap_or_default();
        let release = Release::new(label).with_context(|| format!("target {name}"))?;
        moved.entry(release).or_default().insert(name, info);
    }
    let staged = StagedReleases::new(ws);
    let mut publication = crate::publication::Publication::new();
    let count = moved.len();
    for (release, mut map) in moved {
        if let Some(already) = staged.get(&release)? {
            map.extend(already);
        }
        publication.replace(staged.path(&release), StagedReleases::bytes(&map)?);
    }
    publication.replace(ws.staged_targets_file(), ws.staged_targets_bytes(&top)?);
    publication.commit()?;
    Ok(count)
}
