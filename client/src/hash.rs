//! SHA-512 and SHA-256 digests: the index lists both for every artifact.
//!
//! SHA-512 is what this project checks; SHA-256 is listed too because `tough` and other
//! SHA-256-only clients must read our repositories. Hashing uses `ring`, whose assembly is
//! the same as OpenSSL's, so `repo add` hashes at the machine's limit.

use std::fmt;
use std::io::Read;

use ring::digest;

/// A SHA-512 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha512(pub [u8; 64]);

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha512 {
    /// The digest of `bytes`.
    pub fn digest(bytes: &[u8]) -> Self {
        let mut out = [0u8; 64];
        out.copy_from_slice(digest::digest(&digest::SHA512, bytes).as_ref());
        Sha512(out)
    }

    /// Lowercase hex, as TUF writes it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl Sha256 {
    /// The digest of `bytes`.
    pub fn digest(bytes: &[u8]) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, bytes).as_ref());
        Sha256(out)
    }

    /// Lowercase hex, as TUF writes it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for Sha512 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha512 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha512({})", self.to_hex())
    }
}

impl fmt::Display for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Sha256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sha256({})", self.to_hex())
    }
}

/// Both digests and the length of one stream of bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileDigest {
    pub length: u64,
    pub sha512: Sha512,
    pub sha256: Sha256,
}

/// Computes SHA-512 and SHA-256 over bytes fed in order.
pub struct DualHasher {
    sha512: digest::Context,
    sha256: digest::Context,
    length: u64,
}

impl Default for DualHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl DualHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        DualHasher {
            sha512: digest::Context::new(&digest::SHA512),
            sha256: digest::Context::new(&digest::SHA256),
            length: 0,
        }
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha512.update(bytes);
        self.sha256.update(bytes);
        self.length += bytes.len() as u64;
    }

    /// The digests of everything fed.
    pub fn finish(self) -> FileDigest {
        let mut sha512 = [0u8; 64];
        sha512.copy_from_slice(self.sha512.finish().as_ref());
        let mut sha256 = [0u8; 32];
        sha256.copy_from_slice(self.sha256.finish().as_ref());
        FileDigest {
            length: self.length,
            sha512: Sha512(sha512),
            sha256: Sha256(sha256),
        }
    }
}

/// Size of the buffer streaming reads use: large enough for full-speed I/O, small enough
/// that memory stays flat whatever the file size.
pub const STREAM_CHUNK: usize = 1 << 20;

/// Hashes a whole stream with bounded memory.
pub fn digest_reader(mut reader: impl Read) -> std::io::Result<FileDigest> {
    let mut hasher = DualHasher::new();
    let mut buf = vec![0u8; STREAM_CHUNK];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
    }
    Ok(hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        let d = digest_reader(&b"abc"[..]).unwrap();
        assert_eq!(d.length, 3);
        assert_eq!(
            d.sha256.to_hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(&d.sha512.to_hex()[..32], "ddaf35a193617abacc417349ae204131");
        assert_eq!(d.sha512, Sha512::digest(b"abc"));
    }
}
