//! `repo export --valid-for PERIOD`: a snapshot and timestamp signed for one archive only,
//! so an air-gapped site's devices keep their expiry checks on for the whole period.
//!
//! Devices refuse a repository once any role in the chain has expired, so stretching the
//! timestamp alone is not enough: the snapshot is re-signed too, and every other role
//! (root, targets, the policy role) must already outlive the period, or the export is
//! refused with each role's real expiry. Nothing in `public/` changes: the online
//! repository keeps its own lifetimes. The versions used are recorded in
//! `exported-versions.toml` so the online repository's next versions go past them.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use updater::datetime::UtcTime;
use updater::limits::{MAX_SNAPSHOT_BYTES, MAX_TARGETS_BYTES};
use updater::metadata::{Role, Snapshot, Targets, Timestamp, Version};
use updater::names::RoleName;
use updater::verify::Unverified;

use crate::keys::PrivateKey;
use crate::period::Period;
use crate::published::{latest_version, meta_for, read_timestamp};
use crate::sign::{check_signed, keys_for_role};
use crate::signer::{sign_metadata, Layout};
use crate::workspace::{ExportedVersions, Workspace};

/// A role's version and expiry as the archive holds it.
#[derive(Clone, Debug)]
pub struct RoleExpiry {
    pub role: String,
    pub version: Version,
    pub expires: UtcTime,
}

/// Metadata written into one archive only, in place of the published files.
pub struct ArchiveMetadata {
    /// (path under `public/`, bytes): the new `N.snapshot.json` and `timestamp.json`.
    pub files: Vec<(PathBuf, Vec<u8>)>,
    /// The versions used, to record before the archive is written.
    pub versions: ExportedVersions,
}

/// Every role in the published chain with its version and expiry: root, the roles the
/// current snapshot lists, the snapshot and the timestamp.
pub fn published_expiries(ws: &Workspace) -> Result<Vec<RoleExpiry>> {
    let (root, _) = ws.latest_root()?;
    let mut roles = vec![RoleExpiry {
        role: "root".into(),
        version: root.version,
        expires: root.expires,
    }];
    let timestamp = read_timestamp(ws)?.context("nothing is published yet: run repo sign first")?;
    let snapshot = current_snapshot(ws, &timestamp)?;
    for (name, meta) in &snapshot.meta {
        let role = name.strip_suffix(".json").unwrap_or(name);
        let path = ws
            .metadata_dir()
            .join(format!("{}.{role}.json", meta.version));
        let bytes = updater::fs::read_bounded(&path, MAX_TARGETS_BYTES)?;
        let role_name = RoleName::new(role).map_err(|e| anyhow::anyhow!("{e}"))?;
        let parsed = Unverified::<Targets>::parse(&role_name, &bytes)
            .with_context(|| format!("reading {}", path.display()))?;
        roles.push(RoleExpiry {
            role: role.to_owned(),
            version: meta.version,
            expires: parsed.untrusted().expires(),
        });
    }
    roles.push(RoleExpiry {
        role: "snapshot".into(),
        version: snapshot.version,
        expires: snapshot.expires,
    });
    roles.push(RoleExpiry {
        role: "timestamp".into(),
        version: timestamp.version,
        expires: timestamp.expires,
    });
    Ok(roles)
}

fn current_snapshot(ws: &Workspace, timestamp: &Timestamp) -> Result<Snapshot> {
    let meta = timestamp
        .snapshot_meta()
        .context("the published timestamp names no snapshot")?;
    let path = ws
        .metadata_dir()
        .join(format!("{}.snapshot.json", meta.version));
    let bytes = updater::fs::read_bounded(&path, MAX_SNAPSHOT_BYTES)?;
    let parsed = Unverified::<Snapshot>::parse(&RoleName::snapshot(), &bytes)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok(parsed.untrusted().clone())
}

/// A snapshot and timestamp valid for `period` from now, signed by `keys` (a threshold of
/// the snapshot keys and of the timestamp keys), for the archive only. Refused, with every
/// short-lived role's expiry, when another role of the chain expires sooner.
pub fn resign_for_archive(
    ws: &Workspace,
    keys: &[PrivateKey],
    period: Period,
) -> Result<ArchiveMetadata> {
    ws.check_exists()?;
    let (root, _) = ws.latest_root()?;
    let now = UtcTime::now();
    let until = now.plus_seconds(period.seconds());
    for key in keys {
        let online = ["snapshot", "timestamp"].iter().any(|r| {
            root.roles
                .get(*r)
                .is_some_and(|rk| rk.keyids.contains(key.key_id()))
        });
        if !online {
            bail!(
                "key {} ({}) is not a snapshot or timestamp key of the newest root: --valid-for re-signs those two roles",
                key.path().display(),
                key.key_id().short()
            );
        }
    }
    let role_keys = |name: &str| {
        root.roles
            .get(name)
            .with_context(|| format!("root defines no {name} role"))
    };
    let snapshot_signers = keys_for_role(&root.keys, role_keys("snapshot")?, "snapshot", keys)?;
    let timestamp_signers = keys_for_role(&root.keys, role_keys("timestamp")?, "timestamp", keys)?;

    let short: Vec<String> = published_expiries(ws)?
        .into_iter()
        .filter(|r| r.role != "snapshot" && r.role != "timestamp" && r.expires < until)
        .map(|r| format!("{} version {} expires at {}", r.role, r.version, r.expires))
        .collect();
    if !short.is_empty() {
        bail!(
            "the archive cannot stay valid for {period} (until {until}): {}. Re-sign those roles first (`repo sign` with their keys; root: `repo root edit --expires`), or export with a shorter --valid-for",
            short.join(", ")
        );
    }

    let timestamp = read_timestamp(ws)?.context("nothing is published yet: run repo sign first")?;
    let mut snapshot = current_snapshot(ws, &timestamp)?;
    let floors = ws.exported_versions()?;
    let next_on_disk = latest_version(ws, "snapshot")?.map_or(Version::FIRST, |v| v.next());
    snapshot.version =
        ExportedVersions::past(snapshot.version.next().max(next_on_disk), floors.snapshot);
    snapshot.expires = until;
    let snapshot_bytes = sign_metadata(&snapshot, &snapshot_signers, Layout::Compact)?;

    let mut fresh = timestamp.clone();
    fresh.version = ExportedVersions::past(timestamp.version.next(), floors.timestamp);
    fresh.expires = until;
    fresh.meta = std::collections::BTreeMap::from([(
        "snapshot.json".to_owned(),
        meta_for(&snapshot_bytes, snapshot.version)?,
    )]);
    let timestamp_bytes = sign_metadata(&fresh, &timestamp_signers, Layout::Compact)?;
    check_signed::<Snapshot>(&root, "snapshot", &snapshot_bytes)?;
    check_signed::<Timestamp>(&root, "timestamp", &timestamp_bytes)?;

    let metadata = PathBuf::from("metadata");
    Ok(ArchiveMetadata {
        files: vec![
            (
                metadata.join(format!("{}.snapshot.json", snapshot.version)),
                snapshot_bytes,
            ),
            (metadata.join("timestamp.json"), timestamp_bytes),
        ],
        versions: ExportedVersions {
            snapshot: snapshot.version.get(),
            timestamp: fresh.version.get(),
        },
    })
}
