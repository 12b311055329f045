//! Reading release files once: each file is hashed with SHA-512 and SHA-256 and written to
//! the staging copy in the same pass, with memory flat in file size (the pipeline of
//! [`updater::update::copy`]).
//!
//! The digests come from [`updater::hash`], the same code the device verifies with: SHA-512
//! on the reading thread, SHA-256 on the next, so one large file keeps two cores busy.

use std::path::Path;

use updater::hash::{FileDigest, Sha256Hasher, Sha512Hasher};
use updater::update::copy::Output;

use crate::progress::Progress;

/// Copies `source` to the new file `dest` and returns the digests of the bytes copied.
pub(crate) fn copy_and_hash(
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
    let copied = updater::update::copy::copy_and_hash(
        &mut input,
        &mut output,
        Sha512Hasher::default(),
        Sha256Hasher::default(),
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
    fn multi_chunk_file_digests_match_known_answers() {
        // Five chunks: large enough for the threaded path (more than `SMALL_STREAM`). The
        // expected digests were computed by coreutils' sha512sum and sha256sum.
        const _: () = assert!(5_000_000 > updater::update::copy::SMALL_STREAM);
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let data: Vec<u8> = (0..5_000_000usize)
            .map(|i| (i * 7 + i / 4099) as u8)
            .collect();
        std::fs::write(&src, &data).unwrap();
        let dst = dir.path().join("dst");
        let digest = copy_and_hash(&src, &dst, &Progress::bytes(0, "", true)).unwrap();
        assert_eq!(digest.length, 5_000_000);
        assert_eq!(
            digest.sha512.to_hex(),
            "d0c786d546890549746bf363acffdd90f6ab92bc1593b2fdeddaf50c4316602c\
             cd8b040a4c870bc354f7cafd7ba180739ba1cfcdbf9bc53fe3330148c836fca2"
        );
        assert_eq!(
            digest.sha256.to_hex(),
            "8d8e6ffaa5e45389f66e4bd0546517710ced894d03dbba49855757609723d821"
        );
        assert_eq!(std::fs::read(&dst).unwrap(), data);
    }
}
