//! Repository archives (`repo export`, or a tar of a served repository) read in place as
//! mirrors: an unsigned archive is never unpacked.
//!
//! Invariant: nothing from an archive reaches the filesystem through this module. One pass
//! over the tar stream builds an index (member name -> where its bytes lie in the
//! uncompressed stream); serving a member re-reads the archive from its start and hands out
//! a reader limited to exactly that member's bytes, which the client then verifies against
//! signed metadata like any mirror's bytes. The index is built once per archive per process
//! and shared by every mirror inside it (metadata and targets).
//!
//! An archive holding anything a repository never holds is refused whole, before any
//! metadata is read: absolute names, `..`, NUL, empty or `.` components, duplicate names,
//! symbolic links, devices, FIFOs, sparse files, and hard links other than to an earlier
//! regular member. Refusing rather than skipping is deliberate: such an archive was not made
//! by `repo export` or by tar from a repository folder, and the operator who unpacks it with
//! tar for another client (python-tuf reads it that way) must hear about it, not get a copy
//! that differs from what this device saw.

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::fetch::transport::{percent_decode, Body, FetchError, Transport};

/// Most tar headers in one archive (every header counts: files, folders, links, extensions),
/// so a million empty entries cost no more than a refusal.
pub const MAX_MEMBERS: u64 = 200_000;
/// Longest member name or hard-link target, in bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Most bytes of member names kept in one index.
pub const MAX_INDEX_NAME_BYTES: usize = 32 << 20;
/// Largest uncompressed tar stream read (a gzip bomb stops here), and largest total of the
/// members' sizes.
pub const MAX_STREAM_BYTES: u64 = 64 << 30;
/// Largest pax extension header read into memory.
const MAX_EXTENSION_BYTES: u64 = 64 * 1024;

/// Whether `name` names an archive this module reads, by its ending.
pub fn is_archive_name(name: &str) -> bool {
    compression_of(name).is_some()
}

/// How the tar stream is stored in the archive file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Compression {
    None,
    Gzip,
}

fn compression_of(name: &str) -> Option<Compression> {
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        Some(Compression::Gzip)
    } else if name.ends_with(".tar") {
        Some(Compression::None)
    } else {
        None
    }
}

/// Why one member makes the archive refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MemberFault {
    #[error("absolute names are not allowed")]
    Absolute,
    #[error("\"..\" is not allowed")]
    ParentDir,
    #[error("NUL is not allowed in a name")]
    Nul,
    #[error("empty or \".\" name components are not allowed")]
    EmptyComponent,
    #[error("names must be UTF-8")]
    NotUtf8,
    #[error("name is longer than {MAX_NAME_BYTES} bytes")]
    NameTooLong,
    #[error("the name appears twice")]
    Duplicate,
    #[error("{0} are not allowed")]
    Kind(&'static str),
    #[error("hard link to {0:?}, which is not an earlier regular member")]
    LinkTarget(String),
    #[error("a hard link must not carry data")]
    LinkWithData,
    #[error("its pax size disagrees with its header")]
    PaxSize,
    #[error("a pax global header must not set names or sizes")]
    PaxGlobal,
}

/// Why an archive cannot be used as a mirror.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("{path}: {source}")]
    Open { path: String, source: io::Error },
    #[error("{path}: refused: not a regular file (it is {kind}); name the archive file itself")]
    NotRegular { path: String, kind: &'static str },
    #[error("{path}: refused: archive member {member:?}: {fault}")]
    Member {
        path: String,
        member: String,
        fault: MemberFault,
    },
    #[error("{path}: refused: archive holds more than {MAX_MEMBERS} members")]
    TooManyMembers { path: String },
    #[error("{path}: refused: archive member names exceed {MAX_INDEX_NAME_BYTES} bytes in all")]
    TooManyNameBytes { path: String },
    #[error("{path}: refused: archive is larger than {MAX_STREAM_BYTES} bytes uncompressed")]
    TooLarge { path: String },
    #[error("{path}: refused: not a readable {format} archive: {source}")]
    Format {
        path: String,
        format: &'static str,
        source: io::Error,
    },
    #[error("{path}: {folder:?} is not a plain folder name inside the archive")]
    Folder { path: String, folder: PathBuf },
}

/// What identifies one version of the archive file: a changed or replaced file is indexed
/// again, and a mirror refuses to serve from a file that changed under its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct FileIdentity {
    dev: u64,
    inode: u64,
    size: u64,
    mtime: (i64, i64),
}

impl FileIdentity {
    fn of(meta: &fs::Metadata) -> Self {
        FileIdentity {
            dev: meta.dev(),
            inode: meta.ino(),
            size: meta.size(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
        }
    }
}

/// What a served member is in the tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberKind {
    /// A regular file: its own bytes.
    File,
    /// A hard link to an earlier regular member: that member's bytes.
    HardLink,
}

/// Where one member's bytes lie in the uncompressed tar stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    pub offset: u64,
    pub length: u64,
    pub kind: MemberKind,
}

/// The members of one archive file, by normalised name.
#[derive(Debug)]
pub struct ArchiveIndex {
    /// The archive as the user named it, for messages.
    shown: String,
    /// Its canonical path, re-opened for each member served.
    path: PathBuf,
    identity: FileIdentity,
    compression: Compression,
    members: HashMap<String, Member>,
}

impl ArchiveIndex {
    /// The member named `name` (`metadata/1.root.json`), if the archive serves it.
    pub fn member(&self, name: &str) -> Option<Member> {
        self.members.get(name).copied()
    }

    /// How many names the archive serves.
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// Whether the archive serves no name at all.
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// A reader of `member`'s bytes from `skip` on: the archive re-opened and read from its
    /// start up to the member, then exactly the member's remaining bytes.
    fn read_member(&self, member: Member, skip: u64) -> Result<Box<dyn Read + Send>, FetchError> {
        let (file, identity) =
            open_regular(&self.path, &self.shown).map_err(|e| FetchError::Io(e.to_string()))?;
        if identity != self.identity {
            return Err(FetchError::Io(format!(
                "{}: the archive changed since it was read",
                self.shown
            )));
        }
        let start = member.offset.saturating_add(skip);
        let length = member.length.saturating_sub(skip);
        match self.compression {
            Compression::None => {
                let mut file = file;
                file.seek(SeekFrom::Start(start))?;
                Ok(Box::new(file.take(length)))
            }
            Compression::Gzip => {
                let mut stream = flate2::read::GzDecoder::new(file);
                let skipped = io::copy(&mut (&mut stream).take(start), &mut io::sink())?;
                if skipped != start {
                    return Err(FetchError::Io(format!(
                        "{}: the archive ends before its member",
                        self.shown
                    )));
                }
                Ok(Box::new(stream.take(length)))
            }
        }
    }
}

/// The index of the archive at `path`, built on first use and shared from then on by every
/// caller in this process that names the same file (same canonical path and identity).
pub fn index(path: &Path) -> Result<Arc<ArchiveIndex>, ArchiveError> {
    type Indexes = HashMap<(PathBuf, FileIdentity), Arc<ArchiveIndex>>;
    static INDEXES: OnceLock<Mutex<Indexes>> = OnceLock::new();
    let shown = path.display().to_string();
    let compression = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(compression_of)
        .ok_or_else(|| ArchiveError::Format {
            path: shown.clone(),
            format: "tar",
            source: io::Error::other("name it .tar, .tar.gz or .tgz"),
        })?;
    let (file, identity) = open_regular(path, &shown)?;
    let canonical = fs::canonicalize(path).map_err(|source| ArchiveError::Open {
        path: shown.clone(),
        source,
    })?;
    // Held while indexing, so two mirrors in one archive never read it twice.
    let mut indexes = INDEXES
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let key = (canonical, identity);
    if let Some(found) = indexes.get(&key) {
        return Ok(Arc::clone(found));
    }
    let members = read_index(file, compression, &shown)?;
    let built = Arc::new(ArchiveIndex {
        shown,
        path: key.0.clone(),
        identity,
        compression,
        members,
    });
    indexes.insert(key, Arc::clone(&built));
    Ok(built)
}

/// Opens `path` for reading without blocking (a FIFO must not hang the updater) and
/// refuses anything but a regular file.
fn open_regular(path: &Path, shown: &str) -> Result<(File, FileIdentity), ArchiveError> {
    let open_error = |source| ArchiveError::Open {
        path: shown.to_owned(),
        source,
    };
    let file = File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(open_error)?;
    let meta = file.metadata().map_err(open_error)?;
    let kind = meta.file_type();
    let not_regular = if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a folder")
    } else if kind.is_fifo() {
        Some("a FIFO")
    } else if kind.is_char_device() || kind.is_block_device() {
        Some("a device")
    } else if kind.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    };
    match not_regular {
        Some(kind) => Err(ArchiveError::NotRegular {
            path: shown.to_owned(),
            kind,
        }),
        None => Ok((file, FileIdentity::of(&meta))),
    }
}

/// A reader that fails once more than `left` bytes came through, and says so.
struct Bounded<R> {
    inner: R,
    left: u64,
    exceeded: bool,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let room = usize::try_from(self.left.saturating_add(1)).unwrap_or(usize::MAX);
        let room = buf.len().min(room);
        let n = self.inner.read(&mut buf[..room])?;
        if n as u64 > self.left {
            self.exceeded = true;
            return Err(io::Error::other("archive too large"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Why reading the members stopped, before the archive's name is attached.
enum Stop {
    Io(io::Error),
    Member(String, MemberFault),
    TooManyMembers,
    TooManyNameBytes,
    TooLarge,
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Self {
        Stop::Io(e)
    }
}

/// Indexes the archive held in `bytes` (gzip-compressed if `gzip`) exactly as [`index`]
/// indexes a file, for fuzzing the one pass over untrusted tar headers without a file.
#[cfg(feature = "fuzzing")]
pub fn index_bytes(bytes: &[u8], gzip: bool) -> Result<HashMap<String, Member>, ArchiveError> {
    let compression = if gzip {
        Compression::Gzip
    } else {
        Compression::None
    };
    read_index(bytes, compression, "fuzz input")
}

fn read_index<'a>(
    file: impl Read + 'a,
    compression: Compression,
    shown: &str,
) -> Result<HashMap<String, Member>, ArchiveError> {
    let (stream, format): (Box<dyn Read + 'a>, _) = match compression {
        Compression::None => (Box::new(BufReader::new(file)), "tar"),
        Compression::Gzip => (Box::new(flate2::read::GzDecoder::new(file)), "tar.gz"),
    };
    let mut stream = Bounded {
        inner: stream,
        left: MAX_STREAM_BYTES,
        exceeded: false,
    };
    let path = shown.to_owned();
    match read_members(&mut stream) {
        Ok(members) => Ok(members),
        Err(Stop::Io(_)) if stream.exceeded => Err(ArchiveError::TooLarge { path }),
        Err(Stop::TooLarge) => Err(ArchiveError::TooLarge { path }),
        Err(Stop::Io(source)) => Err(ArchiveError::Format {
            path,
            format,
            source,
        }),
        Err(Stop::Member(member, fault)) => Err(ArchiveError::Member {
            path,
            member,
            fault,
        }),
        Err(Stop::TooManyMembers) => Err(ArchiveError::TooManyMembers { path }),
        Err(Stop::TooManyNameBytes) => Err(ArchiveError::TooManyNameBytes { path }),
    }
}

/// Extension headers (GNU long names, pax) waiting for the member they describe.
#[derive(Default)]
struct Pending {
    long_name: Option<Vec<u8>>,
    long_link: Option<Vec<u8>>,
    pax: Option<Vec<u8>>,
}

impl Pending {
    fn pax_value(&self, key: &str) -> Option<Vec<u8>> {
        pax_value(self.pax.as_deref()?, key)
    }
}

fn pax_value(pax: &[u8], key: &str) -> Option<Vec<u8>> {
    tar::PaxExtensions::new(pax)
        .filter_map(Result::ok)
        .filter(|e| e.key() == Ok(key))
        .last()
        .map(|e| e.value_bytes().to_vec())
}

/// The one pass over the tar stream. Raw iteration, so that long names and pax headers are
/// read here under this module's bounds (the tar crate would read them whole).
fn read_members<R: Read>(stream: &mut R) -> Result<HashMap<String, Member>, Stop> {
    let mut archive = tar::Archive::new(stream);
    let mut members: HashMap<String, Member> = HashMap::new();
    let mut headers = 0u64;
    let mut name_bytes = 0usize;
    let mut total = 0u64;
    let mut pending = Pending::default();
    for entry in archive.entries()?.raw(true) {
        let mut entry = entry?;
        headers += 1;
        if headers > MAX_MEMBERS {
            return Err(Stop::TooManyMembers);
        }
        let kind = entry.header().entry_type();
        let size = entry.size();
        let extension = |entry: &mut tar::Entry<'_, _>, limit: u64| -> Result<Vec<u8>, Stop> {
            let shown = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if size > limit {
                return Err(Stop::Member(shown, MemberFault::NameTooLong));
            }
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes)?;
            Ok(bytes)
        };
        let name_limit = MAX_NAME_BYTES as u64 + 1;
        match kind {
            tar::EntryType::GNULongName => {
                pending.long_name = Some(trim_nul(extension(&mut entry, name_limit)?));
                continue;
            }
            tar::EntryType::GNULongLink => {
                pending.long_link = Some(trim_nul(extension(&mut entry, name_limit)?));
                continue;
            }
            tar::EntryType::XHeader => {
                pending.pax = Some(extension(&mut entry, MAX_EXTENSION_BYTES)?);
                continue;
            }
            tar::EntryType::XGlobalHeader => {
                // `git archive` writes one (a comment); one that renames or resizes
                // members would make tar and this index disagree.
                let global = extension(&mut entry, MAX_EXTENSION_BYTES)?;
                if ["path", "linkpath", "size"]
                    .iter()
                    .any(|k| pax_value(&global, k).is_some())
                {
                    let shown = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
                    return Err(Stop::Member(shown, MemberFault::PaxGlobal));
                }
                continue;
            }
            _ => {}
        }
        let pending_now = std::mem::take(&mut pending);
        let raw_name = pending_now
            .long_name
            .clone()
            .or_else(|| pending_now.pax_value("path"))
            .unwrap_or_else(|| entry.header().path_bytes().into_owned());
        let raw_link = pending_now
            .long_link
            .clone()
            .or_else(|| pending_now.pax_value("linkpath"))
            .or_else(|| entry.header().link_name_bytes().map(|l| l.into_owned()));
        let shown = String::from_utf8_lossy(&raw_name).into_owned();
        let refuse = |fault| Stop::Member(shown.clone(), fault);
        if let Some(pax_size) = pending_now.pax_value("size") {
            if std::str::from_utf8(&pax_size)
                .ok()
                .and_then(|s| s.parse().ok())
                != Some(size)
            {
                return Err(refuse(MemberFault::PaxSize));
            }
        }
        let is_dir = kind == tar::EntryType::Directory;
        let Some(name) = normalise(&raw_name, is_dir).map_err(&refuse)? else {
            continue; // "." or "./": the archive's own top folder
        };
        name_bytes = name_bytes.saturating_add(name.len());
        if name_bytes > MAX_INDEX_NAME_BYTES {
            return Err(Stop::TooManyNameBytes);
        }
        let member = match kind {
            tar::EntryType::Directory => continue,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                total = total.saturating_add(size);
                if total > MAX_STREAM_BYTES {
                    return Err(Stop::TooLarge);
                }
                Member {
                    offset: entry.raw_file_position(),
                    length: size,
                    kind: MemberKind::File,
                }
            }
            tar::EntryType::Link => {
                if size != 0 {
                    return Err(refuse(MemberFault::LinkWithData));
                }
                let raw_link = raw_link.unwrap_or_default();
                let shown_link = String::from_utf8_lossy(&raw_link).into_owned();
                let target = normalise(&raw_link, false)
                    .ok()
                    .flatten()
                    .and_then(|t| members.get(&t).copied())
                    .filter(|m| m.kind == MemberKind::File)
                    .ok_or_else(|| refuse(MemberFault::LinkTarget(shown_link)))?;
                Member {
                    kind: MemberKind::HardLink,
                    ..target
                }
            }
            tar::EntryType::Symlink => return Err(refuse(MemberFault::Kind("symbolic links"))),
            tar::EntryType::Char | tar::EntryType::Block => {
                return Err(refuse(MemberFault::Kind("device nodes")))
            }
            tar::EntryType::Fifo => return Err(refuse(MemberFault::Kind("FIFOs"))),
            tar::EntryType::GNUSparse => return Err(refuse(MemberFault::Kind("sparse files"))),
            _ => return Err(refuse(MemberFault::Kind("special entries"))),
        };
        if members.insert(name, member).is_some() {
            return Err(refuse(MemberFault::Duplicate));
        }
    }
    // tar stops at its end marker; reading on to the end of the gzip stream makes the
    // decoder check its CRC, so a flipped byte anywhere refuses the whole archive.
    io::copy(archive.into_inner(), &mut io::sink())?;
    Ok(members)
}

fn trim_nul(mut bytes: Vec<u8>) -> Vec<u8> {
    while bytes.last() == Some(&0) {
        bytes.pop();
    }
    bytes
}

/// A member's name as the index keys it: leading `./` removed, then plain '/'-separated
/// components only. `Ok(None)` for the archive's top folder itself.
fn normalise(raw: &[u8], is_dir: bool) -> Result<Option<String>, MemberFault> {
    if raw.len() > MAX_NAME_BYTES {
        return Err(MemberFault::NameTooLong);
    }
    if raw.contains(&0) {
        return Err(MemberFault::Nul);
    }
    let text = std::str::from_utf8(raw).map_err(|_| MemberFault::NotUtf8)?;
    let mut name = text;
    while let Some(rest) = name.strip_prefix("./") {
        name = rest;
    }
    if name.starts_with('/') {
        return Err(MemberFault::Absolute);
    }
    if is_dir {
        name = name.strip_suffix('/').unwrap_or(name);
        if name.is_empty() || name == "." {
            return Ok(None);
        }
    }
    for component in name.split('/') {
        match component {
            ".." => return Err(MemberFault::ParentDir),
            "" | "." => return Err(MemberFault::EmptyComponent),
            _ => {}
        }
    }
    Ok(Some(name.to_owned()))
}

/// A mirror in one folder of an archive (`site.tar.gz/metadata`).
pub struct ArchiveMirror {
    index: Arc<ArchiveIndex>,
    /// The folder inside the archive, with a trailing '/', or empty for its top.
    folder: String,
    base: String,
}

impl ArchiveMirror {
    /// A mirror serving `folder` of the archive file `archive`.
    pub fn open(archive: &Path, folder: &Path) -> Result<Self, ArchiveError> {
        let mut prefix = String::new();
        for component in folder.components() {
            match component {
                Component::Normal(part) => match part.to_str() {
                    Some(part) => {
                        prefix.push_str(part);
                        prefix.push('/');
                    }
                    None => return Err(folder_error(archive, folder)),
                },
                Component::CurDir => {}
                _ => return Err(folder_error(archive, folder)),
            }
        }
        let index = index(archive)?;
        Ok(ArchiveMirror {
            base: archive.join(folder).display().to_string(),
            index,
            folder: prefix,
        })
    }

    /// The index this mirror reads, shared with every other mirror in the same archive.
    pub fn index(&self) -> &Arc<ArchiveIndex> {
        &self.index
    }
}

fn folder_error(archive: &Path, folder: &Path) -> ArchiveError {
    ArchiveError::Folder {
        path: archive.display().to_string(),
        folder: folder.to_path_buf(),
    }
}

impl fmt::Debug for ArchiveMirror {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveMirror")
            .field("base", &self.base)
            .finish()
    }
}

impl Transport for ArchiveMirror {
    fn open(&self, path: &str) -> Result<Body, FetchError> {
        self.open_at(path, 0)
    }

    fn open_at(&self, path: &str, offset: u64) -> Result<Body, FetchError> {
        let relative = percent_decode(path).ok_or(FetchError::NotFound)?;
        let name = format!("{}{relative}", self.folder);
        let member = self.index.member(&name).ok_or(FetchError::NotFound)?;
        // As a local mirror does: an offset past the end means the whole file again.
        let start = if offset <= member.length { offset } else { 0 };
        Ok(Body {
            reader: self.index.read_member(member, start)?,
            announced_length: Some(member.length - start),
            start,
        })
    }

    fn base(&self) -> &str {
        &self.base
    }
}

#[cfg(test)]
mod tests;
