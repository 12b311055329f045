//! Checking bytes against the length and hashes that trusted metadata lists for them.

use crate::error::{Error, Result};
use crate::hash::{Algorithm, FileDigest, Sha256, Sha512};
use crate::metadata::{Hashes, MetaFile};

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
    for algorithm in [Algorithm::Sha512, Algorithm::Sha256] {
        let Some(expected) = hashes.get(algorithm.key()) else {
            continue;
        };
        let actual: &[u8] = match algorithm {
            Algorithm::Sha512 => &digest.sha512.0,
            Algorithm::Sha256 => &digest.sha256.0,
        };
        if actual != expected {
            return Err(Error::HashMismatch {
                what: what.into(),
                algorithm: algorithm.display_name().into(),
                expected: hex::encode(expected),
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
    let digest = FileDigest {
        length: bytes.len() as u64,
        sha256: Sha256::digest(bytes),
        sha512: Sha512::digest(bytes),
    };
    check_digest(what, &digest, listed.length, listed.hashes.as_ref())
}
