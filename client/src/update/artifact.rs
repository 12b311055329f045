//! Checking artifact bytes against what the verified index says about them.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, Result};
use crate::hash::{digest_reader, Algorithm, AnyHasher, FileDigest, StreamHash};
use crate::metadata::TargetInfo;
use tuf_core::Error as CoreError;

pub use tuf_core::digest::{check_digest, check_meta_bytes};

/// Streams the file at `path` and checks it against `info`. Reads at most one byte more
/// than the listed length, so a huge substitute cannot make this slow.
pub fn check_file(what: &str, path: &Path, info: &TargetInfo) -> Result<FileDigest> {
    let file = crate::fs::open_regular(path)?;
    let digest =
        digest_reader(file.take(info.length.saturating_add(1))).map_err(|e| Error::io(path, e))?;
    check_digest(what, &digest, Some(info.length), Some(&info.hashes))?;
    Ok(digest)
}

/// The one hash a device checks a target by: SHA-512 where the index lists it (this
/// project's index always does; SHA-256 is there for tough), else SHA-256, for
/// repositories made by others. Either covers every byte; computing one instead of two
/// keeps a download at the link's speed on a small CPU.
#[derive(Debug, Clone)]
pub(crate) struct TargetHash {
    algorithm: Algorithm,
    expected: Vec<u8>,
}

impl TargetHash {
    /// The hash to check `info` by.
    pub(crate) fn for_target(what: &str, info: &TargetInfo) -> Result<Self> {
        for algorithm in [Algorithm::Sha512, Algorithm::Sha256] {
            if let Some(expected) = info.hashes.get(algorithm.key()) {
                return Ok(TargetHash {
                    algorithm,
                    expected: expected.to_vec(),
                });
            }
        }
        Err(CoreError::NoUsableHash { what: what.into() }.into())
    }

    /// The first 16 hex digits of the expected digest, for file names.
    pub(crate) fn short_hex(&self) -> String {
        hex::encode(self.expected.get(..8).unwrap_or(&self.expected))
    }

    /// A running hash of the right algorithm.
    pub(crate) fn hasher(&self) -> AnyHasher {
        self.algorithm.hasher()
    }

    /// Checks a copy's length and digest against `info`.
    pub fn check(&self, what: &str, info: &TargetInfo, length: u64, digest: &[u8]) -> Result<()> {
        if length != info.length {
            return Err(CoreError::LengthMismatch {
                what: what.into(),
                expected: info.length,
                actual: length,
            }
            .into());
        }
        if digest != self.expected.as_slice() {
            return Err(CoreError::HashMismatch {
                what: what.into(),
                algorithm: self.algorithm.display_name().into(),
                expected: hex::encode(&self.expected),
                actual: hex::encode(digest),
            }
            .into());
        }
        Ok(())
    }

    /// Checks the file at `path` against `info`, reading at most one byte past its length.
    pub fn check_file(&self, what: &str, path: &Path, info: &TargetInfo) -> Result<()> {
        let mut file = crate::fs::open_regular(path)?;
        self.check_copy(what, path, &mut file, &mut std::io::sink(), info)
    }

    /// Copies `input` (read from `path`) into `output`, checking the bytes against `info`
    /// as they pass, reading at most one byte past the listed length. What reaches `output`
    /// may be used only once this returned `Ok`: a copy taken this way is the verified one,
    /// with no second read of the source that could see other bytes.
    pub(crate) fn check_copy(
        &self,
        what: &str,
        path: &Path,
        input: &mut impl Read,
        output: &mut impl Write,
        info: &TargetInfo,
    ) -> Result<()> {
        let mut input = input.take(info.length.saturating_add(1));
        let mut hash = self.hasher();
        let mut buf = vec![0u8; crate::hash::STREAM_CHUNK];
        let mut length = 0u64;
        loop {
            let n = match input.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(Error::io(path, e)),
            };
            hash.update(&buf[..n]);
            output
                .write_all(&buf[..n])
                .map_err(|e| Error::io(path, e))?;
            length += n as u64;
        }
        self.check(what, info, length, &hash.finish())
    }
}
