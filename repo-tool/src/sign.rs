//! `repo sign`: publishes the staged index as new targets, snapshot and timestamp.
//!
//! Order of writes, each atomic: artifacts (synced), `N.targets.json`, `N.snapshot.json`,
//! `timestamp.json` last. A reader that sees the new timestamp therefore finds everything
//! it points to; a reader that sees the old one still finds the old files, which are never
//! removed.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use updater::datetime::UtcTime;
use updater::hash::digest_reader;
use updater::key::{KeyId, PublicKey};
use updater::metadata::{
    HexDigest, MetaFile, Role, RoleKeys, Root, Snapshot, Targets, Timestamp, Version, SPEC_VERSION,
};
use updater::names::RoleName;
use updater::verify::Unverified;

use crate::keys::PrivateKey;
use crate::signer::sign_metadata;
use crate::workspace::Workspace;

/// The keys among `given` that `role` lists; fails unless they reach its threshold.
pub fn keys_for_role<'a>(
    all_keys: &BTreeMap<KeyId, PublicKey>,
    role: &RoleKeys,
    role_name: &str,
    given: &'a [PrivateKey],
) -> Result<Vec<&'a PrivateKey>> {
    let chosen: Vec<&PrivateKey> = given
        .iter()
        .filter(|k| {
            role.keyids.contains(k.key_id()) && all_keys.get(k.key_id()) == Some(k.public())
        })
        .collect();
    if chosen.len() < role.threshold.get() as usize {
        bail!(
            "role {role_name} needs {} signature(s) but {} of the given keys are {role_name} keys in root",
            role.threshold,
            chosen.len()
        );
    }
    Ok(chosen)
}

/// Refuses keys that root does not list for any of `roles`: a wrong key file is a mistake
/// the admin must hear about, not something to skip.
pub fn check_all_keys_used(root: &Root, roles: &[&str], given: &[PrivateKey]) -> Result<()> {
    for key in given {
        let used = roles.iter().any(|r| {
            root.roles
                .get(*r)
                .is_some_and(|rk| rk.keyids.contains(key.key_id()))
        });
        if !used {
            bail!(
                "key {} ({}) is not listed in root for {}",
                key.path().display(),
                key.key_id().short(),
                roles.join(", ")
            );
        }
    }
    Ok(())
}

/// Latest published version of `role` (`N.<role>.json`), if any.
pub fn latest_version(ws: &Workspace, role: &str) -> Result<Option<Version>> {
    let suffix = format!(".{role}.json");
    let mut best = None;
    for entry in std::fs::read_dir(ws.metadata_dir())? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(&suffix))
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(Version::new)
        {
            best = best.max(Some(n));
        }
    }
    Ok(best)
}

/// Signs and publishes. Nothing is written unless every role can be signed.
pub fn sign(ws: &Workspace, keys: &[PrivateKey]) -> Result<Vec<(String, Version)>> {
    ws.check_exists()?;
    let settings = ws.settings()?;
    let (root, _) = ws.latest_root()?;
    let roles = ["targets", "snapshot", "timestamp"];
    check_all_keys_used(&root, &roles, keys)?;
    let role_keys = |name: &str| {
        root.roles
            .get(name)
            .with_context(|| format!("root defines no {name} role"))
    };
    let targets_keys = keys_for_role(&root.keys, role_keys("targets")?, "targets", keys)?;
    let snapshot_keys = keys_for_role(&root.keys, role_keys("snapshot")?, "snapshot", keys)?;
    let timestamp_keys = keys_for_role(&root.keys, role_keys("timestamp")?, "timestamp", keys)?;

    let now = UtcTime::now();
    let next = |role: &str| -> Result<Version> {
        Ok(latest_version(ws, role)?.map_or(Version::FIRST, |v| v.next()))
    };

    let mut targets: Targets = ws.staged_targets()?;
    targets.version = next("targets")?;
    targets.expires = now.plus_seconds(settings.expiry.targets.seconds());
    targets.spec_version = SPEC_VERSION.into();
    let targets_bytes = sign_metadata(&targets, &targets_keys)?;

    let previous_timestamp = read_timestamp(ws)?;
    let snapshot_version = match &previous_timestamp {
        Some(t) => t
            .snapshot_meta()
            .map_or(Version::FIRST, |m| m.version.next()),
        None => Version::FIRST,
    };
    let mut meta = BTreeMap::new();
    meta.insert(
        "targets.json".to_owned(),
        MetaFile {
            version: targets.version,
            length: None,
            hashes: None,
        },
    );
    let snapshot = Snapshot {
        type_: "snapshot".into(),
        spec_version: SPEC_VERSION.into(),
        version: snapshot_version,
        expires: now.plus_seconds(settings.expiry.snapshot.seconds()),
        meta,
    };
    let snapshot_bytes = sign_metadata(&snapshot, &snapshot_keys)?;

    let timestamp_version = match &previous_timestamp {
        Some(t) => t.version.next(),
        None => Version::FIRST,
    };
    let timestamp = Timestamp {
        type_: "timestamp".into(),
        spec_version: SPEC_VERSION.into(),
        version: timestamp_version,
        expires: now.plus_seconds(settings.expiry.timestamp.seconds()),
        meta: BTreeMap::from([(
            "snapshot.json".to_owned(),
            meta_for(&snapshot_bytes, snapshot_version)?,
        )]),
    };
    let timestamp_bytes = sign_metadata(&timestamp, &timestamp_keys)?;

    // Check our own output with the device's verifier before anything becomes visible.
    check_signed::<Targets>(&root, "targets", &targets_bytes)?;
    check_signed::<Snapshot>(&root, "snapshot", &snapshot_bytes)?;
    check_signed::<Timestamp>(&root, "timestamp", &timestamp_bytes)?;

    publish_artifacts(ws, &targets)?;
    let dir = ws.metadata_dir();
    write(
        &dir.join(format!("{}.targets.json", targets.version)),
        &targets_bytes,
    )?;
    write(
        &dir.join(format!("{snapshot_version}.snapshot.json")),
        &snapshot_bytes,
    )?;
    write(&dir.join("timestamp.json"), &timestamp_bytes)?;
    Ok(vec![
        ("targets".into(), targets.version),
        ("snapshot".into(), snapshot_version),
        ("timestamp".into(), timestamp_version),
    ])
}

fn meta_for(bytes: &[u8], version: Version) -> Result<MetaFile> {
    let digest = digest_reader(bytes)?;
    Ok(MetaFile {
        version,
        length: Some(digest.length),
        hashes: Some(BTreeMap::from([
            ("sha256".to_owned(), HexDigest(digest.sha256.0.to_vec())),
            ("sha512".to_owned(), HexDigest(digest.sha512.0.to_vec())),
        ])),
    })
}

fn read_timestamp(ws: &Workspace) -> Result<Option<Timestamp>> {
    let path = ws.metadata_dir().join("timestamp.json");
    if !path.exists() {
        return Ok(None);
    }
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TIMESTAMP_BYTES)?;
    let parsed = Unverified::<Timestamp>::parse(&RoleName::timestamp(), &bytes)?;
    Ok(Some(parsed.untrusted().clone()))
}

fn check_signed<T: Role>(root: &Root, role: &str, bytes: &[u8]) -> Result<()> {
    let name = RoleName::new(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    let parsed = Unverified::<T>::parse(&name, bytes)?;
    let role_keys = root.roles.get(role).context("role missing from root")?;
    parsed.verify(&root.keys, role_keys)?;
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> Result<()> {
    updater::fs::write_atomic(path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// Moves every staged artifact the index lists into `public/targets`, synced to disk, and
/// checks that every listed artifact is then present under each of its hashes.
fn publish_artifacts(ws: &Workspace, targets: &Targets) -> Result<()> {
    let staged = ws.staged_artifacts_dir();
    let public = ws.artifacts_dir();
    for (name, info) in &targets.targets {
        let froms = Workspace::served_paths(&staged, name, &info.hashes);
        let tos = Workspace::served_paths(&public, name, &info.hashes);
        for (from, to) in froms.into_iter().zip(tos) {
            if from.exists() {
                let parent = to.parent().context("artifact path has a folder")?;
                std::fs::create_dir_all(parent)?;
                std::fs::File::open(&from)?.sync_all()?;
                std::fs::rename(&from, &to)
                    .with_context(|| format!("moving {} into public/", from.display()))?;
                updater::fs::sync_dir(parent)?;
            }
            if !to.is_file() {
                bail!("artifact {name} is listed but {} is missing", to.display());
            }
        }
    }
    // Whatever is left in staging is no longer listed (or was never published).
    let _ = std::fs::remove_dir_all(&staged);
    std::fs::create_dir_all(&staged)?;
    Ok(())
}
