//! The one confined extractor: a tar (or gzip-compressed tar) unpacked into a destination
//! folder, so that nothing outside that folder is ever created, changed or opened.
//!
//! Invariant: the kernel holds the line, not path text. The destination is opened once as
//! a directory handle; every folder, file, link and hard link is made relative to a handle
//! opened one path component at a time with `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)`,
//! so no entry is ever resolved through a symbolic link and no name can climb out. Files are
//! created with `O_CREAT | O_EXCL | O_NOFOLLOW`: nothing that exists is replaced or written
//! through. Symbolic links may be created (bundles hold `libfoo.so -> libfoo.so.1`) but are
//! never followed while unpacking; once every entry is written, the kernel resolves each of
//! them beneath the destination, and one that leads out or loops refuses the whole archive.
//! Entries, bytes and the gzip inflation ratio are bounded. On any error the caller removes
//! the destination, which then held everything this archive made.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::conventions::BundleFormat;

mod bounds;
mod extract;

use bounds::RatioGuard;
use extract::Extraction;

/// Limits on one archive. One home for these numbers, for bundles and archive mirrors alike.
#[derive(Clone, Copy, Debug)]
pub struct UnpackLimits {
    /// Tar headers of any kind, folders and `./` included: each costs an inode or at least
    /// a few system calls, so this bounds time and inodes. 100,000 is several times what a
    /// full application with its own runtime holds (a Python install is about 10,000 files).
    pub max_entries: u64,
    /// Sum of the sizes the headers declare. 16 GiB: above any release this project ships
    /// to a device, below what would fill a typical device's disk before refusing.
    pub max_bytes: u64,
    /// For gzip: at most this many bytes out per compressed byte read. Code and data
    /// compress 2-10x; beyond 100x the content is mostly one repeated byte, which is what a
    /// gzip bomb (up to 1032x) is made of.
    pub max_ratio: u64,
    /// The ratio is only judged once this many bytes came out (64 MiB), so a small bundle
    /// holding a zero-padded image is never refused for it.
    pub ratio_floor: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_entries: 100_000,
            max_bytes: 16 << 30,
            max_ratio: 100,
            ratio_floor: 64 << 20,
        }
    }
}

/// What an archive held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    /// Tar headers read, `./` and folders included.
    pub entries: u64,
    /// Sum of the sizes the headers declare.
    pub bytes: u64,
}

/// Why an archive was refused.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("bundle entry {entry:?}: {reason}")]
    Refused { entry: String, reason: Refusal },
    #[error("bundle holds more than {0} entries")]
    TooManyEntries(u64),
    #[error("bundle unpacks to more than {0} bytes")]
    TooLarge(u64),
    #[error(
        "bundle inflates {inflated} bytes from {read} compressed bytes, more than {ratio} times \
         (a compression bomb)"
    )]
    Bomb {
        inflated: u64,
        read: u64,
        ratio: u64,
    },
    #[error("bundle is not a readable tar archive: {0}")]
    Format(io::Error),
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// Why one entry was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("path is not UTF-8")]
    NotUtf8,
    #[error("path holds a NUL byte")]
    Nul,
    #[error("absolute paths are not allowed")]
    Absolute,
    #[error("\"..\" is not allowed")]
    ParentDir,
    #[error("passes through the symbolic link {0:?}")]
    ThroughSymlink(String),
    #[error("{0:?} is not a folder")]
    NotAFolder(String),
    #[error("would replace an existing {0}")]
    Replaces(Existing),
    #[error("symlink without a target")]
    EmptyLink,
    #[error("symlink to {0:?} leaves the release folder")]
    LinkLeaves(String),
    #[error("symlink to {0:?} loops")]
    LinkLoops(String),
    #[error("symlink to {0:?} leads nowhere through \"..\"")]
    LinkDangles(String),
    #[error("hard link target: {0}")]
    HardLinkTarget(Box<Refusal>),
    #[error("hard link to {0:?}, which is not a file of this bundle")]
    HardLinkNotFile(String),
    #[error("device files are not allowed")]
    Device,
    #[error("FIFOs are not allowed")]
    Fifo,
    #[error("only files, folders and links are allowed")]
    OtherKind,
}

/// What a refused entry would have replaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Existing {
    Folder,
    SymbolicLink,
    File,
    Other,
}

impl std::fmt::Display for Existing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Existing::Folder => "folder",
            Existing::SymbolicLink => "symbolic link",
            Existing::File => "file",
            Existing::Other => "entry",
        })
    }
}

/// Unpacks the archive `archive` (named `name`, for its format: see [`BundleFormat::of`])
/// into `dest`, which must exist and is normally empty.
pub fn unpack_file(
    archive: &Path,
    name: &str,
    dest: &Path,
    limits: UnpackLimits,
) -> Result<Unpacked, UnpackError> {
    let format = BundleFormat::of(name).ok_or_else(|| {
        UnpackError::Format(io::Error::other(format!(
            "{name}: unsupported bundle format (use .tar, .tar.gz or .tgz)"
        )))
    })?;
    let file = File::open(archive).map_err(UnpackError::Format)?;
    unpack_open(file, format, dest, limits)
}

/// Unpacks the already open archive `file` (in `format`) into `dest`: the installer passes
/// the handle it has just checked against the signed index, so the bytes unpacked are the
/// bytes verified, with no second open by path.
pub(crate) fn unpack_open(
    file: File,
    format: BundleFormat,
    dest: &Path,
    limits: UnpackLimits,
) -> Result<Unpacked, UnpackError> {
    match format {
        BundleFormat::TarGz => {
            let mut gz = RatioGuard::new(file, limits);
            let result = unpack(&mut gz, dest, limits).and_then(|done| {
                // tar stops at its end marker; reading on to the end of the gzip stream
                // makes the decoder check its CRC, so a flipped byte anywhere refuses the
                // whole bundle.
                io::copy(&mut gz, &mut io::sink()).map_err(UnpackError::Format)?;
                Ok(done)
            });
            // A tripped guard surfaces as whatever read error tar made of it: say what it
            // was.
            match gz.tripped {
                Some(bomb) => Err(bomb),
                None => result,
            }
        }
        BundleFormat::Tar => unpack(file, dest, limits),
    }
}

/// Unpacks a tar stream into `dest`.
pub fn unpack(
    reader: impl Read,
    dest: &Path,
    limits: UnpackLimits,
) -> Result<Unpacked, UnpackError> {
    let root = rustix::fs::open(
        dest,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| UnpackError::Write {
        path: dest.to_owned(),
        source: e.into(),
    })?;
    let mut extraction = Extraction::new(root, dest, limits);
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(UnpackError::Format)? {
        let mut entry = entry.map_err(UnpackError::Format)?;
        extraction.entry(&mut entry)?;
    }
    extraction.check_links()?;
    Ok(extraction.done)
}

#[cfg(test)]
mod tests;
