//! Downloading a verified target: bytes go to a partial file named by the expected hashes,
//! resumed where a mirror can, checked for length and hashes as they arrive, and renamed
//! into place only once they match.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::{Client, Listing};
use crate::conventions::{name_budget, served};
use crate::error::{Error, Result};
use crate::fetch::mirrors::{Attempt, Mirrors};
use crate::fetch::transport::FetchError;
use crate::hash::StreamHash;
use crate::names::{percent_encode, TargetName};
use crate::update::artifact::TargetHash;
use crate::update::copy::{copy_and_hash, CopyError, Output};

impl Client {
    /// Where [`Client::download`] keeps `name` in `dir`: one file named by
    /// [`name_budget::local_file_name`], so no target name can place a file outside `dir`
    /// and every name fits in one file name.
    pub fn local_path(dir: &Path, name: &TargetName) -> PathBuf {
        dir.join(name_budget::local_file_name(name))
    }

    /// Where [`Client::download`] writes `target` while it arrives: named by hashes only,
    /// so it fits in one file name whatever the target's name.
    pub(crate) fn partial_path(dir: &Path, target: Listing<'_>) -> Result<PathBuf> {
        let hash = TargetHash::for_target(target.name.as_str(), target.info)?;
        Ok(dir.join(name_budget::partial_file_name(
            target.name,
            &hash.short_hex(),
        )))
    }

    /// Makes a verified copy of `target` in `dir`, unless one is already there. The bytes
    /// go to a temporary file in `dir` while their length and hashes are checked; only a
    /// file that matches is renamed into place. Returns the file's path and whether it was
    /// fetched (false: the copy in `dir` already matched).
    pub fn download(
        &self,
        target: Listing<'_>,
        mirrors: &Mirrors,
        dir: &Path,
    ) -> Result<(PathBuf, bool)> {
        let dest = Self::local_path(dir, target.name);
        let what = target.name.as_str();
        let hash = TargetHash::for_target(what, target.info)?;
        if dest.is_file() && hash.check_file(what, &dest, target.info).is_ok() {
            return Ok((dest, false));
        }
        let remote = percent_encode(&self.target_path(target), true);
        // Named by the expected hash too, so a partial of another version is never resumed.
        let partial = Self::partial_path(dir, target)?;
        let limit = target.info.length;
        // A partial already as long as the target (cut just before its rename) is checked
        // here: there is nothing left to ask a mirror for.
        if fs::metadata(&partial).is_ok_and(|m| m.len() >= limit)
            && hash.check_file(what, &partial, target.info).is_err()
        {
            discard(&partial);
        }
        // Bytes an earlier attempt (or run) saved are kept and the rest asked for.
        let saved = || {
            fs::metadata(&partial)
                .map(|m| m.len())
                .ok()
                .filter(|n| *n < limit)
                .unwrap_or(0)
        };
        let complete = fs::metadata(&partial).is_ok_and(|m| m.len() == limit);
        let result = if complete {
            Ok(())
        } else {
            mirrors.fetch_resuming(what, &remote, &saved, |body| {
                receive(body, &partial, &hash, target)
            })
        };
        result?;
        fs::rename(&partial, &dest).map_err(|e| Error::io(&dest, e))?;
        crate::fs::sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        Ok((dest, true))
    }

    /// The target's path under the targets base: a name the repository serves it by.
    pub(super) fn target_path(&self, target: Listing<'_>) -> String {
        served::fetch_name(
            target.name,
            &target.info.hashes,
            self.trusted.root().consistent_snapshot,
        )
    }
}

/// Receives one mirror's reply into `partial`: from the start, or appended to the bytes
/// saved before when the mirror resumed; then checks the whole file's length and hashes.
fn receive(
    body: crate::fetch::transport::Body,
    partial: &Path,
    hash: &TargetHash,
    target: Listing<'_>,
) -> Result<(), Attempt> {
    let what = target.name.as_str();
    let limit = target.info.length;
    let remaining = limit - body.start.min(limit);
    if body.announced_length.is_some_and(|n| n > remaining) {
        discard(partial);
        return Err(Attempt::Fetch(FetchError::TooLarge { limit }));
    }
    // One byte more than listed is enough to know the file is too long.
    let mut reader = body.reader.take(remaining.saturating_add(1));
    let (length, digest) = if body.start == 0 {
        receive_whole(&mut reader, partial, hash, limit)?
    } else {
        append_resumed(partial, body.start, &mut reader, hash.hasher())?
    };
    if let Err(e) = hash.check(what, target.info, length, &digest) {
        // Whatever was saved is not this target: never resume from it.
        discard(partial);
        if body.start > 0 {
            return Err(Attempt::Fetch(FetchError::ResumedMismatch(format!(
                "the bytes resumed after {} did not match ({e}); saved part discarded",
                body.start
            ))));
        }
        return Err(e.into());
    }
    Ok(())
}

/// Writes a whole reply into a fresh `partial`, hashing as it goes. Returns the length and
/// digest received.
fn receive_whole(
    reader: &mut (dyn Read + Send),
    partial: &Path,
    hash: &TargetHash,
    limit: u64,
) -> Result<(u64, Vec<u8>), Attempt> {
    discard(partial);
    let mut output = Output::create(partial).map_err(|e| Error::io(partial, e))?;
    // Receiving costs CPU here, so the hash gets a thread of its own.
    let copied = copy_and_hash(reader, &mut output, (), hash.hasher(), Some(limit), &|_| {})
        .map_err(|e| copy_failure(partial, e))?;
    output
        .into_file()
        .sync_all()
        .map_err(|e| Error::io(partial, e))?;
    Ok((copied.length, copied.second))
}

/// Removes a partial download (a missing one is fine).
fn discard(partial: &Path) {
    let _ = fs::remove_file(partial);
}

/// A failed copy: a read failure keeps what arrived (to resume from), a write failure
/// (a full disk, say) gives the space back.
fn copy_failure(partial: &Path, e: CopyError) -> Attempt {
    match e {
        CopyError::Read(e) => Attempt::Fetch(e.into()),
        CopyError::Write(e) => {
            discard(partial);
            Attempt::Refused(Error::io(partial, e))
        }
    }
}

/// Continues the partial download at `partial`, whose first `start` bytes are already
/// saved: hashes them, then appends what `reader` brings. Returns the total length and
/// the digest of the whole file.
fn append_resumed(
    partial: &Path,
    start: u64,
    reader: &mut (dyn Read + Send),
    mut hash: crate::hash::AnyHasher,
) -> Result<(u64, Vec<u8>), Attempt> {
    use std::io::Write;
    let io = |e| Error::io(partial, e);
    let mut saved = fs::File::open(partial).map_err(io)?.take(start);
    let mut buf = vec![0u8; crate::hash::STREAM_CHUNK];
    let mut length = 0u64;
    loop {
        let n = saved.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        length += n as u64;
    }
    if length != start {
        discard(partial);
        return Err(Attempt::Fetch(FetchError::Io(
            "the saved part changed".into(),
        )));
    }
    let mut out = fs::OpenOptions::new()
        .append(true)
        .open(partial)
        .map_err(io)?;
    let failure = loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Some(e),
        };
        hash.update(&buf[..n]);
        if let Err(e) = out.write_all(&buf[..n]) {
            discard(partial);
            return Err(Attempt::Refused(Error::io(partial, e)));
        }
        length += n as u64;
    };
    out.sync_all().map_err(io)?;
    if let Some(e) = failure {
        return Err(Attempt::Fetch(e.into()));
    }
    Ok((length, hash.finish()))
}
