//! Reading release files once: each chunk is hashed with SHA-512 and SHA-256 and written to
//! the staging copy in the same pass, with memory flat in file size.
//!
//! SHA-256 runs on a helper thread fed the same chunks, so one large file keeps two cores
//! busy; many files are spread over all cores by `parallel::map`.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;

use ring::digest;
use updater::hash::{FileDigest, Sha256, Sha512, STREAM_CHUNK};

use crate::progress::Progress;

/// Chunks in flight between the reader and the SHA-256 thread; bounds memory per file.
const CHUNKS_IN_FLIGHT: usize = 4;

/// Copies `source` to the new file `dest` and returns the digests of the bytes copied.
pub fn copy_and_hash(
    source: &Path,
    dest: &Path,
    progress: &Progress,
) -> std::io::Result<FileDigest> {
    let mut input = File::open(source)?;
    let mut output = File::options().write(true).create_new(true).open(dest)?;
    let (to_hasher, from_reader) = sync_channel::<Arc<Vec<u8>>>(CHUNKS_IN_FLIGHT);
    let (to_reader, from_hasher) = sync_channel::<Arc<Vec<u8>>>(CHUNKS_IN_FLIGHT + 1);

    std::thread::scope(|scope| {
        let sha256_thread = scope.spawn(move || {
            let mut ctx = digest::Context::new(&digest::SHA256);
            for chunk in from_reader {
                ctx.update(&chunk);
                // The reader may have stopped on an error; then nobody takes chunks back.
                let _ = to_reader.send(chunk);
            }
            ctx.finish()
        });

        let mut sha512 = digest::Context::new(&digest::SHA512);
        let mut length = 0u64;
        let mut spare: Vec<Vec<u8>> = (0..CHUNKS_IN_FLIGHT)
            .map(|_| vec![0u8; STREAM_CHUNK])
            .collect();
        let copied = (|| -> std::io::Result<()> {
            loop {
                let mut buf = match spare.pop() {
                    Some(buf) => buf,
                    None => {
                        let back = from_hasher
                            .recv()
                            .map_err(|_| std::io::Error::other("hash thread stopped"))?;
                        // The hasher sent it back, so ours is the only reference left.
                        Arc::try_unwrap(back).unwrap_or_else(|arc| (*arc).clone())
                    }
                };
                buf.resize(STREAM_CHUNK, 0);
                let n = read_full(&mut input, &mut buf)?;
                if n == 0 {
                    return Ok(());
                }
                buf.truncate(n);
                sha512.update(&buf);
                output.write_all(&buf)?;
                length += n as u64;
                progress.advance(n as u64);
                let chunk = Arc::new(buf);
                to_hasher
                    .send(chunk)
                    .map_err(|_| std::io::Error::other("hash thread stopped"))?;
            }
        })();
        drop(to_hasher);
        let sha256 = sha256_thread
            .join()
            .map_err(|_| std::io::Error::other("hash thread panicked"))?;
        copied?;
        let mut d512 = [0u8; 64];
        d512.copy_from_slice(sha512.finish().as_ref());
        let mut d256 = [0u8; 32];
        d256.copy_from_slice(sha256.as_ref());
        Ok(FileDigest {
            length,
            sha512: Sha512(d512),
            sha256: Sha256(d256),
        })
    })
}

/// Fills `buf` unless the stream ends first; returns how many bytes were read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_hashes_like_a_single_pass() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let data: Vec<u8> = (0..(3 * STREAM_CHUNK + 12345))
            .map(|i| (i * 7) as u8)
            .collect();
        std::fs::write(&src, &data).unwrap();
        let dst = dir.path().join("dst");
        let digest = copy_and_hash(&src, &dst, &Progress::bytes(0, "", true)).unwrap();
        assert_eq!(digest, updater::hash::digest_reader(&data[..]).unwrap());
        assert_eq!(std::fs::read(&dst).unwrap(), data);
    }
}
