//! What the catalogue has published: `catalogue.json` (each catalogue role's version,
//! length and hashes, as the next snapshot lists it), the newest top-level targets and the
//! history role. Read at the start of a signing; nothing here reads the history's files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{anyhow, Context, Result};
use serde::{Deserialize, Serialize};
use updater::conventions::Release;
use updater::metadata::{DelegatedRole, MetaFile, Targets, Version};
use updater::names::RoleName;
use updater::verify::Unverified;

use super::names::{release_of_pattern, slot_number, HISTORY_ROLE};
use crate::published::{latest_version, meta_for, published_targets};
use crate::workspace::Workspace;

/// `catalogue.json`: every catalogue role now published, as the snapshot lists it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Record {
    pub(crate) roles: BTreeMap<String, MetaFile>,
    /// Every published release and its platforms: what a policy is checked against.
    #[serde(default)]
    pub(crate) releases: BTreeMap<Release, BTreeSet<String>>,
    /// The roles split into hash bins, and the bins each delegates to now (see `split`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub(crate) bins: BTreeMap<String, Vec<String>>,
}

impl Record {
    /// `REPO/catalogue.json`.
    pub(crate) fn path(ws: &Workspace) -> PathBuf {
        ws.root().join("catalogue.json")
    }

    /// The bytes of `catalogue.json`.
    pub(crate) fn bytes(&self) -> Result<Vec<u8>> {
        let mut bytes = serde_json::to_vec_pretty(self)?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Notes the releases and platforms of `targets`.
    pub(crate) fn add_releases(&mut self, targets: &super::TargetMap) {
        for name in targets.keys() {
            let mut parts = name.as_str().split('/');
            let (Some(updater::conventions::RELEASES), Some(release), Some(platform)) =
                (parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            if let Ok(release) = Release::new(release) {
                self.releases
                    .entry(release)
                    .or_default()
                    .insert(platform.to_owned());
            }
        }
    }

    fn read(ws: &Workspace) -> Result<Option<Record>> {
        let path = Self::path(ws);
        if !path.exists() {
            return Ok(None);
        }
        let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_SNAPSHOT_BYTES)?;
        let record = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not valid", path.display()))?;
        Ok(Some(record))
    }
}

/// Where a release is published.
pub(crate) enum Place<'a> {
    /// In a role of its own.
    Live(&'a DelegatedRole),
    /// Folded into a volume.
    Volume(&'a DelegatedRole),
}

/// The catalogue as published.
pub(crate) struct Published {
    pub(crate) record: Record,
    /// The newest top-level targets on disk.
    pub(crate) top: Option<Targets>,
    /// The history role, once there is one.
    pub(crate) history: Option<Targets>,
}

impl Published {
    /// Reads the record (rebuilt from the published roles if it is missing), the newest
    /// top-level targets and the history.
    pub(crate) fn load(ws: &Workspace) -> Result<Self> {
        let top = published_targets(ws)?;
        let record = match Record::read(ws)? {
            Some(record) => record,
            None => rebuild(ws, top.as_ref())?,
        };
        let mut published = Published {
            record,
            top,
            history: None,
        };
        if published.record.roles.contains_key(HISTORY_ROLE) {
            published.history = Some(published.role(ws, HISTORY_ROLE)?);
        }
        Ok(published)
    }

    /// The published body of catalogue role `role` (parsed, not trusted: what is signed
    /// from it is checked again).
    pub(crate) fn role(&self, ws: &Workspace, role: &str) -> Result<Targets> {
        let meta = self
            .record
            .roles
            .get(role)
            .ok_or_else(|| anyhow!("catalogue.json lists no role {role}"))?;
        read_role(ws, role, meta.version)
    }

    /// The files role `role` lists, itself or through its hash bins.
    pub(crate) fn files(&self, ws: &Workspace, role: &str) -> Result<super::TargetMap> {
        let mut files = self.role(ws, role)?.targets;
        for bin in self.record.bins.get(role).into_iter().flatten() {
            files.extend(self.role(ws, bin)?.targets);
        }
        Ok(files)
    }

    /// The live releases and the slots holding them, as the top-level targets delegates
    /// them (the release is the one its paths reach).
    pub(crate) fn live(&self) -> impl Iterator<Item = (Release, &DelegatedRole)> {
        delegated(self.top.as_ref())
            .filter(|d| slot_number(d.name.as_str()).is_some())
            .filter_map(|d| releases_of(d).next().map(|r| (r, d)))
    }

    /// Every slot ever published (delegated now or not).
    pub(crate) fn slots(&self) -> impl Iterator<Item = &String> {
        self.record
            .roles
            .keys()
            .filter(|n| slot_number(n).is_some())
    }

    /// The volumes, as the history delegates them, oldest first.
    pub(crate) fn volumes(&self) -> impl Iterator<Item = &DelegatedRole> {
        delegated(self.history.as_ref())
    }

    /// Where `release` is published, if it is.
    pub(crate) fn place(&self, release: &Release) -> Option<Place<'_>> {
        if let Some((_, role)) = self.live().find(|(r, _)| r == release) {
            return Some(Place::Live(role));
        }
        self.volumes()
            .find(|v| releases_of(v).any(|r| &r == release))
            .map(Place::Volume)
    }
}

/// The roles `targets` delegates to.
fn delegated(targets: Option<&Targets>) -> impl Iterator<Item = &DelegatedRole> {
    targets
        .and_then(|t| t.delegations.as_ref())
        .map(|d| d.roles.as_slice())
        .unwrap_or_default()
        .iter()
}

/// The releases a volume's delegation reaches.
pub(crate) fn releases_of(volume: &DelegatedRole) -> impl Iterator<Item = Release> + '_ {
    volume
        .paths
        .iter()
        .flatten()
        .filter_map(|p| release_of_pattern(p))
}

/// The published `V.<role>.json` of a catalogue role, parsed.
pub(crate) fn read_role(ws: &Workspace, role: &str, version: Version) -> Result<Targets> {
    let name = RoleName::new(role).map_err(|e| anyhow!("{e}"))?;
    let path = ws
        .metadata_dir()
        .join(format!("{version}.{}.json", name.file_stem()));
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TARGETS_BYTES)?;
    let parsed = Unverified::<Targets>::parse(&name, &bytes)
        .with_context(|| format!("{} is not a targets role", path.display()))?;
    Ok(parsed.untrusted().clone())
}

/// The record of a repository whose `catalogue.json` is missing, from the newest version
/// on disk of every role the top-level targets and the history delegate to (slow: it reads
/// the whole history, once).
fn rebuild(ws: &Workspace, top: Option<&Targets>) -> Result<Record> {
    let mut record = Record::default();
    let mut queue: Vec<String> = delegated(top)
        .map(|d| d.name.as_str().to_owned())
        .filter(|n| n != updater::conventions::POLICY_ROLE)
        .collect();
    while let Some(role) = queue.pop() {
        let name = RoleName::new(role.as_str()).map_err(|e| anyhow!("{e}"))?;
        let Some(version) = latest_version(ws, &name.file_stem())? else {
            continue;
        };
        let path = ws
            .metadata_dir()
            .join(format!("{version}.{}.json", name.file_stem()));
        let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TARGETS_BYTES)?;
        let body = read_role(ws, &role, version)?;
        let children: Vec<String> = delegated(Some(&body))
            .map(|d| d.name.as_str().to_owned())
            .collect();
        if role != HISTORY_ROLE && !children.is_empty() {
            record.bins.insert(role.clone(), children.clone());
        }
        queue.extend(children);
        record.add_releases(&body.targets);
        record.roles.insert(role, meta_for(&bytes, version)?);
    }
    Ok(record)
}

impl Record {
    /// The releases and platforms recorded, with those `more` lists: what a policy is
    /// checked against.
    pub(crate) fn index<'a>(
        &self,
        more: impl IntoIterator<Item = &'a super::TargetMap>,
    ) -> updater::rollout::decide::Index {
        let mut all = self.clone();
        for map in more {
            all.add_releases(map);
        }
        updater::rollout::decide::Index::from_platforms(
            all.releases
                .into_iter()
                .map(|(r, platforms)| (r, platforms.into_iter().collect())),
        )
    }
}
