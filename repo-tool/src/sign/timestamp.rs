//! `repo timestamp`: only a new timestamp, for a scheduled job.

use anyhow::{bail, Context, Result};
use updater::datetime::UtcTime;
use updater::metadata::{Timestamp, Version};

use super::check::check_signed;
use super::plan::keys_for_role;
use crate::keys::PrivateKey;
use crate::publication::Publication;
use crate::published::read_timestamp;
use crate::signer::{sign_metadata, Layout};
use crate::workspace::{ExportedVersions, Workspace};

/// `repo timestamp`: a new timestamp for the current snapshot, with a fresh expiry, signed
/// by a threshold of the timestamp keys; nothing else changes. For an operator's scheduled
/// job, so that devices never see an expired timestamp.
pub fn timestamp_only(ws: &Workspace, keys: &[PrivateKey]) -> Result<Version> {
    let seconds = ws.settings()?.expiry.timestamp.seconds();
    timestamp_valid_for(ws, keys, seconds)
}

/// Like `timestamp_only`, valid for `seconds`.
fn timestamp_valid_for(ws: &Workspace, keys: &[PrivateKey], seconds: i64) -> Result<Version> {
    ws.check_exists()?;
    let (root, _) = ws.latest_root()?;
    let role = root
        .roles
        .get("timestamp")
        .context("root defines no timestamp role")?;
    for key in keys {
        if !role.keyids.contains(key.key_id()) {
            bail!(
                "key {} ({}) is not a timestamp key of the newest root",
                key.path().display(),
                key.key_id().short()
            );
        }
    }
    let signers = keys_for_role(&root.keys, role, "timestamp", keys)?;
    let mut timestamp =
        read_timestamp(ws)?.context("nothing is published yet: run repo sign first")?;
    let repo = ws.root().display();
    let now = UtcTime::now();
    let expires = now.plus_seconds(seconds);
    // Devices refuse everything once root has expired: a new timestamp would only hide it.
    if root.expires < expires {
        bail!(
            "root version {} expires at {}, before this timestamp would ({expires}): devices stop updating when root expires; stage a new root with `repo root edit {repo} --expires PERIOD` and sign it with the root keys first",
            root.version,
            root.expires
        );
    }
    // An archive signed a newer snapshot (`repo export --valid-for`): its devices trust that
    // version, and a timestamp naming an older one would look like a rollback to them.
    let exported = ws.exported_versions()?;
    let served = timestamp.snapshot_meta().map_or(0, |m| m.version.get());
    if exported.snapshot > served {
        bail!(
            "an archive exported with --valid-for holds snapshot version {}, newer than the served {served}: a timestamp naming {served} would strand the devices that read the archive; sign a new snapshot instead, `repo sign {repo} --key SNAPSHOT_KEY --key TIMESTAMP_KEY`",
            exported.snapshot
        );
    }
    timestamp.version = ExportedVersions::past(timestamp.version.next(), exported.timestamp);
    timestamp.expires = expires;
    let bytes = sign_metadata(&timestamp, &signers, Layout::Compact)?;
    check_signed::<Timestamp>(&root, "timestamp", &bytes)?;
    let mut publication = Publication::new();
    publication.replace(ws.metadata_dir().join("timestamp.json"), bytes);
    publication.commit()?;
    Ok(timestamp.version)
}
