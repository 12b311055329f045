//! One archive being unpacked beneath a directory handle: each entry judged, then created
//! relative to handles opened one component at a time, never through a link (see the
//! invariant in [`super`]).

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::{Existing, Refusal, UnpackError, UnpackLimits, Unpacked};

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
pub(super) struct Extraction<'a> {
    root: OwnedFd,
    dest: &'a Path,
    limits: UnpackLimits,
    pub(super) done: Unpacked,
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

impl<'a> Extraction<'a> {
    pub(super) fn new(root: OwnedFd, dest: &'a Path, limits: UnpackLimits) -> Self {
        Extraction {
            root,
            dest,
            limits,
            done: Unpacked::default(),
            links: Vec::new(),
        }
    }

    pub(super) fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), UnpackError> {
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
    pub(super) fn check_links(&self) -> Result<(), UnpackError> {
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
