//! `repo status`: per role, its version, expiry, and signatures present and missing.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use updater::datetime::UtcTime;
use updater::key::{KeyId, PublicKey};
use updater::limits::{MAX_ROOT_BYTES, MAX_SNAPSHOT_BYTES, MAX_TARGETS_BYTES, MAX_TIMESTAMP_BYTES};
use updater::metadata::{Role, RoleKeys, Root, Snapshot, Targets, Timestamp};
use updater::names::RoleName;
use updater::verify::Unverified;

use crate::published::latest_version;
use crate::workspace::Workspace;
use updater::conventions::POLICY_ROLE;

/// The state of one role's newest published metadata.
#[derive(Debug)]
pub struct RoleStatus {
    pub role: String,
    pub version: u64,
    pub expires: UtcTime,
    pub signed_by: Vec<KeyId>,
    pub threshold: u32,
    pub problems: Vec<String>,
}

impl RoleStatus {
    /// Signatures still needed to meet the threshold.
    pub fn missing(&self) -> u32 {
        self.threshold.saturating_sub(self.signed_by.len() as u32)
    }
}

/// One platform of a live or staged release, and who may read it.
#[derive(Debug, PartialEq, Eq)]
pub struct ReleaseStatus {
    pub release: String,
    pub platform: String,
    /// Staged by `repo add`, not yet signed.
    pub staged: bool,
    pub files: usize,
    /// How many recipients its encrypted files are encrypted to (the most any file is;
    /// `repo add` encrypts every file of a platform to the same list); `None`: not encrypted.
    pub recipients: Option<u64>,
}

/// What the repository holds, published and staged.
#[derive(Debug)]
pub struct RepoStatus {
    pub roles: Vec<RoleStatus>,
    /// The live releases (newest in the catalogue's slots) and the staged ones, per platform.
    pub releases: Vec<ReleaseStatus>,
    pub staged_changes: usize,
    /// A policy staged by `repo policy set` that is not the published one.
    pub policy_staged: bool,
}

/// Reads `path` (at most `limit` bytes) as role `role` and tallies its signatures against
/// root's keys for that role; returns the status and the parsed body.
fn role_status<T: Role>(
    root: &Root,
    role: &str,
    path: &Path,
    limit: u64,
) -> Result<(RoleStatus, T)> {
    let role_keys = root
        .roles
        .get(role)
        .with_context(|| format!("root defines no {role} role"))?;
    delegated_role_status(&root.keys, role_keys, role, path, limit)
}

/// Like `role_status`, for a role whose keys are given by its delegator.
fn delegated_role_status<T: Role>(
    keys: &BTreeMap<KeyId, PublicKey>,
    role_keys: &RoleKeys,
    role: &str,
    path: &Path,
    limit: u64,
) -> Result<(RoleStatus, T)> {
    let name = RoleName::new(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    let parsed = Unverified::<T>::parse(&name, &updater::fs::read_bounded(path, limit)?)?;
    let tally = parsed.tally(keys, role_keys);
    let body = parsed.untrusted().clone();
    let status = RoleStatus {
        role: role.into(),
        version: body.version().get(),
        expires: body.expires(),
        signed_by: tally.valid,
        threshold: role_keys.threshold.get(),
        problems: tally.rejected.iter().map(ToString::to_string).collect(),
    };
    Ok((status, body))
}

/// Reads the status of every role.
pub fn status(ws: &Workspace) -> Result<RepoStatus> {
    ws.check_exists()?;
    let (root, root_path) = ws.latest_root()?;
    let dir = ws.metadata_dir();
    let mut roles = vec![role_status::<Root>(&root, "root", &root_path, MAX_ROOT_BYTES)?.0];
    let mut published_targets: Option<Targets> = None;
    if let Some(v) = latest_version(ws, "targets")? {
        let path = dir.join(format!("{v}.targets.json"));
        let (status, body) = role_status::<Targets>(&root, "targets", &path, MAX_TARGETS_BYTES)?;
        roles.push(status);
        published_targets = Some(body);
    }
    let mut published_policy: Option<Targets> = None;
    let delegation = published_targets.as_ref().and_then(|t| {
        let d = t.delegations.as_ref()?;
        let role = d.roles.iter().find(|r| r.name.as_str() == POLICY_ROLE)?;
        Some((d.keys.clone(), role.role_keys()))
    });
    if let (Some(v), Some((keys, role_keys))) = (latest_version(ws, POLICY_ROLE)?, delegation) {
        let path = dir.join(format!("{v}.{POLICY_ROLE}.json"));
        let (status, body) = delegated_role_status::<Targets>(
            &keys,
            &role_keys,
            POLICY_ROLE,
            &path,
            MAX_TARGETS_BYTES,
        )?;
        roles.push(status);
        published_policy = Some(body);
    }
    if let Some(v) = latest_version(ws, "snapshot")? {
        let path = dir.join(format!("{v}.snapshot.json"));
        roles.push(role_status::<Snapshot>(&root, "snapshot", &path, MAX_SNAPSHOT_BYTES)?.0);
    }
    let timestamp = dir.join("timestamp.json");
    if timestamp.exists() {
        roles
            .push(role_status::<Timestamp>(&root, "timestamp", &timestamp, MAX_TIMESTAMP_BYTES)?.0);
    }
    let staged = ws.staged_targets()?;
    let staged_changes = match &published_targets {
        Some(p) => {
            let added = staged
                .targets
                .iter()
                .filter(|(n, i)| p.targets.get(*n) != Some(*i))
                .count();
            let removed = p
                .targets
                .keys()
                .filter(|n| !staged.targets.contains_key(*n))
                .count();
            added + removed
        }
        None => staged.targets.len(),
    };
    let staged_changes = staged_changes + staged_release_files(ws)?;
    let staged_policy = ws.staged_policy_file();
    let policy_staged = staged_policy.is_file() && {
        let bytes =
            updater::fs::read_bounded(&staged_policy, updater::rollout::policy::MAX_POLICY_BYTES)?;
        let digest = updater::hash::Sha512::digest(&bytes);
        let published = published_policy
            .as_ref()
            .and_then(|p| p.targets.values().next())
            .and_then(|info| info.hashes.get("sha512"))
            .map(<[u8]>::to_vec);
        published.as_deref() != Some(&digest.0[..])
    };
    Ok(RepoStatus {
        roles,
        releases: releases(ws)?,
        staged_changes,
        policy_staged,
    })
}

/// How many files the staged releases hold.
fn staged_release_files(ws: &Workspace) -> Result<usize> {
    let staged = crate::catalogue::StagedReleases::new(ws).all()?;
    Ok(staged.values().map(|files| files.len()).sum())
}

/// Each live and staged release, per platform, with the recipients it is encrypted to.
fn releases(ws: &Workspace) -> Result<Vec<ReleaseStatus>> {
    let mut found = Vec::new();
    let published = crate::catalogue::Published::load(ws)?;
    for (release, role) in published.live() {
        let files = published.files(ws, role.name.as_str())?;
        found.extend(per_platform(&release.to_string(), false, &files));
    }
    for (release, files) in crate::catalogue::StagedReleases::new(ws).all()? {
        found.extend(per_platform(&release.to_string(), true, &files));
    }
    Ok(found)
}

/// The files of one release, grouped by platform (`custom.platform`).
fn per_platform(
    release: &str,
    staged: bool,
    files: &crate::catalogue::TargetMap,
) -> Vec<ReleaseStatus> {
    let mut platforms: BTreeMap<String, ReleaseStatus> = BTreeMap::new();
    for (name, info) in files {
        let platform = info
            .custom
            .as_ref()
            .and_then(|c| c.get("platform"))
            .and_then(|p| p.as_str().map(str::to_owned))
            .unwrap_or_default();
        let entry = platforms
            .entry(platform.clone())
            .or_insert_with(|| ReleaseStatus {
                release: release.to_owned(),
                platform,
                staged,
                files: 0,
                recipients: None,
            });
        entry.files += 1;
        if let Ok(Some(encrypted)) = updater::conventions::Encrypted::listed(name, info) {
            entry.recipients = entry.recipients.max(Some(encrypted.recipients));
        }
    }
    platforms.into_values().collect()
}
