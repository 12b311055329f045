//! Reading release files once: each file is hashed with SHA-512 and SHA-256 and written to
//! the staging copy in the same pass, with memory flat in file size (the pipeline of
//! [`updater::copy`]).
//!
//! Hashing uses the system's OpenSSL libcrypto: its SHA-512 has the AVX2/BMI2 code path
//! that ring, AWS-LC and RustCrypto lack (measured here: 818 MB/s against 560 MB/s), and
//! SHA-512 of one file cannot be spread over cores. Devices verify with ring; this is the
//! admin's bulk path only.

use std::path::Path;

use updater::copy::{Output, StreamHash};
use updater::hash::{FileDigest, Sha256, Sha512};

use crate::progress::Progress;

/// SHA-512 by OpenSSL.
#[derive(Default)]
struct OpensslSha512(openssl::sha::Sha512);
/// SHA-256 by OpenSSL.
#[derive(Default)]
struct OpensslSha256(openssl::sha::Sha256);

impl StreamHash for OpensslSha512 {
    type Output = Sha512;
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(self) -> Sha512 {
        Sha512(self.0.finish())
    }
}

impl StreamHash for OpensslSha256 {
    type Output = Sha256;
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(self) -> Sha256 {
        Sha256(self.0.finish())
    }
}

/// Copies `source` to the new file `dest` and returns the digests of the bytes copied.
pub fn copy_and_hash(
    source: &Path,
    dest: &Path,
    progress: &Progress,
) -> std::io::Result<FileDigest> {
    // A FIFO or device given as a release file is refused, not waited on or read forever.
    let mut input = updater::fs::open_regular(source).map_err(std::io::Error::other)?;
    let length = input.metadata()?.len();
    let mut output = Output::create(dest)?;
    // Reading a local file costs little CPU: the costlier SHA-512 runs on the reading
    // thread, SHA-256 on the next.
    let copied = updater::copy::copy_and_hash(
        &mut input,
        &mut output,
        OpensslSha512::default(),
        OpensslSha256::default(),
        Some(length),
        &|n| progress.advance(n),
    )?;
    Ok(FileDigest {
        length: copied.length,
        sha512: copied.first,
        sha256: copied.second,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_digests_match_ring() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let data: Vec<u8> = (0..5_000_000usize)
            .map(|i| (i * 7 + i / 4099) as u8)
            .collect();
        std::fs::write(&src, &data).unwrap();
        let dst = dir.path().join("dst");
        let digest = copy_and_hash(&src, &dst, &Progress::bytes(0, "", true)).unwrap();
        assert_eq!(digest, updater::hash::digest_reader(&data[..]).unwrap());
        assert_eq!(std::fs::read(&dst).unwrap(), data);
    }
}
