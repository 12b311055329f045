//! `repo status`: per role, its version, expiry, and signatures present and missing.

use std::collections::BTreeMap;

use anyhow::Result;
use updater::datetime::UtcTime;
use updater::key::{KeyId, PublicKey};
use updater::limits::{MAX_ROOT_BYTES, MAX_SNAPSHOT_BYTES, MAX_TARGETS_BYTES, MAX_TIMESTAMP_BYTES};
use updater::metadata::{Role, RoleKeys, Root, Snapshot, Targets, Timestamp};
use updater::names::RoleName;
use updater::verify::{tally_signatures, Unverified};

use crate::sign::latest_version;
use crate::workspace::Workspace;

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

/// What the repository holds, published and staged.
#[derive(Debug)]
pub struct RepoStatus {
    pub roles: Vec<RoleStatus>,
    pub staged_changes: usize,
}

fn role_status<T: Role>(
    role: &str,
    bytes: &[u8],
    keys: &BTreeMap<KeyId, PublicKey>,
    role_keys: &RoleKeys,
) -> Result<RoleStatus> {
    let name = RoleName::new(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    let parsed = Unverified::<T>::parse(&name, bytes)?;
    let value: serde_json::Value = serde_json::from_slice(bytes)?;
    let canonical = updater::canonical::to_canonical_bytes(&value["signed"])?;
    let tally = tally_signatures(&canonical, parsed.signatures(), keys, role_keys);
    Ok(RoleStatus {
        role: role.into(),
        version: parsed.untrusted().version().get(),
        expires: parsed.untrusted().expires(),
        signed_by: tally.valid,
        threshold: role_keys.threshold.get(),
        problems: tally.rejected.iter().map(ToString::to_string).collect(),
    })
}

/// Reads the status of every role.
pub fn status(ws: &Workspace) -> Result<RepoStatus> {
    ws.check_exists()?;
    let (root, root_path) = ws.latest_root()?;
    let dir = ws.metadata_dir();
    let mut roles = vec![role_status::<Root>(
        "root",
        &updater::fs::read_bounded(&root_path, MAX_ROOT_BYTES)?,
        &root.keys,
        &root.roles["root"],
    )?];
    let mut published_targets: Option<Targets> = None;
    if let Some(v) = latest_version(ws, "targets")? {
        let bytes =
            updater::fs::read_bounded(&dir.join(format!("{v}.targets.json")), MAX_TARGETS_BYTES)?;
        roles.push(role_status::<Targets>(
            "targets",
            &bytes,
            &root.keys,
            &root.roles["targets"],
        )?);
        published_targets = Some(
            Unverified::<Targets>::parse(&RoleName::targets(), &bytes)?
                .untrusted()
                .clone(),
        );
    }
    if let Some(v) = latest_version(ws, "snapshot")? {
        let bytes =
            updater::fs::read_bounded(&dir.join(format!("{v}.snapshot.json")), MAX_SNAPSHOT_BYTES)?;
        roles.push(role_status::<Snapshot>(
            "snapshot",
            &bytes,
            &root.keys,
            &root.roles["snapshot"],
        )?);
    }
    let timestamp = dir.join("timestamp.json");
    if timestamp.exists() {
        let bytes = updater::fs::read_bounded(&timestamp, MAX_TIMESTAMP_BYTES)?;
        roles.push(role_status::<Timestamp>(
            "timestamp",
            &bytes,
            &root.keys,
            &root.roles["timestamp"],
        )?);
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
    Ok(RepoStatus {
        roles,
        staged_changes,
    })
}
