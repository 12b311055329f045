//! The one pass over an archive's tar stream that builds its index: every header counted,
//! every name and extension bounded, and anything a repository never holds refused (see the
//! invariant in [`super`]).

use std::collections::HashMap;
use std::io::{self, BufReader, Read};

use super::{
    ArchiveError, Compression, Member, MemberFault, MemberKind, MAX_EXTENSION_BYTES,
    MAX_INDEX_NAME_BYTES, MAX_MEMBERS, MAX_NAME_BYTES, MAX_STREAM_BYTES,
};

pub(super) fn read_index<'a>(
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
    let mut index = Indexer::default();
    for entry in archive.entries()?.raw(true) {
        let mut entry = entry?;
        index.count_header()?;
        if index.take_extension(&mut entry)? {
            continue;
        }
        index.add(&mut entry)?;
    }
    // tar stops at its end marker; reading on to the end of the gzip stream makes the
    // decoder check its CRC, so a flipped byte anywhere refuses the whole archive.
    io::copy(archive.into_inner(), &mut io::sink())?;
    Ok(index.members)
}

/// The index as it grows, with the running counts its bounds are checked against.
#[derive(Default)]
struct Indexer {
    members: HashMap<String, Member>,
    headers: u64,
    name_bytes: usize,
    total: u64,
    pending: Pending,
}

impl Indexer {
    /// Every header counts, extensions and folders included.
    fn count_header(&mut self) -> Result<(), Stop> {
        self.headers += 1;
        if self.headers > MAX_MEMBERS {
            return Err(Stop::TooManyMembers);
        }
        Ok(())
    }

    /// Reads an extension header (GNU long name or link, pax) into `pending`, bounded;
    /// `false` for any other entry.
    fn take_extension<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<bool, Stop> {
        let name_limit = MAX_NAME_BYTES as u64 + 1;
        match entry.header().entry_type() {
            tar::EntryType::GNULongName => {
                self.pending.long_name = Some(trim_nul(extension(entry, name_limit)?));
            }
            tar::EntryType::GNULongLink => {
                self.pending.long_link = Some(trim_nul(extension(entry, name_limit)?));
            }
            tar::EntryType::XHeader => {
                self.pending.pax = Some(extension(entry, MAX_EXTENSION_BYTES)?);
            }
            tar::EntryType::XGlobalHeader => {
                // `git archive` writes one (a comment); one that renames or resizes
                // members would make tar and this index disagree.
                let global = extension(entry, MAX_EXTENSION_BYTES)?;
                if ["path", "linkpath", "size"]
                    .iter()
                    .any(|k| pax_value(&global, k).is_some())
                {
                    return Err(Stop::Member(
                        shown(&entry.path_bytes()),
                        MemberFault::PaxGlobal,
                    ));
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Indexes one member under the name its extensions give it, or refuses it.
    fn add<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), Stop> {
        let pending = std::mem::take(&mut self.pending);
        let kind = entry.header().entry_type();
        let size = entry.size();
        let raw_name = pending
            .long_name
            .clone()
            .or_else(|| pending.pax_value("path"))
            .unwrap_or_else(|| entry.header().path_bytes().into_owned());
        let raw_link = pending
            .long_link
            .clone()
            .or_else(|| pending.pax_value("linkpath"))
            .or_else(|| entry.header().link_name_bytes().map(|l| l.into_owned()));
        let refuse = |fault| Stop::Member(shown(&raw_name), fault);
        if let Some(pax_size) = pending.pax_value("size") {
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
            return Ok(()); // "." or "./": the archive's own top folder
        };
        self.name_bytes = self.name_bytes.saturating_add(name.len());
        if self.name_bytes > MAX_INDEX_NAME_BYTES {
            return Err(Stop::TooManyNameBytes);
        }
        let Some(member) = self.member(entry, raw_link).map_err(|f| f.map(refuse))? else {
            return Ok(()); // a folder: the index holds files only
        };
        if self.members.insert(name, member).is_some() {
            return Err(refuse(MemberFault::Duplicate));
        }
        Ok(())
    }

    /// What the index records for a member of `entry`'s kind: a file where its bytes lie,
    /// a hard link as the earlier file it names; `None` for a folder. Any other kind is
    /// refused.
    fn member<R: Read>(
        &mut self,
        entry: &tar::Entry<'_, R>,
        raw_link: Option<Vec<u8>>,
    ) -> Result<Option<Member>, Refused> {
        let size = entry.size();
        Ok(Some(match entry.header().entry_type() {
            tar::EntryType::Directory => return Ok(None),
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                self.total = self.total.saturating_add(size);
                if self.total > MAX_STREAM_BYTES {
                    return Err(Refused::Stop(Stop::TooLarge));
                }
                Member {
                    offset: entry.raw_file_position(),
                    length: size,
                    kind: MemberKind::File,
                }
            }
            tar::EntryType::Link => {
                if size != 0 {
                    return Err(Refused::Fault(MemberFault::LinkWithData));
                }
                let raw_link = raw_link.unwrap_or_default();
                let target = normalise(&raw_link, false)
                    .ok()
                    .flatten()
                    .and_then(|t| self.members.get(&t).copied())
                    .filter(|m| m.kind == MemberKind::File)
                    .ok_or_else(|| Refused::Fault(MemberFault::LinkTarget(shown(&raw_link))))?;
                Member {
                    kind: MemberKind::HardLink,
                    ..target
                }
            }
            tar::EntryType::Symlink => return Err(kind_refused("symbolic links")),
            tar::EntryType::Char | tar::EntryType::Block => {
                return Err(kind_refused("device nodes"))
            }
            tar::EntryType::Fifo => return Err(kind_refused("FIFOs")),
            tar::EntryType::GNUSparse => return Err(kind_refused("sparse files")),
            _ => return Err(kind_refused("special entries")),
        }))
    }
}

/// A member refused for what it is (named by the caller), or a bound of the whole archive.
enum Refused {
    Fault(MemberFault),
    Stop(Stop),
}

impl Refused {
    fn map(self, refuse: impl Fn(MemberFault) -> Stop) -> Stop {
        match self {
            Refused::Fault(fault) => refuse(fault),
            Refused::Stop(stop) => stop,
        }
    }
}

fn kind_refused(what: &'static str) -> Refused {
    Refused::Fault(MemberFault::Kind(what))
}

/// An extension header's bytes, refused past `limit` before any is read.
fn extension<R: Read>(entry: &mut tar::Entry<'_, R>, limit: u64) -> Result<Vec<u8>, Stop> {
    if entry.size() > limit {
        return Err(Stop::Member(
            shown(&entry.path_bytes()),
            MemberFault::NameTooLong,
        ));
    }
    let mut bytes = Vec::new();
    entry.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// A raw name for messages.
fn shown(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
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
