//! Reading release files once: each chunk is hashed with SHA-512 and SHA-256 and written to
//! the staging copy in the same pass, with memory flat in file size.
//!
//! Per file, three threads form a pipeline over a few recycled buffers: the reader reads a
//! chunk and hashes it with SHA-512; the next thread hashes it with SHA-256; the last writes
//! it and hands the buffer back. So one large file keeps both cores busy, and many files are
//! spread over all cores by `parallel::map`.
//!
//! Hashing uses the system's OpenSSL libcrypto: its SHA-512 has the AVX2/BMI2 code path
//! that ring, AWS-LC and RustCrypto lack (measured here: 818 MB/s against 560 MB/s), and
//! SHA-512 of one file cannot be spread over cores. Devices verify with ring; this is the
//! admin's bulk path only.
//!
//! The copy is written with `O_DIRECT` where the filesystem allows it: the bytes go from our
//! buffer to the disk without a second copy through the page cache, which on a busy machine
//! otherwise costs as much CPU as both hashes together.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use updater::hash::{FileDigest, Sha256, Sha512, STREAM_CHUNK};

use crate::progress::Progress;

/// Buffers per file pipeline; bounds memory at `BUFFERS * STREAM_CHUNK` per file in flight.
const BUFFERS: usize = 6;
/// Alignment and length granularity `O_DIRECT` needs (the largest common block size).
const DIRECT_ALIGN: usize = 4096;
/// The `O_DIRECT` open flag, where the platform has one.
#[cfg(target_os = "linux")]
fn o_direct() -> Option<i32> {
    Some(libc::O_DIRECT)
}
#[cfg(not(target_os = "linux"))]
fn o_direct() -> Option<i32> {
    None
}

/// A chunk buffer whose data starts at a `DIRECT_ALIGN` boundary, as `O_DIRECT` requires.
struct Chunk {
    storage: Vec<u8>,
    start: usize,
    len: usize,
}

impl Chunk {
    fn new() -> Self {
        let storage = vec![0u8; STREAM_CHUNK + DIRECT_ALIGN];
        let start = storage.as_ptr().align_offset(DIRECT_ALIGN);
        Chunk {
            storage,
            start,
            len: 0,
        }
    }

    fn space(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.start + STREAM_CHUNK]
    }

    fn data(&self) -> &[u8] {
        &self.storage[self.start..self.start + self.len]
    }

    /// The data padded with zeros to a whole number of blocks (for the last `O_DIRECT`
    /// write; the file is cut back to its real length afterwards).
    fn padded(&mut self) -> &[u8] {
        let padded = self.len.div_ceil(DIRECT_ALIGN) * DIRECT_ALIGN;
        self.storage[self.start + self.len..self.start + padded].fill(0);
        &self.storage[self.start..self.start + padded]
    }
}

/// Opens `dest` as a new file, with `O_DIRECT` when the filesystem supports it.
fn create_output(dest: &Path) -> std::io::Result<(File, bool)> {
    if let Some(flag) = o_direct() {
        match File::options()
            .write(true)
            .create_new(true)
            .custom_flags(flag)
            .open(dest)
        {
            Ok(file) => return Ok((file, true)),
            // tmpfs and some others refuse O_DIRECT: fall back to ordinary writes.
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
            Err(e) => return Err(e),
        }
    }
    let file = File::options().write(true).create_new(true).open(dest)?;
    Ok((file, false))
}

fn stopped() -> std::io::Error {
    std::io::Error::other("copy pipeline stopped")
}

/// Files up to this size are copied by one thread: for them, starting two more threads
/// and handing chunks between them costs more than it saves.
const SMALL_FILE: u64 = 4 * STREAM_CHUNK as u64;

/// Copies `source` to the new file `dest` and returns the digests of the bytes copied.
pub fn copy_and_hash(
    source: &Path,
    dest: &Path,
    progress: &Progress,
) -> std::io::Result<FileDigest> {
    let mut input = File::open(source)?;
    let (output, direct) = create_output(dest)?;
    if input.metadata()?.len() <= SMALL_FILE {
        return copy_and_hash_serial(input, output, direct, progress);
    }
    let (to_sha256, sha256_in) = sync_channel::<Chunk>(BUFFERS);
    let (to_writer, writer_in) = sync_channel::<Chunk>(BUFFERS);
    let (to_reader, reader_in) = sync_channel::<Chunk>(BUFFERS);

    std::thread::scope(|scope| {
        let sha256_thread = scope.spawn(move || sha256_stage(sha256_in, to_writer));
        let writer_thread = scope.spawn(move || write_stage(output, direct, writer_in, to_reader));

        let mut sha512 = openssl::sha::Sha512::new();
        let mut length = 0u64;
        let read = (|| -> std::io::Result<()> {
            let mut fresh = BUFFERS;
            loop {
                let mut chunk = if fresh > 0 {
                    fresh -= 1;
                    Chunk::new()
                } else {
                    reader_in.recv().map_err(|_| stopped())?
                };
                chunk.len = read_full(&mut input, chunk.space())?;
                if chunk.len == 0 {
                    return Ok(());
                }
                sha512.update(chunk.data());
                length += chunk.len as u64;
                progress.advance(chunk.len as u64);
                let last = chunk.len < STREAM_CHUNK;
                to_sha256.send(chunk).map_err(|_| stopped())?;
                if last {
                    return Ok(());
                }
            }
        })();
        drop(to_sha256);
        let sha256 = sha256_thread.join().map_err(|_| stopped())?;
        let written = writer_thread.join().map_err(|_| stopped())?;
        read?;
        let written = written?;
        if written != length {
            return Err(std::io::Error::other("copy is shorter than what was read"));
        }
        Ok(FileDigest {
            length,
            sha512: Sha512(sha512.finish()),
            sha256: Sha256(sha256),
        })
    })
}

/// The same copy on one thread: read, hash both ways, write, chunk by chunk.
fn copy_and_hash_serial(
    mut input: File,
    mut output: File,
    direct: bool,
    progress: &Progress,
) -> std::io::Result<FileDigest> {
    let mut sha512 = openssl::sha::Sha512::new();
    let mut sha256 = openssl::sha::Sha256::new();
    let mut chunk = Chunk::new();
    let mut length = 0u64;
    loop {
        chunk.len = read_full(&mut input, chunk.space())?;
        sha512.update(chunk.data());
        sha256.update(chunk.data());
        length += chunk.len as u64;
        progress.advance(chunk.len as u64);
        if direct && chunk.len % DIRECT_ALIGN != 0 {
            output.write_all(chunk.padded())?;
            output.set_len(length)?;
        } else {
            output.write_all(chunk.data())?;
        }
        if chunk.len < STREAM_CHUNK {
            break;
        }
    }
    Ok(FileDigest {
        length,
        sha512: Sha512(sha512.finish()),
        sha256: Sha256(sha256.finish()),
    })
}

fn sha256_stage(input: Receiver<Chunk>, next: SyncSender<Chunk>) -> [u8; 32] {
    let mut ctx = openssl::sha::Sha256::new();
    for chunk in input {
        ctx.update(chunk.data());
        if next.send(chunk).is_err() {
            // The writer failed; keep hashing nothing more, the error surfaces there.
            break;
        }
    }
    ctx.finish()
}

/// Writes every chunk in order; returns the number of bytes of data written.
fn write_stage(
    mut output: File,
    direct: bool,
    input: Receiver<Chunk>,
    back: SyncSender<Chunk>,
) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut padded_tail = false;
    for mut chunk in input {
        let len = chunk.len;
        if direct && len % DIRECT_ALIGN != 0 {
            output.write_all(chunk.padded())?;
            padded_tail = true;
        } else {
            output.write_all(chunk.data())?;
        }
        written += len as u64;
        // The reader may be done and gone; then the buffer is simply dropped.
        let _ = back.send(chunk);
    }
    if padded_tail {
        output.set_len(written)?;
    }
    Ok(written)
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

    fn round_trip(len: usize) {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src");
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
        std::fs::write(&src, &data).unwrap();
        let dst = dir.path().join("dst");
        let digest = copy_and_hash(&src, &dst, &Progress::bytes(0, "", true)).unwrap();
        assert_eq!(digest, updater::hash::digest_reader(&data[..]).unwrap());
        assert_eq!(std::fs::read(&dst).unwrap(), data, "copy of {len} bytes");
    }

    #[test]
    fn copies_and_hashes_like_a_single_pass() {
        for len in [
            0,
            1,
            4095,
            4096,
            STREAM_CHUNK,
            STREAM_CHUNK + 1,
            (BUFFERS + 3) * STREAM_CHUNK + 12345,
        ] {
            round_trip(len);
        }
    }
}
