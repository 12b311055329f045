//! The next arrangement of the catalogue: given what is published, the staged releases and
//! the releases to retire, which roles to sign (with their bodies), which delegations the
//! top-level targets then holds, and which roles leave the catalogue.
//!
//! Only what changes is read or signed: a staged release's slot; when the live releases
//! exceed `live_releases`, the oldest of them fold into the newest volume (a new one once
//! it would pass `volume_bytes`), which re-signs that volume and the history; a retired
//! release leaves its slot, or its volume, which is re-signed without it.
//!
//! No role ever leaves the catalogue: a TUF client refuses a snapshot that stops listing a
//! role its trusted snapshot lists (specification 5.5.5), so a slot whose release left is
//! given the next new release, or re-signed empty and no longer delegated, and an emptied
//! volume is re-signed empty. That is also why releases take slots, not roles named after
//! them: the snapshot then lists `live_releases` slots and the volumes, never the history.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{bail, Result};
use updater::conventions::Release;
use updater::key::{KeyId, PublicKey};
use updater::metadata::{DelegatedRole, Delegations, RoleKeys};
use updater::names::RoleName;

use super::names::release_of_pattern;
use super::names::HISTORY_ROLE;
use super::names::{depths_of, history_patterns, release_patterns, release_patterns_at};
use super::names::{slot_number, slot_role, volume_number, volume_role};
use super::record::Published;
use super::staged::TargetMap;
use crate::workspace::CatalogueSettings;
use crate::workspace::Workspace;

/// The keys that sign every catalogue role: root's targets keys.
pub(crate) struct Signers<'a> {
    pub(crate) keys: &'a BTreeMap<KeyId, PublicKey>,
    pub(crate) role: &'a RoleKeys,
}

/// A role to sign now: its name and body.
pub(crate) struct RoleBody {
    pub(crate) name: String,
    pub(crate) targets: TargetMap,
    pub(crate) delegations: Option<Delegations>,
}

/// What the next signing does to the catalogue.
pub(crate) struct Arrangement {
    /// Roles to sign, in the order they are published: releases, volumes, history.
    pub(crate) roles: Vec<RoleBody>,
    /// The top-level targets' delegations after the policy: live releases, history.
    pub(crate) delegations: Delegations,
    /// Staged releases this signing publishes (their files move to `public/`).
    pub(crate) staged: Vec<(Release, TargetMap)>,
    /// The files of the releases retired now (served until `repo prune`).
    pub(crate) retired: TargetMap,
}

/// A live release: its published delegation kept, or staged now (in the slot it has, if
/// it is already live).
enum Live<'p> {
    Kept(&'p DelegatedRole),
    Staged(Option<String>, TargetMap),
}

impl Live<'_> {
    /// The slot the release holds now, if any.
    fn slot(&self) -> Option<&str> {
        match self {
            Live::Kept(d) => Some(d.name.as_str()),
            Live::Staged(slot, _) => slot.as_deref(),
        }
    }
}

/// A volume: its releases' patterns, its body once read, its size.
struct Volume<'p> {
    name: String,
    releases: BTreeMap<Release, Vec<String>>,
    body: Option<TargetMap>,
    bytes: u64,
    kept: Option<&'p DelegatedRole>,
}

impl Volume<'_> {
    fn body(&mut self, ws: &Workspace, published: &Published) -> Result<&mut TargetMap> {
        if self.body.is_none() {
            self.body = Some(published.files(ws, &self.name)?);
        }
        self.kept = None;
        Ok(self.body.get_or_insert_with(TargetMap::new))
    }
}

/// The next arrangement (see the module).
pub(crate) fn arrange(
    ws: &Workspace,
    published: &Published,
    staged: BTreeMap<Release, TargetMap>,
    retire: &BTreeSet<Release>,
    settings: &CatalogueSettings,
    signers: &Signers<'_>,
) -> Result<Arrangement> {
    let mut live: BTreeMap<Release, Live<'_>> =
        published.live().map(|(r, d)| (r, Live::Kept(d))).collect();
    let mut volumes: Vec<Volume<'_>> = published
        .volumes()
        .map(|d| Volume {
            name: d.name.as_str().to_owned(),
            releases: patterns_by_release(d),
            body: None,
            // A volume split into bins is full: it passed the budget.
            bytes: if published.record.bins.contains_key(d.name.as_str()) {
                u64::MAX
            } else {
                published
                    .record
                    .roles
                    .get(d.name.as_str())
                    .and_then(|m| m.length)
                    .unwrap_or(0)
            },
            kept: Some(d),
        })
        .collect();
    let staged_releases: Vec<(Release, TargetMap)> =
        staged.iter().map(|(r, m)| (r.clone(), m.clone())).collect();
    for (release, map) in staged {
        if let Some(v) = volumes.iter().find(|v| v.releases.contains_key(&release)) {
            bail!(
                "release {release} is in the history ({}): releases there never change; add these files under a new release",
                v.name
            );
        }
        let slot = live.get(&release).and_then(Live::slot).map(str::to_owned);
        live.insert(release, Live::Staged(slot, map));
    }
    let mut retired = TargetMap::new();
    for release in retire {
        retired.extend(retire_one(ws, published, release, &mut live, &mut volumes)?);
    }
    let excess = live.len().saturating_sub(settings.live_releases);
    let folding: Vec<Release> = live.keys().take(excess).cloned().collect();
    for release in folding {
        let map = match live.remove(&release) {
            Some(Live::Staged(_, map)) => map,
            Some(Live::Kept(d)) => published.files(ws, d.name.as_str())?,
            None => continue,
        };
        fold(ws, published, release, map, &mut volumes, settings)?;
    }
    let mut arrangement = finish(published, live, volumes, staged_releases, signers)?;
    arrangement.retired = retired;
    Ok(arrangement)
}

/// Removes `release` from the live releases or from its volume: the release's files.
fn retire_one<'p>(
    ws: &Workspace,
    published: &Published,
    release: &Release,
    live: &mut BTreeMap<Release, Live<'p>>,
    volumes: &mut [Volume<'p>],
) -> Result<TargetMap> {
    match live.remove(release) {
        Some(Live::Kept(d)) => Ok(published.files(ws, d.name.as_str())?),
        Some(Live::Staged(..)) => bail!(
            "release {release} is staged but not signed: there is nothing published to retire"
        ),
        None => {
            let Some(volume) = volumes
                .iter_mut()
                .find(|v| v.releases.contains_key(release))
            else {
                bail!("the catalogue holds no release {release}");
            };
            let folder = format!("{}/", updater::conventions::release_folder(release));
            let body = volume.body(ws, published)?;
            let (files, kept): (TargetMap, TargetMap) = std::mem::take(body)
                .into_iter()
                .partition(|(name, _)| name.as_str().starts_with(&folder));
            *body = kept;
            volume.releases.remove(release);
            Ok(files)
        }
    }
}

/// Adds `release` to the newest volume, or to a new one when it would pass the budget.
fn fold(
    ws: &Workspace,
    published: &Published,
    release: Release,
    map: TargetMap,
    volumes: &mut Vec<Volume<'_>>,
    settings: &CatalogueSettings,
) -> Result<()> {
    let size = super::split::size_of(&map)?;
    let fits = volumes
        .last()
        .is_some_and(|v| v.bytes.saturating_add(size) <= settings.volume_bytes);
    if !fits {
        let next = volumes
            .last()
            .and_then(|v| volume_number(&v.name))
            .map_or(1, |n| n + 1);
        volumes.push(Volume {
            name: volume_role(next),
            releases: BTreeMap::new(),
            body: Some(TargetMap::new()),
            bytes: super::split::ENVELOPE_BYTES,
            kept: None,
        });
    }
    let Some(volume) = volumes.last_mut() else {
        bail!("no volume to fold {release} into");
    };
    let patterns = release_patterns(&release, map.keys());
    volume.body(ws, published)?.extend(map);
    volume.releases.insert(release, patterns);
    volume.bytes = volume.bytes.saturating_add(size);
    Ok(())
}

/// The roles to sign and the delegations that name them. A live release's delegation
/// reaches its folder at its own depths and at every depth the history reaches, so that
/// it answers for every name there the history could: a device listing a live release
/// then never fetches the history (`tuf_core::delegation::list_under`).
fn finish(
    published: &Published,
    live: BTreeMap<Release, Live<'_>>,
    volumes: Vec<Volume<'_>>,
    staged: Vec<(Release, TargetMap)>,
    signers: &Signers<'_>,
) -> Result<Arrangement> {
    let mut roles = Vec::new();
    let (history, history_patterns, history_changed) =
        volumes_part(published, volumes, &mut roles, signers)?;
    let history_depths = depths_of(&history_patterns);
    let top_keys = published.top.as_ref().and_then(|t| t.delegations.as_ref());
    let (mut top, free) = live_part(published, live, &history_depths, &mut roles, signers)?;
    // A slot left free stays listed (see the module), re-signed empty if it held a release.
    for slot in free {
        let was_delegated =
            top_keys.is_some_and(|d| d.roles.iter().any(|r| r.name.as_str() == slot));
        if was_delegated {
            roles.push(RoleBody {
                name: slot,
                targets: TargetMap::new(),
                delegations: None,
            });
        }
    }
    if !history.roles.is_empty() {
        let kept = top_keys.and_then(|d| d.roles.iter().find(|r| r.name.as_str() == HISTORY_ROLE));
        match kept {
            Some(d) if !history_changed && d.paths.as_ref() == Some(&history_patterns) => {
                add_kept(&mut top, d, top_keys)
            }
            _ => add_new(&mut top, HISTORY_ROLE, history_patterns, signers)?,
        }
    }
    if history_changed {
        roles.push(RoleBody {
            name: HISTORY_ROLE.to_owned(),
            targets: TargetMap::new(),
            delegations: Some(history),
        });
    }
    Ok(Arrangement {
        roles,
        delegations: top,
        staged,
        retired: TargetMap::new(),
    })
}

/// The live releases' delegations, each in its slot (a staged release keeps its slot, or
/// takes one left free, or a new one); staged ones go into `roles` to sign. Returns the
/// delegations and the slots left free.
fn live_part(
    published: &Published,
    live: BTreeMap<Release, Live<'_>>,
    history_depths: &BTreeSet<usize>,
    roles: &mut Vec<RoleBody>,
    signers: &Signers<'_>,
) -> Result<(Delegations, Vec<String>)> {
    let top_keys = published.top.as_ref().and_then(|t| t.delegations.as_ref());
    // Slots whose release left (folded, retired) go to new releases first.
    let taken: BTreeSet<&str> = live.values().filter_map(Live::slot).collect();
    let mut free: Vec<String> = published
        .slots()
        .filter(|s| !taken.contains(s.as_str()))
        .cloned()
        .collect();
    free.reverse();
    let mut next = published
        .slots()
        .filter_map(|s| slot_number(s))
        .max()
        .map_or(1, |n| n + 1);
    let mut top = no_delegations();
    for (release, entry) in live.into_iter().rev() {
        let (slot, own_depths, body) = match entry {
            Live::Kept(d) => (
                d.name.as_str().to_owned(),
                depths_of(d.paths.iter().flatten()),
                None,
            ),
            Live::Staged(slot, map) => {
                let slot = slot.or_else(|| free.pop()).unwrap_or_else(|| {
                    next += 1;
                    slot_role(next - 1)
                });
                (
                    slot,
                    depths_of(&release_patterns(&release, map.keys())),
                    Some(map),
                )
            }
        };
        let mut depths = own_depths;
        depths.extend(history_depths);
        let patterns = release_patterns_at(&release, &depths);
        match body {
            None => {
                let mut entry = published
                    .live()
                    .find(|(r, _)| r == &release)
                    .map(|(_, d)| d.clone())
                    .ok_or_else(|| anyhow::anyhow!("release {release} lost its slot"))?;
                entry.paths = Some(patterns);
                add_kept(&mut top, &entry, top_keys);
            }
            Some(map) => {
                add_new(&mut top, &slot, patterns, signers)?;
                roles.push(RoleBody {
                    name: slot,
                    targets: map,
                    delegations: None,
                });
            }
        }
    }
    Ok((top, free))
}

/// The volumes: those changed go into `roles` to sign (an emptied one re-signed empty and
/// no longer delegated). Returns the history's delegations, the patterns it reaches, and
/// whether it changed.
fn volumes_part(
    published: &Published,
    volumes: Vec<Volume<'_>>,
    roles: &mut Vec<RoleBody>,
    signers: &Signers<'_>,
) -> Result<(Delegations, Vec<String>, bool)> {
    let history_keys = published
        .history
        .as_ref()
        .and_then(|t| t.delegations.as_ref());
    let changed =
        volumes.iter().any(|v| v.kept.is_none()) || published.volumes().count() != volumes.len();
    let mut history = no_delegations();
    let mut all_patterns = Vec::new();
    for volume in volumes {
        if volume.releases.is_empty() {
            roles.push(RoleBody {
                name: volume.name,
                targets: TargetMap::new(),
                delegations: None,
            });
            continue;
        }
        let patterns: Vec<String> = volume.releases.values().flatten().cloned().collect();
        all_patterns.extend(patterns.iter().cloned());
        match (volume.kept, volume.body) {
            (Some(d), _) => add_kept(&mut history, d, history_keys),
            (None, body) => {
                add_new(&mut history, &volume.name, patterns, signers)?;
                roles.push(RoleBody {
                    name: volume.name,
                    targets: body.unwrap_or_default(),
                    delegations: None,
                });
            }
        }
    }
    Ok((history, history_patterns(&all_patterns), changed))
}

/// The patterns of a volume's delegation, by the release each reaches.
fn patterns_by_release(volume: &DelegatedRole) -> BTreeMap<Release, Vec<String>> {
    let mut by = BTreeMap::<Release, Vec<String>>::new();
    for pattern in volume.paths.iter().flatten() {
        if let Some(release) = release_of_pattern(pattern) {
            by.entry(release).or_default().push(pattern.clone());
        }
    }
    by
}

/// Delegations to no role yet.
fn no_delegations() -> Delegations {
    Delegations {
        keys: BTreeMap::new(),
        roles: Vec::new(),
        succinct_roles: None,
    }
}

/// Adds a published delegation unchanged, with the keys it names.
fn add_kept(to: &mut Delegations, role: &DelegatedRole, from: Option<&Delegations>) {
    if let Some(from) = from {
        for id in &role.keyids {
            if let Some(key) = from.keys.get(id) {
                to.keys.insert(id.clone(), key.clone());
            }
        }
    }
    to.roles.push(role.clone());
}

/// Adds a delegation to `name`, signed now by the signers, reaching `patterns`.
fn add_new(
    to: &mut Delegations,
    name: &str,
    patterns: Vec<String>,
    signers: &Signers<'_>,
) -> Result<()> {
    for id in &signers.role.keyids {
        if let Some(key) = signers.keys.get(id) {
            to.keys.insert(id.clone(), key.clone());
        }
    }
    to.roles.push(DelegatedRole {
        name: RoleName::new(name).map_err(|e| anyhow::anyhow!("role {name}: {e}"))?,
        keyids: signers.role.keyids.clone(),
        threshold: signers.role.threshold,
        terminating: true,
        paths: Some(patterns),
        path_hash_prefixes: None,
    });
    Ok(())
}
