//! What is already published, read back for the next signing: the newest version of a
//! role, the newest targets, the current timestamp. These are our own files, parsed but not
//! trusted: whatever is signed from them is checked again before it is published.

use anyhow::Result;
use updater::hash::digest_reader;
use updater::metadata::{Hashes, HexDigest, MetaFile, Targets, Timestamp, Version};
use updater::names::RoleName;
use updater::verify::Unverified;

use crate::workspace::Workspace;

/// Latest published version of `role` (`N.<role>.json`), if any.
pub(crate) fn latest_version(ws: &Workspace, role: &str) -> Result<Option<Version>> {
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

/// The bytes of the published `N.<role>.json` of a targets role (top-level or delegated),
/// within the limit a device reads it by.
pub(crate) fn published_role_bytes(
    ws: &Workspace,
    role: &str,
    version: Version,
) -> Result<Vec<u8>> {
    let path = ws.metadata_dir().join(format!("{version}.{role}.json"));
    Ok(updater::fs::read_bounded(
        &path,
        updater::limits::MAX_TARGETS_BYTES,
    )?)
}

/// The newest published targets, if any.
pub(crate) fn published_targets(ws: &Workspace) -> Result<Option<Targets>> {
    let Some(version) = latest_version(ws, "targets")? else {
        return Ok(None);
    };
    let bytes = published_role_bytes(ws, "targets", version)?;
    let published = Unverified::<Targets>::parse(&RoleName::targets(), &bytes)?;
    Ok(Some(published.untrusted().clone()))
}

pub(crate) fn read_timestamp(ws: &Workspace) -> Result<Option<Timestamp>> {
    let path = ws.metadata_dir().join("timestamp.json");
    if !path.exists() {
        return Ok(None);
    }
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TIMESTAMP_BYTES)?;
    let parsed = Unverified::<Timestamp>::parse(&RoleName::timestamp(), &bytes)?;
    Ok(Some(parsed.untrusted().clone()))
}

/// What timestamp or snapshot lists for metadata `bytes` of `version`: length, SHA-256, SHA-512.
pub(crate) fn meta_for(bytes: &[u8], version: Version) -> Result<MetaFile> {
    let digest = digest_reader(bytes)?;
    Ok(MetaFile {
        version,
        length: Some(digest.length),
        hashes: Some(Hashes::from([
            ("sha256".to_owned(), HexDigest(digest.sha256.0.to_vec())),
            ("sha512".to_owned(), HexDigest(digest.sha512.0.to_vec())),
        ])),
    })
}
