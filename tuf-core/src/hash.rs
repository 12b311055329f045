//! Every SHA-512 and SHA-256 digest both programs compute: the device (metadata, downloads,
//! key ids, policy identity) and `repo` (ingesting release files) hash here and nowhere else.
//!
//! The implementation is RustCrypto's `sha2`, pure Rust, as the design card names: it picks
//! the CPU's SHA-NI and AVX2 paths at run time, so no C library is linked for hashing. ring
//! stays only for TLS and signature verification. The index lists both digests for every
//! artifact: SHA-512 is what this project checks; SHA-256 is listed too because `tough` and
//! other SHA-256-only clients must read our repositories.

use std::fmt;
use std::io::Read;

use sha2::Digest as _;

/// A SHA-512 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha512(pub [u8; 64]);

/// A SHA-256 digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256(pub [u8; 32]);

impl Sha512 {
    /// The digest of `bytes`.
    pub fn digest(bytes: &[u8]) -> Self {
        Sha512(sha2::Sha512::digest(bytes).into())
    }

    /// Lowercase hex, as TUF writes it.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl Sha256 {
    /// The digest of `bytes`.
    pub fn digest(bytes: &[u8]) -> Self {
        Sha256(sha2::Sha256::digest(bytes).into())
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

/// A running hash, fed bytes in order. The `updater` crate's copy pipeline runs two of these
/// on separate threads; `()` hashes nothing.
pub trait StreamHash: Send {
    /// The digest.
    type Output: Send;
    /// Feeds the next bytes.
    fn update(&mut self, bytes: &[u8]);
    /// The digest of everything fed.
    fn finish(self) -> Self::Output;
}

impl StreamHash for () {
    type Output = ();
    fn update(&mut self, _bytes: &[u8]) {}
    fn finish(self) {}
}

/// A running SHA-512.
#[derive(Clone, Default)]
pub struct Sha512Hasher(sha2::Sha512);

/// A running SHA-256.
#[derive(Clone, Default)]
pub struct Sha256Hasher(sha2::Sha256);

impl StreamHash for Sha512Hasher {
    type Output = Sha512;
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(self) -> Sha512 {
        Sha512(self.0.finalize().into())
    }
}

impl StreamHash for Sha256Hasher {
    type Output = Sha256;
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(self) -> Sha256 {
        Sha256(self.0.finalize().into())
    }
}

/// The algorithms a listed digest may use that this project can check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algorithm {
    Sha512,
    Sha256,
}

impl Algorithm {
    /// The name in a TUF `hashes` map.
    pub fn key(self) -> &'static str {
        match self {
            Algorithm::Sha512 => "sha512",
            Algorithm::Sha256 => "sha256",
        }
    }

    /// The name for people, as in error messages.
    pub fn display_name(self) -> &'static str {
        match self {
            Algorithm::Sha512 => "SHA-512",
            Algorithm::Sha256 => "SHA-256",
        }
    }

    /// A running hash of this algorithm.
    pub fn hasher(self) -> AnyHasher {
        match self {
            Algorithm::Sha512 => AnyHasher::Sha512(Sha512Hasher::default()),
            Algorithm::Sha256 => AnyHasher::Sha256(Sha256Hasher::default()),
        }
    }
}

/// A running hash whose algorithm is chosen at run time (by what an index lists).
#[derive(Clone)]
pub enum AnyHasher {
    Sha512(Sha512Hasher),
    Sha256(Sha256Hasher),
}

impl StreamHash for AnyHasher {
    type Output = Vec<u8>;
    fn update(&mut self, bytes: &[u8]) {
        match self {
            AnyHasher::Sha512(h) => h.update(bytes),
            AnyHasher::Sha256(h) => h.update(bytes),
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            AnyHasher::Sha512(h) => h.finish().0.to_vec(),
            AnyHasher::Sha256(h) => h.finish().0.to_vec(),
        }
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
#[derive(Default)]
pub(crate) struct DualHasher {
    sha512: Sha512Hasher,
    sha256: Sha256Hasher,
    length: u64,
}

impl DualHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds the next bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.sha512.update(bytes);
        self.sha256.update(bytes);
        self.length += bytes.len() as u64;
    }

    /// The digests of everything fed.
    pub fn finish(self) -> FileDigest {
        FileDigest {
            length: self.length,
            sha512: self.sha512.finish(),
            sha256: self.sha256.finish(),
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

    // FIPS 180-2 appendix examples (NIST's "abc" and two-block vectors).
    const ABC_SHA256: &str = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const ABC_SHA512: &str = "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                              2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f";
    const TWO_BLOCK_256_INPUT: &[u8] = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    const TWO_BLOCK_256: &str = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
    const TWO_BLOCK_512_INPUT: &[u8] = b"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn\
                                         hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
    const TWO_BLOCK_512: &str = "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018\
                                 501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909";
    // One million 'a's: NIST's long-message vectors, fed across several chunks.
    const MILLION_A_SHA256: &str =
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";
    const MILLION_A_SHA512: &str = "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973eb\
                                    de0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b";

    #[test]
    fn nist_vectors_in_one_call() {
        assert_eq!(Sha256::digest(b"abc").to_hex(), ABC_SHA256);
        assert_eq!(Sha512::digest(b"abc").to_hex(), ABC_SHA512);
        assert_eq!(Sha256::digest(TWO_BLOCK_256_INPUT).to_hex(), TWO_BLOCK_256);
        assert_eq!(Sha512::digest(TWO_BLOCK_512_INPUT).to_hex(), TWO_BLOCK_512);
        let d = digest_reader(&b"abc"[..]).unwrap();
        assert_eq!(d.length, 3);
        assert_eq!(d.sha256.to_hex(), ABC_SHA256);
        assert_eq!(d.sha512.to_hex(), ABC_SHA512);
    }

    #[test]
    fn nist_long_vector_over_uneven_chunks() {
        // Chunk sizes that split blocks of both algorithms (64 and 128 bytes) off-boundary.
        let million_a = vec![b'a'; 1_000_000];
        let mut dual = DualHasher::new();
        let mut any512 = Algorithm::Sha512.hasher();
        let mut any256 = Algorithm::Sha256.hasher();
        for chunk in million_a.chunks(65_537) {
            for part in chunk.chunks(1_000) {
                dual.update(part);
                any512.update(part);
                any256.update(part);
            }
        }
        let d = dual.finish();
        assert_eq!(d.length, 1_000_000);
        assert_eq!(d.sha256.to_hex(), MILLION_A_SHA256);
        assert_eq!(d.sha512.to_hex(), MILLION_A_SHA512);
        assert_eq!(hex::encode(any512.finish()), MILLION_A_SHA512);
        assert_eq!(hex::encode(any256.finish()), MILLION_A_SHA256);
        // Streamed over STREAM_CHUNK-sized reads too.
        let streamed = digest_reader(&million_a[..]).unwrap();
        assert_eq!(streamed, d);
    }
}
