//! `repo timestamp`: only a new timestamp, for a scheduled job.

use anyhow::{bail, Context, Result};
use updater::datetime::UtcTime;
use updater::metadata::{Timestamp, Version};

use super::check::check_signed;
use super::plan::keys_for_role;
use super::published::read_timestamp;
use crate::keys::PrivateKey;
use crate::publication::Publication;
use crate::signer::sign_metadata;
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
    timestamp.version =
        ExportedVersions::past(timestamp.version.next(), ws.exported_versions()?.timestamp);
    timestamp.expires = UtcTime::now().plus_seconds(seconds);
    let bytes = sign_metadata(&timestamp, &signers)?;
    check_signed::<Timestamp>(&root, "timestamp", &bytes)?;
    let mut publication = Publication::new();
    publication.replace(ws.metadata_dir().join("timestamp.json"), bytes);
    publication.commit()?;
    Ok(timestamp.version)
}
