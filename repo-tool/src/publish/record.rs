//! The record of the last publication to one destination, kept in the repository folder
//! outside `public/` (`publications/<hash of the destination>.json`), so the next publish
//! decides what to send without listing the bucket.
//!
//! It is written only after a publication completes, and it lists only names that
//! publication (or one before it) finished sending, so it never claims what is not there.
//! Before it is trusted, the destination's `timestamp.json` must be the one it names: a
//! bucket emptied, or published to from another copy of the repository, fails that check
//! and the publish lists the destination instead.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::workspace::Workspace;

/// Location in the store -> size in bytes, of every name known to be published there.
pub(crate) type PublishedNames = BTreeMap<String, u64>;

/// What one destination held when a publication to it completed.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PublicationRecord {
    /// The destination, for people reading the file (the file name is its hash).
    pub(crate) destination: String,
    /// SHA-256 (hex) of the `timestamp.json` that publication sent last.
    pub(crate) timestamp_sha256: String,
    pub(crate) names: PublishedNames,
}

/// Why there is no record to trust: said on stderr before the listing it costs.
#[derive(Debug)]
pub(crate) enum NoRecord {
    Missing,
    Unreadable(String),
}

/// `publications/<sha256 of destination>.json` of `ws`.
pub(crate) fn record_file(ws: &Workspace, destination: &str) -> PathBuf {
    let key = hex::encode(Sha256::digest(destination.as_bytes()));
    ws.root()
        .join("publications")
        .join(format!("{}.json", &key[..32]))
}

/// The record for `destination`, if one was written and can be read.
pub(crate) fn load(ws: &Workspace, destination: &str) -> Result<PublicationRecord, NoRecord> {
    let path = record_file(ws, destination);
    let bytes = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(NoRecord::Missing),
        Err(e) => return Err(NoRecord::Unreadable(format!("{}: {e}", path.display()))),
    };
    let record: PublicationRecord = serde_json::from_slice(&bytes)
        .map_err(|e| NoRecord::Unreadable(format!("{}: {e}", path.display())))?;
    if record.destination != destination {
        return Err(NoRecord::Unreadable(format!(
            "{} is the record of {}",
            path.display(),
            record.destination
        )));
    }
    Ok(record)
}

/// Replaces the record for `destination` atomically.
pub(crate) fn save(ws: &Workspace, record: &PublicationRecord) -> Result<()> {
    let path = record_file(ws, &record.destination);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let bytes = serde_json::to_vec(record)?;
    updater::fs::write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// SHA-256 (hex) of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
