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

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use crate::conventions::BundleFormat;

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
pub fn unpack_open(
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
    let mut extraction = Extraction {
        root,
        dest,
        limits,
        done: Unpacked::default(),
        links: Vec::new(),
    };
    let mut archive = tar::Archive::new(reader);
    for entry in archive.entries().map_err(UnpackError::Format)? {
        let mut entry = entry.map_err(UnpackError::Format)?;
        extraction.entry(&mut entry)?;
    }
    extraction.check_links()?;
    Ok(extraction.done)
}

/// Resolution for every handle opened while unpacking: beneath the handle it starts from,
/// through no symbolic link at all.
const CONFINED: ResolveFlags = ResolveFlags::BENEATH
    .union(ResolveFlags::NO_SYMLINKS)
    .union(ResolveFlags::NO_MAGICLINKS);
/// A folder handle that is never a link.
const FOLDER: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// A symbolic link this archive created, checked once every entry is written.
struct CreatedLink {
    entry: String,
    relative: PathBuf,
    target: String,
}

/// One archive being unpacked beneath `root`.
struct Extraction<'a> {
    root: OwnedFd,
    dest: &'a Path,
    limits: UnpackLimits,
    done: Unpacked,
    links: Vec<CreatedLink>,
}

/// The entry being written, for errors that name it.
struct Named<'a> {
    shown: &'a str,
    path: PathBuf,
}

impl Named<'_> {
    fn refuse(&self, reason: Refusal) -> UnpackError {
        UnpackError::Refused {
            entry: self.shown.to_owned(),
            reason,
        }
    }

    fn write(&self, errno: Errno) -> UnpackError {
        UnpackError::Write {
            path: self.path.clone(),
            source: errno.into(),
        }
    }
}

impl Extraction<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), UnpackError> {
        // Every header counts, before anything else: a million `./` entries are a million
        // headers to read even if they make nothing.
        self.done.entries += 1;
        if self.done.entries > self.limits.max_entries {
            return Err(UnpackError::TooManyEntries(self.limits.max_entries));
        }
        // The data size, a pax `size` record included: what the entry's reader yields.
        let size = entry.size();
        self.done.bytes = self.done.bytes.saturating_add(size);
        if self.done.bytes > self.limits.max_bytes {
            return Err(UnpackError::TooLarge(self.limits.max_bytes));
        }
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |reason| UnpackError::Refused {
            entry: shown.clone(),
            reason,
        };
        let Some(relative) = safe_relative(&raw).map_err(refuse)? else {
            return Ok(()); // "." or "./": the folder itself
        };
        let named = Named {
            shown: &shown,
            path: self.dest.join(&relative),
        };
        let kind = entry.header().entry_type();
        // What the entry is, and whether it may exist at all, before any folder is made.
        let what = if kind.is_dir() {
            Kind::Folder
        } else if kind.is_file() || kind == tar::EntryType::Continuous {
            Kind::File
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| named.refuse(Refusal::EmptyLink))?;
            Kind::Symlink(link_target(&relative, &target).map_err(|r| named.refuse(r))?)
        } else if kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| named.refuse(hard_link_refusal(Refusal::EmptyLink)))?;
            let target = safe_relative(&target)
                .map_err(|r| named.refuse(hard_link_refusal(r)))?
                .ok_or_else(|| named.refuse(Refusal::HardLinkNotFile(".".into())))?;
            Kind::HardLink(target)
        } else if kind.is_character_special() || kind.is_block_special() {
            return Err(named.refuse(Refusal::Device));
        } else if kind.is_fifo() {
            return Err(named.refuse(Refusal::Fifo));
        } else {
            return Err(named.refuse(Refusal::OtherKind));
        };

        let (parents, name) = split(&relative);
        let parent = self
            .open_folder(&parents, true)
            .map_err(|e| e.into_error(&named, |r| r))?;
        match what {
            Kind::Folder => self.make_folder(&parent, name, &named),
            Kind::File => {
                let mode = entry.header().mode().unwrap_or(0o644);
                write_file(&parent, name, entry, size, mode, &named)
            }
            Kind::Symlink(target) => {
                rustix::fs::symlinkat(target.as_str(), &parent, name)
                    .map_err(|e| replacing(&parent, name, e, &named))?;
                self.links.push(CreatedLink {
                    entry: shown.clone(),
                    relative,
                    target,
                });
                Ok(())
            }
            Kind::HardLink(target) => self.hard_link(&parent, name, &target, &named),
        }
    }

    /// Opens the folder `parts` beneath the destination, one component at a time, making
    /// missing ones if `create`. A component that is a symbolic link refuses the entry.
    fn open_folder(&self, parts: &[&OsStr], create: bool) -> Result<OwnedFd, FolderError> {
        let mut folder = rustix::io::fcntl_dupfd_cloexec(&self.root, 0).map_err(FolderError::Io)?;
        let mut walked = PathBuf::new();
        for part in parts {
            walked.push(part);
            let open =
                |at: &OwnedFd| rustix::fs::openat2(at, *part, FOLDER, Mode::empty(), CONFINED);
            folder = match open(&folder) {
                Ok(fd) => fd,
                Err(Errno::NOENT) if create => {
                    match rustix::fs::mkdirat(&folder, *part, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(Errno::EXIST) => {}
                        Err(e) => return Err(FolderError::Io(e)),
                    }
                    open(&folder).map_err(|e| FolderError::new(e, &folder, part, &walked))?
                }
                Err(e) => return Err(FolderError::new(e, &folder, part, &walked)),
            };
        }
        Ok(folder)
    }

    /// A folder entry: made, or already a real folder (tar lists folders more than once).
    /// Its mode is 0o755 less the umask whatever the header says: a folder the archive made
    /// unwritable would stop its own later entries, and no bundle needs a setgid folder.
    fn make_folder(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        named: &Named,
    ) -> Result<(), UnpackError> {
        match rustix::fs::mkdirat(parent, name, Mode::from_raw_mode(0o755)) {
            Ok(()) => Ok(()),
            Err(Errno::EXIST) => match existing(parent, name) {
                Some(Existing::Folder) => Ok(()),
                Some(what) => Err(named.refuse(Refusal::Replaces(what))),
                None => Err(named.write(Errno::EXIST)),
            },
            Err(e) => Err(named.write(e)),
        }
    }

    /// A hard link to a regular file already beneath the destination, reached through no
    /// symbolic link.
    fn hard_link(
        &self,
        parent: &OwnedFd,
        name: &OsStr,
        target: &Path,
        named: &Named,
    ) -> Result<(), UnpackError> {
        let not_a_file = || named.refuse(Refusal::HardLinkNotFile(target.display().to_string()));
        let (source_parents, source_name) = split(target);
        let source = match self.open_folder(&source_parents, false) {
            Ok(fd) => fd,
            Err(FolderError::Missing) => return Err(not_a_file()),
            Err(e) => return Err(e.into_error(named, hard_link_refusal)),
        };
        if existing(&source, source_name) != Some(Existing::File) {
            return Err(not_a_file());
        }
        // Flags 0: the link is to the file itself, never to what a link names.
        rustix::fs::linkat(&source, source_name, parent, name, AtFlags::empty())
            .map_err(|e| replacing(parent, name, e, named))
    }

    /// Every symbolic link the archive made, resolved by the kernel beneath the destination.
    fn check_links(&self) -> Result<(), UnpackError> {
        for link in &self.links {
            let refuse = |reason| UnpackError::Refused {
                entry: link.entry.clone(),
                reason,
            };
            let resolved = rustix::fs::openat2(
                &self.root,
                &link.relative,
                OFlags::PATH | OFlags::CLOEXEC,
                Mode::empty(),
                ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
            );
            match resolved {
                Ok(_) => {}
                Err(Errno::XDEV) => return Err(refuse(Refusal::LinkLeaves(link.target.clone()))),
                Err(Errno::LOOP) => return Err(refuse(Refusal::LinkLoops(link.target.clone()))),
                // A link to something missing is harmless unless `..` could later carry it
                // out, once something else makes the missing folder.
                Err(Errno::NOENT | Errno::NOTDIR) => {
                    if Path::new(&link.target)
                        .components()
                        .any(|c| c == Component::ParentDir)
                    {
                        return Err(refuse(Refusal::LinkDangles(link.target.clone())));
                    }
                }
                Err(e) => {
                    return Err(UnpackError::Write {
                        path: self.dest.join(&link.relative),
                        source: e.into(),
                    })
                }
            }
        }
        Ok(())
    }
}

/// What an entry makes, once its kind and link target are judged.
enum Kind {
    Folder,
    File,
    Symlink(String),
    HardLink(PathBuf),
}

/// Creates `name` in `parent` (never replacing anything), copies the entry's bytes and sets
/// its permission bits on the open file.
fn write_file(
    parent: &OwnedFd,
    name: &OsStr,
    entry: &mut impl Read,
    size: u64,
    mode: u32,
    named: &Named,
) -> Result<(), UnpackError> {
    let fd = rustix::fs::openat2(
        parent,
        name,
        OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        Mode::from_raw_mode(0o600),
        CONFINED,
    )
    .map_err(|e| replacing(parent, name, e, named))?;
    let mut out = File::from(fd);
    let mut left = size;
    let mut buf = vec![0u8; 64 * 1024];
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = entry.read(&mut buf[..want]).map_err(UnpackError::Format)?;
        if n == 0 {
            return Err(UnpackError::Format(io::Error::other(format!(
                "{}: archive ends inside the file",
                named.shown
            ))));
        }
        out.write_all(&buf[..n])
            .map_err(|source| UnpackError::Write {
                path: named.path.clone(),
                source,
            })?;
        left -= n as u64;
    }
    // Permission bits only: no setuid, setgid or sticky bit from an archive.
    rustix::fs::fchmod(&out, Mode::from_raw_mode(mode & 0o777)).map_err(|e| named.write(e))
}

/// What is at `name` in `parent`, without following a link.
fn existing(parent: &impl AsFd, name: &OsStr) -> Option<Existing> {
    let stat = rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW).ok()?;
    Some(match FileType::from_raw_mode(stat.st_mode) {
        FileType::Directory => Existing::Folder,
        FileType::Symlink => Existing::SymbolicLink,
        FileType::RegularFile => Existing::File,
        _ => Existing::Other,
    })
}

/// An error making `name`: "exists" becomes a refusal naming what it would replace.
fn replacing(parent: &OwnedFd, name: &OsStr, errno: Errno, named: &Named) -> UnpackError {
    match (errno, existing(parent, name)) {
        (Errno::EXIST, Some(what)) => named.refuse(Refusal::Replaces(what)),
        _ => named.write(errno),
    }
}

/// Why a folder beneath the destination could not be opened.
enum FolderError {
    Refused(Refusal),
    Missing,
    Io(Errno),
}

impl FolderError {
    /// An error opening `name` in `parent` (the folder `walked`): a link or a file on the
    /// way refuses the entry. (`O_NOFOLLOW | O_DIRECTORY` on a link says "not a folder",
    /// hence the look at what it is.)
    fn new(errno: Errno, parent: &OwnedFd, name: &OsStr, walked: &Path) -> Self {
        let walked = walked.display().to_string();
        match errno {
            Errno::LOOP | Errno::NOTDIR => match existing(parent, name) {
                Some(Existing::SymbolicLink) => {
                    FolderError::Refused(Refusal::ThroughSymlink(walked))
                }
                _ => FolderError::Refused(Refusal::NotAFolder(walked)),
            },
            // Only `..` or an absolute name leaves a handle; `safe_relative` refuses both
            // first, so this is the kernel catching what the text check missed.
            Errno::XDEV => FolderError::Refused(Refusal::ParentDir),
            Errno::NOENT => FolderError::Missing,
            other => FolderError::Io(other),
        }
    }

    fn into_error(self, named: &Named, wrap: impl FnOnce(Refusal) -> Refusal) -> UnpackError {
        match self {
            FolderError::Refused(reason) => named.refuse(wrap(reason)),
            FolderError::Missing => named.write(Errno::NOENT),
            FolderError::Io(errno) => named.write(errno),
        }
    }
}

fn hard_link_refusal(reason: Refusal) -> Refusal {
    Refusal::HardLinkTarget(Box::new(reason))
}

/// A relative path as its parent folders and its last name.
fn split(relative: &Path) -> (Vec<&OsStr>, &OsStr) {
    let mut parts: Vec<&OsStr> = relative.iter().collect();
    // `safe_relative` never returns an empty path.
    let name = parts.pop().unwrap_or(OsStr::new("."));
    (parts, name)
}

/// A tar path as a relative path with only normal components; `None` for the folder itself.
fn safe_relative(raw: &[u8]) -> Result<Option<PathBuf>, Refusal> {
    let text = std::str::from_utf8(raw).map_err(|_| Refusal::NotUtf8)?;
    if text.contains('\0') {
        return Err(Refusal::Nul);
    }
    let mut out = PathBuf::new();
    for component in Path::new(text).components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => return Err(Refusal::Absolute),
            Component::ParentDir => return Err(Refusal::ParentDir),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// A symlink's target, if it may be created at `link`. Absolute targets are refused
/// outright. The climb count is only for a clearer message about the obvious cases: the
/// kernel's check of every link, once all entries are written, is what keeps them inside.
fn link_target(link: &Path, raw: &[u8]) -> Result<String, Refusal> {
    let target = std::str::from_utf8(raw).map_err(|_| Refusal::NotUtf8)?;
    if target.is_empty() {
        return Err(Refusal::EmptyLink);
    }
    if target.contains('\0') {
        return Err(Refusal::Nul);
    }
    let leaves = || Refusal::LinkLeaves(target.to_owned());
    let mut depth = link.components().count() - 1;
    for component in Path::new(target).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => depth = depth.checked_sub(1).ok_or_else(leaves)?,
            Component::RootDir | Component::Prefix(_) => return Err(leaves()),
        }
    }
    Ok(target.to_owned())
}

/// A gzip decoder that refuses to inflate more than `max_ratio` times the compressed bytes
/// it has read, once past `ratio_floor`.
struct RatioGuard {
    gz: flate2::read::GzDecoder<CountingReader<File>>,
    inflated: u64,
    limits: UnpackLimits,
    /// Set when the guard refused: tar turns the read error into its own, this keeps why.
    tripped: Option<UnpackError>,
}

impl RatioGuard {
    fn new(file: File, limits: UnpackLimits) -> Self {
        RatioGuard {
            gz: flate2::read::GzDecoder::new(CountingReader {
                inner: file,
                read: 0,
            }),
            inflated: 0,
            limits,
            tripped: None,
        }
    }
}

impl Read for RatioGuard {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tripped.is_some() {
            return Err(io::Error::other("compression bomb"));
        }
        let n = self.gz.read(buf)?;
        self.inflated += n as u64;
        let read = self.gz.get_ref().read;
        if self.inflated > self.limits.ratio_floor
            && self.inflated > self.limits.max_ratio.saturating_mul(read)
        {
            self.tripped = Some(UnpackError::Bomb {
                inflated: self.inflated,
                read,
                ratio: self.limits.max_ratio,
            });
            return Err(io::Error::other("compression bomb"));
        }
        Ok(n)
    }
}

/// Counts the bytes read through it.
struct CountingReader<R> {
    inner: R,
    read: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    use std::time::Instant;

    use tar::EntryType;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn header(kind: EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h
    }

    /// Writes a raw path into the header (the builder itself refuses `..` and absolute paths).
    fn raw_path(h: &mut tar::Header, path: &str) {
        let name = &mut h.as_old_mut().name;
        name.fill(0);
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
    }

    fn dir(b: &mut tar::Builder<Vec<u8>>, path: &str) {
        let mut h = header(EntryType::Directory, 0);
        h.set_mode(0o755);
        b.append_data(&mut h, path, &[][..]).unwrap();
    }

    fn file(b: &mut tar::Builder<Vec<u8>>, path: &str, bytes: &[u8]) {
        let mut h = header(EntryType::Regular, bytes.len() as u64);
        b.append_data(&mut h, path, bytes).unwrap();
    }

    fn symlink(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut h = header(EntryType::Symlink, 0);
        b.append_link(&mut h, path, target).unwrap();
    }

    fn hard_link(b: &mut tar::Builder<Vec<u8>>, path: &str, target: &str) {
        let mut h = header(EntryType::Link, 0);
        b.append_link(&mut h, path, target).unwrap();
    }

    /// Every file, folder and link under `dir`, with mode, link count and content; links
    /// are read, never followed.
    fn tree(dir: &Path) -> BTreeMap<String, (u32, u64, Vec<u8>)> {
        let mut state = BTreeMap::new();
        let mut stack = vec![dir.to_owned()];
        while let Some(d) = stack.pop() {
            for entry in fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                let meta = fs::symlink_metadata(&path).unwrap();
                let content = if meta.is_dir() {
                    stack.push(path.clone());
                    Vec::new()
                } else if meta.file_type().is_symlink() {
                    fs::read_link(&path)
                        .unwrap()
                        .into_os_string()
                        .into_encoded_bytes()
                } else {
                    fs::read(&path).unwrap()
                };
                let rel = path.strip_prefix(dir).unwrap().display().to_string();
                state.insert(rel, (meta.mode(), meta.nlink(), content));
            }
        }
        state
    }

    /// `TMP/root/sandbox/dest`, with a file `victim.txt` beside `dest` and one in `root`
    /// and `TMP`: everywhere an escape from `dest` would land within three levels.
    struct Sandbox {
        tmp: tempfile::TempDir,
        dest: PathBuf,
    }

    impl Sandbox {
        fn new() -> Self {
            let tmp = tempfile::tempdir().unwrap();
            let dest = tmp.path().join("root/sandbox/dest");
            fs::create_dir_all(&dest).unwrap();
            for at in ["", "root", "root/sandbox"] {
                fs::write(tmp.path().join(at).join("victim.txt"), b"victim\n").unwrap();
            }
            Sandbox { tmp, dest }
        }

        /// Runs `unpack` expecting a refusal; then removes `dest` as the caller does and
        /// asserts that the whole tree around it is as it was.
        fn refuse(&self, run: impl FnOnce(&Path) -> Result<Unpacked, UnpackError>) -> UnpackError {
            let before = tree(self.tmp.path());
            let err = run(&self.dest).expect_err("the archive must be refused");
            // Before the caller cleans up: no hard link in `dest` reaches a file outside.
            for victim in ["victim.txt", "root/victim.txt", "root/sandbox/victim.txt"] {
                let meta = fs::metadata(self.tmp.path().join(victim)).unwrap();
                assert_eq!(meta.nlink(), 1, "{victim} was linked into dest: {err}");
            }
            fs::remove_dir_all(&self.dest).unwrap();
            fs::create_dir(&self.dest).unwrap();
            assert_eq!(before, tree(self.tmp.path()), "changed outside dest: {err}");
            err
        }

        fn refuse_tar(&self, data: &[u8]) -> UnpackError {
            self.refuse(|dest| unpack(data, dest, UnpackLimits::default()))
        }
    }

    /// Asserts that `err` refuses `entry` for exactly `reason`.
    fn assert_refused(err: UnpackError, entry: &str, reason: Refusal) {
        match err {
            UnpackError::Refused {
                entry: got_entry,
                reason: got_reason,
            } => {
                assert_eq!((got_entry.as_str(), got_reason), (entry, reason));
            }
            other => panic!("expected {entry:?} refused for {reason:?}, got {other:?}"),
        }
    }

    #[test]
    fn a_chain_of_relative_links_cannot_climb_out() {
        // Each link looks inside on its own; followed in turn they reach `sandbox/`.
        let data = tar_with(|b| {
            dir(b, "p/");
            symlink(b, "p/q", "..");
            symlink(b, "p/q/u1", "..");
            file(b, "p/q/u1/escaped.txt", b"out\n");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "p/q/u1", Refusal::ThroughSymlink("p/q".into()));
    }

    #[test]
    fn a_longer_chain_of_relative_links_cannot_climb_out() {
        // `p/q` is the folder, `u1` beside it climbs to `sandbox/`, `u2` there to `root/`.
        let data = tar_with(|b| {
            dir(b, "p/");
            symlink(b, "p/q", "..");
            symlink(b, "p/q/u1", "..");
            symlink(b, "p/q/u1/u2", "..");
            file(b, "p/q/u1/u2/escaped.txt", b"out\n");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "p/q/u1", Refusal::ThroughSymlink("p/q".into()));
        // A member under the first link alone is refused the same way.
        let data = tar_with(|b| {
            dir(b, "p/");
            symlink(b, "p/q", "..");
            file(b, "p/q/u1/u2/u3/inside.txt", b"in\n");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(
            err,
            "p/q/u1/u2/u3/inside.txt",
            Refusal::ThroughSymlink("p/q".into()),
        );
    }

    #[test]
    fn a_link_through_a_link_is_refused_once_the_kernel_resolves_it() {
        // `s -> .` then `a -> s/..`: lexically inside, really the folder's parent.
        let data = tar_with(|b| {
            symlink(b, "s", ".");
            symlink(b, "a", "s/..");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "a", Refusal::LinkLeaves("s/..".into()));
    }

    #[test]
    fn a_file_under_a_link_through_a_link_is_refused() {
        let data = tar_with(|b| {
            symlink(b, "s", ".");
            symlink(b, "a", "s/..");
            file(b, "a/escaped.txt", b"out\n");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "a/escaped.txt", Refusal::ThroughSymlink("a".into()));
    }

    #[test]
    fn a_hard_link_through_a_link_is_refused() {
        // `a` leads to `sandbox/`, where `victim.txt` lives: `h` would be that file.
        let data = tar_with(|b| {
            symlink(b, "s", ".");
            symlink(b, "a", "s/..");
            hard_link(b, "h", "a/victim.txt");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(
            err,
            "h",
            Refusal::HardLinkTarget(Box::new(Refusal::ThroughSymlink("a".into()))),
        );
    }

    #[test]
    fn a_hard_link_to_a_link_that_points_out_is_refused() {
        let data = tar_with(|b| {
            symlink(b, "s", ".");
            symlink(b, "out", "s/../victim.txt");
            hard_link(b, "h", "out");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "h", Refusal::HardLinkNotFile("out".into()));
    }

    #[test]
    fn absolute_symlinks_are_refused() {
        let sandbox = Sandbox::new();
        let outside = sandbox.tmp.path().join("root/sandbox");
        let data = tar_with(|b| {
            symlink(b, "out", outside.to_str().unwrap());
            file(b, "out/escaped.txt", b"out\n");
        });
        let err = sandbox.refuse_tar(&data);
        assert_refused(
            err,
            "out",
            Refusal::LinkLeaves(outside.display().to_string()),
        );
    }

    #[test]
    fn members_with_dotdot_are_refused() {
        for path in ["../escaped.txt", "a/../../escaped.txt", "./../../x"] {
            let data = tar_with(|b| {
                let mut h = header(EntryType::Regular, 1);
                raw_path(&mut h, path);
                b.append(&h, &b"x"[..]).unwrap();
            });
            let err = Sandbox::new().refuse_tar(&data);
            assert_refused(err, path, Refusal::ParentDir);
        }
    }

    #[test]
    fn absolute_members_are_refused() {
        let sandbox = Sandbox::new();
        let path = sandbox.tmp.path().join("root/sandbox/escaped.txt");
        let path = path.to_str().unwrap().to_owned();
        let data = tar_with(|b| {
            let mut h = header(EntryType::Regular, 1);
            raw_path(&mut h, &path);
            b.append(&h, &b"x"[..]).unwrap();
        });
        let err = sandbox.refuse_tar(&data);
        assert_refused(err, &path, Refusal::Absolute);
    }

    #[test]
    fn device_nodes_and_fifos_are_refused() {
        let cases = [
            (EntryType::Char, Refusal::Device),
            (EntryType::Block, Refusal::Device),
            (EntryType::Fifo, Refusal::Fifo),
        ];
        for (kind, reason) in cases {
            let data = tar_with(|b| {
                let mut h = header(kind, 0);
                h.set_device_major(1).unwrap();
                h.set_device_minor(3).unwrap();
                b.append_data(&mut h, "dev/node", &[][..]).unwrap();
            });
            let sandbox = Sandbox::new();
            let err = sandbox.refuse_tar(&data);
            assert_refused(err, "dev/node", reason);
        }
    }

    /// `count` tar headers for `./`, made as they are read: 512 MB for a million, never in
    /// memory at once.
    struct RepeatedHeaders {
        block: [u8; 512],
        left: u64,
        at: usize,
    }

    impl Read for RepeatedHeaders {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Ok(0); // tar treats the end of input as the end of the archive
            }
            let n = buf.len().min(512 - self.at);
            buf[..n].copy_from_slice(&self.block[self.at..self.at + n]);
            self.at += n;
            if self.at == 512 {
                self.at = 0;
                self.left -= 1;
            }
            Ok(n)
        }
    }

    #[test]
    fn a_million_empty_entries_are_refused_quickly() {
        let mut h = header(EntryType::Directory, 0);
        h.set_path("./").unwrap();
        h.set_cksum();
        let headers = RepeatedHeaders {
            block: *h.as_bytes(),
            left: 1_000_000,
            at: 0,
        };
        let sandbox = Sandbox::new();
        let started = Instant::now();
        let err = sandbox.refuse(|dest| unpack(headers, dest, UnpackLimits::default()));
        eprintln!("1,000,000 empty entries refused in {:?}", started.elapsed());
        assert!(matches!(err, UnpackError::TooManyEntries(100_000)), "{err}");
    }

    /// A valid gzip of a tar holding one file of `chunks` MiB less 1 KiB of zeros, built
    /// without compressing them: a raw deflate stream of 1 MiB of zeros, made by a fresh
    /// compressor and ended by a sync flush, is self-contained and byte-aligned, so it can
    /// be repeated. The CRC is combined, not computed over the zeros.
    fn gzip_bomb(chunks: u64) -> Vec<u8> {
        use flate2::{Compress, Compression, FlushCompress};
        const CHUNK: usize = 1 << 20;
        let deflate = |data: &[u8], flush| {
            let mut c = Compress::new(Compression::best(), false);
            let mut out = Vec::with_capacity(data.len() + 1024);
            c.compress_vec(data, &mut out, flush).unwrap();
            assert_eq!(c.total_in(), data.len() as u64);
            out
        };
        let zeros_after_header = chunks * CHUNK as u64;
        let mut h = header(EntryType::Regular, zeros_after_header - 1024);
        h.set_path("zeros").unwrap();
        h.set_cksum();
        let zeros = vec![0u8; CHUNK];
        let segment = deflate(&zeros, FlushCompress::Sync);
        let mut crc = crc32fast::Hasher::new();
        crc.update(h.as_bytes());
        let mut zeros_crc = crc32fast::Hasher::new();
        zeros_crc.update(&zeros);

        let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
        gz.extend(deflate(h.as_bytes(), FlushCompress::Sync));
        for _ in 0..chunks {
            gz.extend_from_slice(&segment);
            crc.combine(&zeros_crc);
        }
        gz.extend(deflate(&[], FlushCompress::Finish));
        gz.extend(crc.finalize().to_le_bytes());
        gz.extend(((512 + zeros_after_header) as u32).to_le_bytes());
        gz
    }

    #[test]
    fn a_gzip_bomb_is_refused_by_its_ratio() {
        let tmp = tempfile::tempdir().unwrap();
        // The construction is a valid archive: a small one unpacks, CRC checked.
        let small = tmp.path().join("small.tar.gz");
        fs::write(&small, gzip_bomb(3)).unwrap();
        let dest = tmp.path().join("small");
        fs::create_dir(&dest).unwrap();
        let done = unpack_file(&small, "small.tar.gz", &dest, UnpackLimits::default()).unwrap();
        assert_eq!(done.bytes, 3 * (1 << 20) - 1024);
        assert_eq!(fs::metadata(dest.join("zeros")).unwrap().len(), done.bytes);

        let bomb = tmp.path().join("bomb.tar.gz");
        let data = gzip_bomb(4000);
        eprintln!("gzip bomb: {} bytes, inflates to 4000 MiB", data.len());
        fs::write(&bomb, data).unwrap();
        let sandbox = Sandbox::new();
        let started = Instant::now();
        let err =
            sandbox.refuse(|dest| unpack_file(&bomb, "bomb.tar.gz", dest, UnpackLimits::default()));
        eprintln!("gzip bomb refused in {:?}", started.elapsed());
        match err {
            UnpackError::Bomb {
                inflated,
                read,
                ratio,
            } => {
                assert_eq!(ratio, 100);
                assert!(inflated > 64 << 20 && inflated > 100 * read, "{err}");
                assert!(inflated < 128 << 20, "refused late: {err}");
            }
            other => panic!("expected a bomb refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_member_cannot_replace_a_folder_with_a_link() {
        let data = tar_with(|b| {
            dir(b, "d/");
            dir(b, "e/");
            symlink(b, "d", "e");
            file(b, "d/x", b"x");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "d", Refusal::Replaces(Existing::Folder));
        // The shape with an absolute target is refused for the target first.
        let data = tar_with(|b| {
            dir(b, "d/");
            symlink(b, "d", "/tmp");
            file(b, "d/x", b"x");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "d", Refusal::LinkLeaves("/tmp".into()));
    }

    #[test]
    fn a_file_is_never_written_over_an_earlier_link() {
        // `f` leads to `sandbox/victim.txt`; writing `f` would write through it.
        let data = tar_with(|b| {
            symlink(b, "s", ".");
            symlink(b, "f", "s/../victim.txt");
            file(b, "f", b"overwritten\n");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "f", Refusal::Replaces(Existing::SymbolicLink));
        // Nor a hard link, nor a folder.
        let data = tar_with(|b| {
            file(b, "inner", b"x");
            symlink(b, "f", "inner");
            hard_link(b, "f", "inner");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "f", Refusal::Replaces(Existing::SymbolicLink));
        let data = tar_with(|b| {
            symlink(b, "f", "inner");
            dir(b, "f/");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "f/", Refusal::Replaces(Existing::SymbolicLink));
    }

    #[test]
    fn links_that_loop_or_dangle_through_dotdot_are_refused() {
        let data = tar_with(|b| {
            symlink(b, "a", "b");
            symlink(b, "b", "a");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "a", Refusal::LinkLoops("b".into()));
        // Missing today, but `..` would carry it out once something makes `m`.
        let data = tar_with(|b| {
            symlink(b, "x", "m/../y");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "x", Refusal::LinkDangles("m/../y".into()));
    }

    #[test]
    fn hard_links_only_to_files_already_unpacked() {
        let cases = [
            (
                tar_with(|b| hard_link(b, "passwd", "../../etc/passwd")),
                Refusal::HardLinkTarget(Box::new(Refusal::ParentDir)),
            ),
            (
                tar_with(|b| hard_link(b, "x", "etc/passwd")),
                Refusal::HardLinkNotFile("etc/passwd".into()),
            ),
            (
                tar_with(|b| {
                    dir(b, "d/");
                    hard_link(b, "x", "d");
                }),
                Refusal::HardLinkNotFile("d".into()),
            ),
        ];
        for (data, reason) in cases {
            let err = Sandbox::new().refuse_tar(&data);
            let UnpackError::Refused { entry, .. } = &err else {
                panic!("{err:?}")
            };
            let entry = entry.clone();
            assert_refused(err, &entry, reason);
        }
    }

    #[test]
    fn nothing_is_unpacked_under_a_file() {
        let data = tar_with(|b| {
            file(b, "f", b"x");
            file(b, "f/x", b"x");
        });
        let err = Sandbox::new().refuse_tar(&data);
        assert_refused(err, "f/x", Refusal::NotAFolder("f".into()));
    }

    #[test]
    fn setuid_setgid_and_sticky_bits_are_dropped() {
        let data = tar_with(|b| {
            let mut h = header(EntryType::Regular, 5);
            h.set_mode(0o7755);
            b.append_data(&mut h, "bin/app", &b"hello"[..]).unwrap();
        });
        let sandbox = Sandbox::new();
        unpack(&data[..], &sandbox.dest, UnpackLimits::default()).unwrap();
        let mode = fs::metadata(sandbox.dest.join("bin/app")).unwrap().mode();
        assert_eq!(mode & 0o7777, 0o755);
    }

    #[test]
    fn unpacks_files_folders_and_inner_links() {
        let data = tar_with(|b| {
            dir(b, "./bin/");
            dir(b, "./bin/");
            let mut h = header(EntryType::Regular, 5);
            h.set_mode(0o755);
            b.append_data(&mut h, "./bin/app", &b"hello"[..]).unwrap();
            file(b, "lib/libfoo.so.1", b"foo");
            symlink(b, "lib/libfoo.so", "libfoo.so.1");
            symlink(b, "lib/app", "../bin/app");
            symlink(b, "lib/app2", "./app");
            symlink(b, "versions/current", "../lib");
            symlink(b, "self", ".");
            symlink(b, "later", "not-yet/made");
            hard_link(b, "app-copy", "./bin/app");
            file(b, "deep/er/still/file.txt", b"deep");
        });
        let sandbox = Sandbox::new();
        let got = unpack(&data[..], &sandbox.dest, UnpackLimits::default()).unwrap();
        assert_eq!(
            got,
            Unpacked {
                entries: 12,
                bytes: 12
            }
        );
        let dest = &sandbox.dest;
        assert_eq!(fs::read(dest.join("lib/app")).unwrap(), b"hello");
        assert_eq!(fs::read(dest.join("lib/app2")).unwrap(), b"hello");
        assert_eq!(fs::read(dest.join("lib/libfoo.so")).unwrap(), b"foo");
        assert_eq!(
            fs::read(dest.join("versions/current/libfoo.so")).unwrap(),
            b"foo"
        );
        assert_eq!(fs::read(dest.join("app-copy")).unwrap(), b"hello");
        assert_eq!(fs::metadata(dest.join("app-copy")).unwrap().nlink(), 2);
        assert_eq!(
            fs::read(dest.join("deep/er/still/file.txt")).unwrap(),
            b"deep"
        );
        let mode = fs::metadata(dest.join("bin/app"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755);
    }

    #[test]
    fn limits_entries_and_bytes() {
        let data = tar_with(|b| {
            for i in 0..5 {
                file(b, &format!("f{i}"), &[0u8; 100]);
            }
        });
        let few = UnpackLimits {
            max_entries: 3,
            ..UnpackLimits::default()
        };
        let err = Sandbox::new().refuse(|dest| unpack(&data[..], dest, few));
        assert!(matches!(err, UnpackError::TooManyEntries(3)), "{err}");
        let small = UnpackLimits {
            max_bytes: 250,
            ..UnpackLimits::default()
        };
        let err = Sandbox::new().refuse(|dest| unpack(&data[..], dest, small));
        assert!(matches!(err, UnpackError::TooLarge(250)), "{err}");
    }
}
