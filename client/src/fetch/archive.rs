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
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use crate::fetch::transport::{percent_decode, Body, FetchError, Transport};

mod members;

/// Most tar headers in one archive (every header counts: files, folders, links, extensions),
/// so a million empty entries cost no more than a refusal.
pub const MAX_MEMBERS: u64 = 200_000;
/// Longest member name or hard-link target, in bytes.
pub(crate) const MAX_NAME_BYTES: usize = 1024;
/// Most bytes of member names kept in one index.
pub(crate) const MAX_INDEX_NAME_BYTES: usize = 32 << 20;
/// Largest uncompressed tar stream read (a gzip bomb stops here), and largest total of the
/// members' sizes.
pub(crate) const MAX_STREAM_BYTES: u64 = 64 << 30;
/// Largest pax extension header read into memory.
const MAX_EXTENSION_BYTES: u64 = 64 * 1024;

/// Whether `name` names an archive this module reads, by its ending.
pub(crate) fn is_archive_name(name: &str) -> bool {
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
    let members = members::read_index(file, compression, &shown)?;
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

/// Indexes the archive held in `bytes` (gzip-compressed if `gzip`) exactly as [`index`]
/// indexes a file, for fuzzing the one pass over untrusted tar headers without a file.
#[cfg(feature = "fuzzing")]
pub fn index_bytes(bytes: &[u8], gzip: bool) -> Result<HashMap<String, Member>, ArchiveError> {
    let compression = if gzip {
        Compression::Gzip
    } else {
        Compression::None
    };
    members::read_index(bytes, compression, "fuzz input")
}

/// A mirror in one folder of an archive (`site.tar.gz/metadata`).
pub(crate) struct ArchiveMirror {
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
