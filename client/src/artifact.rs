//! Checking artifact bytes against what the verified index says about them.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use crate::error::{Error, Result};
use crate::hash::{digest_reader, FileDigest};
use crate::metadata::{Hashes, MetaFile, TargetInfo};

/// Compares `digest` of some bytes with a listed length and hashes. Every listed hash we
/// know is checked; at least one must be known.
pub fn check_digest(
    what: &str,
    digest: &FileDigest,
    length: Option<u64>,
    hashes: Option<&Hashes>,
) -> Result<()> {
    if let Some(expected) = length {
        if digest.length != expected {
            return Err(Error::LengthMismatch {
                what: what.into(),
                expected,
                actual: digest.length,
            });
        }
    }
    let Some(hashes) = hashes else {
        return Ok(());
    };
    // SHA-512 first: it is the digest this project vouches for; SHA-256 is for others.
    let mut checked = 0;
    for algorithm in ["sha512", "sha256"] {
        let Some(expected) = hashes.get(algorithm) else {
            continue;
        };
        let actual: &[u8] = match algorithm {
            "sha512" => &digest.sha512.0,
            _ => &digest.sha256.0,
        };
        if actual != expected.0.as_slice() {
            return Err(Error::HashMismatch {
                what: what.into(),
                algorithm: if algorithm == "sha512" {
                    "SHA-512"
                } else {
                    "SHA-256"
                }
                .into(),
                expected: hex::encode(&expected.0),
                actual: hex::encode(actual),
            });
        }
        checked += 1;
    }
    if checked == 0 {
        return Err(Error::NoUsableHash { what: what.into() });
    }
    Ok(())
}

/// Checks metadata bytes against what timestamp or snapshot lists for them.
pub fn check_meta_bytes(what: &str, bytes: &[u8], listed: &MetaFile) -> Result<()> {
    if listed.length.is_none() && listed.hashes.is_none() {
        return Ok(());
    }
    let digest = digest_reader(bytes).map_err(|e| Error::io(what, e))?;
    check_digest(what, &digest, listed.length, listed.hashes.as_ref())
}

/// Streams the file at `path` and checks it against `info`. Reads at most one byte more
/// than the listed length, so a huge substitute cannot make this slow.
pub fn check_file(what: &str, path: &Path, info: &TargetInfo) -> Result<FileDigest> {
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let digest =
        digest_reader(file.take(info.length.saturating_add(1))).map_err(|e| Error::io(path, e))?;
    check_digest(what, &digest, Some(info.length), Some(&info.hashes))?;
    Ok(digest)
}
