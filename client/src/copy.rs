//! Copying a stream to a new file while hashing it with SHA-512 and SHA-256, in one pass,
//! with memory flat in the stream's size. Used by the device for downloads and by `repo`
//! for ingesting release files.
//!
//! Large streams go through three threads over a few recycled buffers: the caller's thread
//! reads a chunk and hashes it with SHA-512; the next hashes it with SHA-256; the last
//! writes it and hands the buffer back. So one large file keeps two cores busy. Small
//! streams are copied by the caller's thread alone: for them, starting threads and handing
//! chunks between them costs more than it saves.
//!
//! The copy is written with `O_DIRECT` where the filesystem allows it: the bytes go from our
//! buffer to the disk without a second copy through the page cache, which on a busy machine
//! otherwise costs as much CPU as both hashes together, and the final fsync has little left
//! to flush.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use crate::hash::{FileDigest, Sha256, Sha512, STREAM_CHUNK};

/// A running hash: ring's on devices, OpenSSL's in `repo` (faster SHA-512 on x86_64).
pub trait StreamHash: Send {
    /// The digest.
    type Output;
    /// Feeds the next bytes.
    fn update(&mut self, bytes: &[u8]);
    /// The digest of everything fed.
    fn finish(self) -> Self::Output;
}

/// SHA-512 as ring computes it.
pub struct RingSha512(ring::digest::Context);
/// SHA-256 as ring computes it.
pub struct RingSha256(ring::digest::Context);

impl Default for RingSha512 {
    fn default() -> Self {
        RingSha512(ring::digest::Context::new(&ring::digest::SHA512))
    }
}

impl Default for RingSha256 {
    fn default() -> Self {
        RingSha256(ring::digest::Context::new(&ring::digest::SHA256))
    }
}

impl StreamHash for RingSha512 {
    type Output = Sha512;
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(self) -> Sha512 {
        let mut out = [0u8; 64];
        out.copy_from_slice(self.0.finish().as_ref());
        Sha512(out)
    }
}

impl StreamHash for RingSha256 {
    type Output = Sha256;
    fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
    fn finish(self) -> Sha256 {
        let mut out = [0u8; 32];
        out.copy_from_slice(self.0.finish().as_ref());
        Sha256(out)
    }
}

/// Which side of a copy failed: reading the input (for a download, the network: worth a
/// retry) or writing the output (the local disk).
#[derive(Debug)]
pub enum CopyError {
    Read(std::io::Error),
    Write(std::io::Error),
}

impl std::fmt::Display for CopyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyError::Read(e) => write!(f, "reading: {e}"),
            CopyError::Write(e) => write!(f, "writing: {e}"),
        }
    }
}

impl From<CopyError> for std::io::Error {
    fn from(e: CopyError) -> Self {
        match e {
            CopyError::Read(e) | CopyError::Write(e) => e,
        }
    }
}

/// Buffers per copy; bounds memory at `BUFFERS * STREAM_CHUNK` per copy in flight.
const BUFFERS: usize = 6;
/// Alignment and length granularity `O_DIRECT` needs (the largest common block size).
const DIRECT_ALIGN: usize = 4096;
/// Streams announced to be at most this long are copied by one thread.
pub const SMALL_STREAM: u64 = 4 * STREAM_CHUNK as u64;

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

/// A new file at `dest` (which must not exist), written with `O_DIRECT` where possible.
pub struct Output {
    file: File,
    direct: bool,
}

impl Output {
    /// Creates `dest`; fails if it exists.
    pub fn create(dest: &Path) -> std::io::Result<Self> {
        if let Some(flag) = o_direct() {
            match File::options()
                .write(true)
                .create_new(true)
                .custom_flags(flag)
                .open(dest)
            {
                Ok(file) => return Ok(Output { file, direct: true }),
                // tmpfs and some others refuse O_DIRECT: fall back to ordinary writes.
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {}
                Err(e) => return Err(e),
            }
        }
        let file = File::options().write(true).create_new(true).open(dest)?;
        Ok(Output {
            file,
            direct: false,
        })
    }

    fn write_chunk(&mut self, chunk: &mut Chunk) -> std::io::Result<bool> {
        if self.direct && chunk.len % DIRECT_ALIGN != 0 {
            self.file.write_all(chunk.padded())?;
            Ok(true)
        } else {
            self.file.write_all(chunk.data())?;
            Ok(false)
        }
    }

    /// The file, once written (to fsync it, say).
    pub fn into_file(self) -> File {
        self.file
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::other("copy pipeline stopped")
}

/// Copies all of `input` into `output`; returns the digests and length of the bytes
/// copied. `expected_len` (if known) picks the one-thread path for small streams;
/// `progress` is told of every chunk's length as it is read.
pub fn copy_and_hash<A, B>(
    input: &mut (dyn Read + Send),
    output: &mut Output,
    expected_len: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileDigest, CopyError>
where
    A: StreamHash<Output = Sha512> + Default,
    B: StreamHash<Output = Sha256> + Default,
{
    if expected_len.is_some_and(|n| n <= SMALL_STREAM) {
        return copy_serial::<A, B>(input, output, progress);
    }
    let (to_sha256, sha256_in) = sync_channel::<Chunk>(BUFFERS);
    let (to_writer, writer_in) = sync_channel::<Chunk>(BUFFERS);
    let (to_reader, reader_in) = sync_channel::<Chunk>(BUFFERS);

    std::thread::scope(|scope| {
        let sha256_thread = scope.spawn(move || sha256_stage::<B>(sha256_in, to_writer));
        let writer_thread = scope.spawn(|| write_stage(output, writer_in, to_reader));

        let mut sha512 = A::default();
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
                chunk.len = read_full(input, chunk.space())?;
                if chunk.len == 0 {
                    return Ok(());
                }
                sha512.update(chunk.data());
                length += chunk.len as u64;
                progress(chunk.len as u64);
                let last = chunk.len < STREAM_CHUNK;
                to_sha256.send(chunk).map_err(|_| stopped())?;
                if last {
                    return Ok(());
                }
            }
        })();
        drop(to_sha256);
        let sha256 = sha256_thread
            .join()
            .map_err(|_| CopyError::Write(stopped()))?;
        let written = writer_thread
            .join()
            .map_err(|_| CopyError::Write(stopped()))?;
        // A write failure stops the reader too ("pipeline stopped"): report the cause.
        let written = written.map_err(CopyError::Write)?;
        read.map_err(CopyError::Read)?;
        if written != length {
            return Err(CopyError::Write(std::io::Error::other(
                "copy is shorter than what was read",
            )));
        }
        Ok(FileDigest {
            length,
            sha512: sha512.finish(),
            sha256,
        })
    })
}

/// The same copy on one thread: read, hash both ways, write, chunk by chunk.
fn copy_serial<A, B>(
    input: &mut (dyn Read + Send),
    output: &mut Output,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<FileDigest, CopyError>
where
    A: StreamHash<Output = Sha512> + Default,
    B: StreamHash<Output = Sha256> + Default,
{
    let (mut sha512, mut sha256) = (A::default(), B::default());
    let mut chunk = Chunk::new();
    let mut length = 0u64;
    loop {
        chunk.len = read_full(input, chunk.space()).map_err(CopyError::Read)?;
        sha512.update(chunk.data());
        sha256.update(chunk.data());
        length += chunk.len as u64;
        progress(chunk.len as u64);
        if output.write_chunk(&mut chunk).map_err(CopyError::Write)? {
            output.file.set_len(length).map_err(CopyError::Write)?;
        }
        if chunk.len < STREAM_CHUNK {
            break;
        }
    }
    Ok(FileDigest {
        length,
        sha512: sha512.finish(),
        sha256: sha256.finish(),
    })
}

fn sha256_stage<B: StreamHash<Output = Sha256> + Default>(
    input: Receiver<Chunk>,
    next: SyncSender<Chunk>,
) -> Sha256 {
    let mut ctx = B::default();
    for chunk in input {
        ctx.update(chunk.data());
        if next.send(chunk).is_err() {
            // The writer failed; hash nothing more, the error surfaces there.
            break;
        }
    }
    ctx.finish()
}

/// Writes every chunk in order; returns the number of bytes of data written.
fn write_stage(
    output: &mut Output,
    input: Receiver<Chunk>,
    back: SyncSender<Chunk>,
) -> std::io::Result<u64> {
    let mut written = 0u64;
    let mut padded_tail = false;
    for mut chunk in input {
        padded_tail |= output.write_chunk(&mut chunk)?;
        written += chunk.len as u64;
        // The reader may be done and gone; then the buffer is simply dropped.
        let _ = back.send(chunk);
    }
    if padded_tail {
        output.file.set_len(written)?;
    }
    Ok(written)
}

/// Fills `buf` unless the stream ends first; returns how many bytes were read.
fn read_full(input: &mut (dyn Read + Send), buf: &mut [u8]) -> std::io::Result<usize> {
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

    fn round_trip(len: usize, announced: Option<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
        let dst = dir.path().join("dst");
        let mut output = Output::create(&dst).unwrap();
        let digest = copy_and_hash::<RingSha512, RingSha256>(
            &mut &data[..],
            &mut output,
            announced,
            &|_| {},
        )
        .unwrap();
        assert_eq!(digest, crate::hash::digest_reader(&data[..]).unwrap());
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
            round_trip(len, Some(len as u64));
            round_trip(len, None);
        }
    }

    #[test]
    fn read_and_write_failures_are_told_apart() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
                Err(std::io::Error::new(std::io::ErrorKind::TimedOut, "stalled"))
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let mut output = Output::create(&dir.path().join("dst")).unwrap();
        let err = copy_and_hash::<RingSha512, RingSha256>(&mut Broken, &mut output, None, &|_| {});
        assert!(matches!(err, Err(CopyError::Read(_))), "{err:?}");
    }
}
