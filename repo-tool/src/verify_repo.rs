//! `repo verify`: checks a served repository folder exactly as a device would.

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use updater::datetime::UtcTime;
use updater::limits::{
    listed_roles_limit, MAX_ROOT_BYTES, MAX_ROOT_ROTATIONS, MAX_SNAPSHOT_BYTES, MAX_TARGETS_BYTES,
    MAX_TIMESTAMP_BYTES,
};
use updater::metadata::{TargetInfo, Targets, Version};
use updater::names::{RoleName, TargetName};
use updater::trusted::{Complete, Origin, SelfSignedRoot, TrustedRoot};
use updater::update::artifact::check_file;
use updater::verify::Verified;
use updater::Error;

use tuf_core::delegation::{self, TargetsSource};

use crate::parallel;
use crate::progress::Progress;
use crate::workspace::Workspace;

/// What a verification found.
#[derive(Debug)]
pub struct VerifyReport {
    /// Version and expiry of every role that verified.
    pub roles: Vec<(RoleName, Version, UtcTime)>,
    /// Number of artifacts checked.
    pub artifacts: usize,
    /// Bytes of artifacts hashed.
    pub bytes: u64,
    /// Every artifact that failed, with the reason.
    pub bad_artifacts: Vec<Error>,
}

/// The folder to verify: `REPO/public` when given a repository folder, else `dir` itself.
pub fn served_dir(dir: &Path) -> PathBuf {
    let public = dir.join("public");
    if !dir.join("metadata").is_dir() && public.join("metadata").is_dir() {
        public
    } else {
        dir.to_owned()
    }
}

fn read(path: &Path, limit: u64) -> Result<Vec<u8>, Error> {
    updater::fs::read_bounded(path, limit)
}

/// Verifies the metadata chain from `trusted_root` and every artifact. Metadata problems
/// stop at the first (nothing after it can be trusted); artifact problems are all listed.
pub fn verify_repository(
    served: &Path,
    trusted_root: &[u8],
    now: UtcTime,
    quiet: bool,
) -> Result<VerifyReport, Error> {
    let metadata = served.join("metadata");
    let root = newest_root(&metadata, trusted_root, now)?;
    let mut trusted = load_top_level(&metadata, root)?;
    let mut roles = vec![(
        RoleName::root(),
        trusted.root().version,
        trusted.root().expires,
    )];
    let (t, s) = (trusted.timestamp(), trusted.snapshot());
    roles.push((RoleName::timestamp(), t.version, t.expires));
    roles.push((RoleName::snapshot(), s.version, s.expires));
    let artifacts = walk_targets_roles(&metadata, &mut trusted, &mut roles)?;
    let bytes: u64 = artifacts.iter().map(|(_, i)| i.length).sum();
    let bad_artifacts = check_artifacts(&served.join("targets"), &artifacts, bytes, quiet);
    Ok(VerifyReport {
        roles,
        artifacts: artifacts.len(),
        bytes,
        bad_artifacts,
    })
}

/// Trusts `trusted_root`, then each next `N.root.json` served, as far as they go.
fn newest_root(metadata: &Path, trusted_root: &[u8], now: UtcTime) -> Result<TrustedRoot, Error> {
    let mut root = SelfSignedRoot::parse(trusted_root)?.trust(now);
    for _ in 0..MAX_ROOT_ROTATIONS {
        let next = root.root().version.next();
        let path = metadata.join(format!("{next}.root.json"));
        if !path.exists() {
            break;
        }
        root.update_root(&read(&path, MAX_ROOT_BYTES)?)?;
    }
    Ok(root)
}

/// Timestamp, the snapshot it names and the top-level targets the snapshot names, each
/// verified in the specification's order.
fn load_top_level(metadata: &Path, root: TrustedRoot) -> Result<Complete, Error> {
    let (timestamp, _) = root.load_timestamp(&read(
        &metadata.join("timestamp.json"),
        MAX_TIMESTAMP_BYTES,
    )?)?;
    let snapshot_meta = timestamp
        .snapshot_meta()
        .cloned()
        .ok_or(tuf_core::Error::NotListed {
            listed_by: RoleName::timestamp(),
            role: RoleName::snapshot(),
        })?;
    let snapshot = timestamp.load_snapshot(
        &read(
            &metadata.join(format!("{}.snapshot.json", snapshot_meta.version)),
            snapshot_meta
                .length
                .map_or(MAX_SNAPSHOT_BYTES, |n| n.min(MAX_SNAPSHOT_BYTES)),
        )?,
        Origin::Mirror,
    )?;
    let targets_meta = snapshot
        .snapshot()
        .role_meta(&RoleName::targets())
        .cloned()
        .ok_or(tuf_core::Error::NotListed {
            listed_by: RoleName::snapshot(),
            role: RoleName::targets(),
        })?;
    Ok(snapshot.load_targets(
        &read(
            &metadata.join(format!("{}.targets.json", targets_meta.version)),
            targets_meta
                .length
                .map_or(MAX_TARGETS_BYTES, |n| n.min(MAX_TARGETS_BYTES)),
        )?,
        Origin::Mirror,
    )?)
}

/// Every targets role a device may reach, in the order it would, by the device's own
/// walker: each is added to `roles`, and every artifact they list is returned. More roles
/// than [`listed_roles_limit`] is an error naming the limit: never a partial verification.
fn walk_targets_roles(
    metadata: &Path,
    trusted: &mut Complete,
    roles: &mut Vec<(RoleName, Version, UtcTime)>,
) -> Result<Vec<(TargetName, TargetInfo)>, Error> {
    let mut artifacts: Vec<(TargetName, TargetInfo)> = Vec::new();
    let mut served_roles = ServedRoles { metadata, trusted };
    delegation::walk_everything(&mut served_roles, listed_roles_limit(), |role, _, t| {
        roles.push((role.clone(), t.version, t.expires));
        artifacts.extend(t.targets.iter().map(|(n, i)| (n.clone(), i.clone())));
    })?;
    Ok(artifacts)
}

/// Checks every artifact (`bytes` in all) in parallel, with progress; returns each failure.
fn check_artifacts(
    targets_dir: &Path,
    artifacts: &[(TargetName, TargetInfo)],
    bytes: u64,
    quiet: bool,
) -> Vec<Error> {
    let progress = Progress::bytes(bytes, "verifying", quiet);
    let results = parallel::map(artifacts, 1, false, |(name, info)| {
        let r = check_artifact(targets_dir, name, info);
        progress.advance(info.length);
        r
    });
    progress.finish();
    results
        .into_iter()
        .filter_map(|r| match r {
            Some(Err(e)) => Some(e),
            _ => None,
        })
        .collect()
}

/// The served folder's targets roles as the delegation walker's source: verified as a
/// device verifies them, each loaded once.
struct ServedRoles<'a> {
    metadata: &'a Path,
    trusted: &'a mut Complete,
}

impl TargetsSource for ServedRoles<'_> {
    type Error = Error;
    fn targets(
        &mut self,
        role: &RoleName,
        delegator: &RoleName,
    ) -> Result<&Verified<Targets>, Error> {
        // The top-level targets role is loaded already; a delegated one is read here.
        if self.trusted.targets_role(role, delegator).is_none() {
            let listed = self
                .trusted
                .snapshot()
                .role_meta(role)
                .cloned()
                .ok_or_else(|| tuf_core::Error::NotListed {
                    listed_by: RoleName::snapshot(),
                    role: role.clone(),
                })?;
            let path = self
                .metadata
                .join(format!("{}.{}.json", listed.version, role.file_stem()));
            let limit = listed
                .length
                .map_or(MAX_TARGETS_BYTES, |n| n.min(MAX_TARGETS_BYTES));
            let bytes = read(&path, limit)?;
            self.trusted
                .load_delegated(&bytes, Origin::Mirror, role, delegator)?;
        }
        self.trusted.targets_role(role, delegator).ok_or_else(|| {
            tuf_core::Error::NotListed {
                listed_by: delegator.clone(),
                role: role.clone(),
            }
            .into()
        })
    }
}

/// Checks one artifact under every name a client may fetch it by (one per listed hash).
/// Copies that are hard links of one file are hashed once.
fn check_artifact(targets_dir: &Path, name: &TargetName, info: &TargetInfo) -> Result<(), Error> {
    let mut seen_inodes = BTreeSet::new();
    for path in Workspace::served_paths(targets_dir, name, &info.hashes) {
        let meta = std::fs::metadata(&path).map_err(|e| Error::Target {
            name: name.clone(),
            reason: format!("{} is missing ({e})", path.display()),
        })?;
        if seen_inodes.insert((meta.dev(), meta.ino())) {
            check_file(&format!("target {name}"), &path, info)?;
        }
    }
    Ok(())
}
