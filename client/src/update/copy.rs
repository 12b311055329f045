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

use crate::hash::{StreamHash, STREAM_CHUNK};

/// What a copy produced: its length and the two digests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied<F, S> {
    pub length: u64,
    /// The digest computed on the reading thread.
    pub first: F,
    /// The digest computed on the middle thread.
    pub second: S,
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
        if self.direct && !chunk.len.is_multiple_of(DIRECT_ALIGN) {
            self.file.write_all(chunk.padded())?;
            Ok(true)
        } else {
            self.file.write_all(chunk.data())?;
            Ok(false)
        }
    }

    /// The file, once written (to fsync it, say).
    pub(crate) fn into_file(self) -> File {
        self.file
    }
}

fn stopped() -> std::io::Error {
    std::io::Error::other("copy pipeline stopped")
}

/// Copies all of `input` into `output`, feeding every byte to `first` (on the reading
/// thread) and `second` (on a thread of its own); returns the length and both digests.
/// Put the costlier hash second when reading costs CPU too (a network stream), first when
/// it does not (a local file). `expected_len` (if known) picks the one-thread path for
/// small streams; `progress` is told of every chunk's length as it is read.
pub fn copy_and_hash<F: StreamHash, S: StreamHash>(
    input: &mut (dyn Read + Send),
    output: &mut Output,
    mut first: F,
    second: S,
    expected_len: Option<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Copied<F::Output, S::Output>, CopyError> {
    if expected_len.is_some_and(|n| n <= SMALL_STREAM) {
        return copy_serial(input, output, first, second, progress);
    }
    let (to_second, second_in) = sync_channel::<Chunk>(BUFFERS);
    let (to_writer, writer_in) = sync_channel::<Chunk>(BUFFERS);
    let (to_reader, reader_in) = sync_channel::<Chunk>(BUFFERS);

    std::thread::scope(|scope| {
        let second_thread = scope.spawn(move || hash_stage(second, second_in, to_writer));
        let writer_thread = scope.spawn(move || write_stage(output, writer_in, to_reader));

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
                let (n, failure) = read_full(input, chunk.space());
                chunk.len = n;
                let last = n < STREAM_CHUNK;
                if n > 0 {
                    first.update(chunk.data());
                    length += n as u64;
                    progress(n as u64);
                    // Bytes that arrived before a failure are still written, so that a
                    // download cut midway can resume after them.
                    to_second.send(chunk).map_err(|_| stopped())?;
                }
                if let Some(e) = failure {
                    return Err(e);
                }
                if last {
                    return Ok(());
                }
            }
        })();
        drop(to_second);
        let second = second_thread
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
        Ok(Copied {
            length,
            first: first.finish(),
            second,
        })
    })
}

/// The same copy on one thread: read, hash both ways, write, chunk by chunk.
fn copy_serial<F: StreamHash, S: StreamHash>(
    input: &mut (dyn Read + Send),
    output: &mut Output,
    mut first: F,
    mut second: S,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Copied<F::Output, S::Output>, CopyError> {
    let mut chunk = Chunk::new();
    let mut length = 0u64;
    loop {
        let (n, failure) = read_full(input, chunk.space());
        chunk.len = n;
        first.update(chunk.data());
        second.update(chunk.data());
        length += n as u64;
        progress(n as u64);
        if output.write_chunk(&mut chunk).map_err(CopyError::Write)? {
            output.file.set_len(length).map_err(CopyError::Write)?;
        }
        if let Some(e) = failure {
            return Err(CopyError::Read(e));
        }
        if n < STREAM_CHUNK {
            break;
        }
    }
    Ok(Copied {
        length,
        first: first.finish(),
        second: second.finish(),
    })
}

fn hash_stage<S: StreamHash>(
    mut hash: S,
    input: Receiver<Chunk>,
    next: SyncSender<Chunk>,
) -> S::Output {
    for chunk in input {
        hash.update(chunk.data());
        if next.send(chunk).is_err() {
            // The writer failed; hash nothing more, the error surfaces there.
            break;
        }
    }
    hash.finish()
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

/// Fills `buf` unless the stream ends or fails first: how many bytes were read, and the
/// failure, if any (the bytes before it are good).
fn read_full(input: &mut (dyn Read + Send), buf: &mut [u8]) -> (usize, Option<std::io::Error>) {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return (filled, Some(e)),
        }
    }
    (filled, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(len: usize, announced: Option<u64>) {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 4099) as u8).collect();
        let dst = dir.path().join("dst");
        let mut output = Output::create(&dst).unwrap();
        let copied = copy_and_hash(
            &mut &data[..],
            &mut output,
            crate::hash::Sha512Hasher::default(),
            crate::hash::Sha256Hasher::default(),
            announced,
            &|_| {},
        )
        .unwrap();
        let expected = crate::hash::digest_reader(&data[..]).unwrap();
        assert_eq!(copied.length, expected.length);
        assert_eq!(copied.first, expected.sha512);
        assert_eq!(copied.second, expected.sha256);
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
        let err = copy_and_hash(&mut Broken, &mut output, (), (), None, &|_| {});
        assert!(matches!(err, Err(CopyError::Read(_))), "{err:?}");
    }
}
