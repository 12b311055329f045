//! The outbox: records waiting to be delivered, one file each, bounded in count and bytes.
//!
//! Invariant: each record is one file named by its zero-padded sequence number, written
//! atomically (temp file, fsync, rename), so a kill leaves whole records only. The next
//! sequence number and the running total of records dropped are in `counters.json`
//! ([`counters`](super::counters)), written (atomically) before the record they number, so
//! a number is never given twice, even across a crash (a crash may leave a gap, never a
//! repeat). Every read-modify-write of the folder (append, pending, delivered, refused, the
//! counters) holds an exclusive advisory lock on its `.lock` file, so a `run` daemon and a
//! manual `apply` or `report --export` never hand out the same number; nobody holds it
//! across a network post. After an append at most `max_events` records are kept and their
//! files take at most `max_bytes` of disk (allocated blocks): the oldest are deleted and
//! counted as dropped; a record that cannot be read back is deleted and counted the same
//! way. A record larger than [`MAX_EVENT_FILE_BYTES`](crate::limits) is refused, unwritten.

use std::fs::File;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::datetime::UtcTime;
use crate::limits::MAX_EVENT_FILE_BYTES;
use crate::report::counters::{now_micros, Counters};
use crate::report::event::{Event, Record};

/// Why the outbox could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("report outbox {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("report outbox {path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("report event of {bytes} bytes not recorded: an event file holds at most {limit}")]
    TooLarge { bytes: usize, limit: u64 },
}

/// How much the outbox keeps.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Most records kept (at least one).
    pub max_events: usize,
    /// Most disk the record files take, counted in allocated blocks.
    pub max_bytes: u64,
}

/// The records waiting in one folder.
pub struct Outbox {
    dir: PathBuf,
    bounds: Bounds,
    /// The folder's block size: a new record's file is taken to fill whole blocks.
    block: u64,
}

/// The oldest waiting records and the running total of drops.
pub struct Pending {
    pub records: Vec<Record>,
    pub dropped: u64,
}

/// Holds the outbox's exclusive lock until dropped (closing the file releases it).
struct Locked {
    _file: File,
}

const COUNTERS: &str = "counters.json";
const LOCK: &str = ".lock";
/// Digits of a record's file name: every u64 fits.
const DIGITS: usize = 20;

impl Outbox {
    /// The outbox in `dir` (made if missing), keeping what `bounds` allow.
    pub fn open(dir: &Path, bounds: Bounds) -> Result<Self, OutboxError> {
        let io = |source| OutboxError::Io {
            path: dir.to_owned(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let block = std::fs::metadata(dir).map_err(io)?.blksize().max(512);
        Ok(Outbox {
            dir: dir.to_owned(),
            bounds: Bounds {
                max_events: bounds.max_events.max(1),
                max_bytes: bounds.max_bytes,
            },
            block,
        })
    }

    /// Adds `event` at `time` with the next sequence number, which it returns; first drops
    /// the oldest records until the new one fits both bounds.
    pub fn append(&self, event: Event, time: UtcTime) -> Result<u64, OutboxError> {
        let _locked = self.lock()?;
        let waiting = self.waiting()?;
        let mut counters = self.counters(&waiting)?;
        let seq = counters.next_seq;
        let record = Record { seq, time, event };
        let bytes =
            serde_json::to_vec(&record).map_err(|e| self.corrupt(COUNTERS, &e.to_string()))?;
        if bytes.len() as u64 > MAX_EVENT_FILE_BYTES {
            return Err(OutboxError::TooLarge {
                bytes: bytes.len(),
                limit: MAX_EVENT_FILE_BYTES,
            });
        }
        let new_size = (bytes.len() as u64).div_ceil(self.block).max(1) * self.block;
        let mut count = waiting.len() + 1;
        let mut total: u64 = waiting.iter().map(|w| w.size).sum::<u64>() + new_size;
        for old in &waiting {
            if count <= self.bounds.max_events && total <= self.bounds.max_bytes {
                break;
            }
            self.remove(old.seq)?;
            counters.dropped = counters.dropped.saturating_add(1);
            count -= 1;
            total -= old.size;
        }
        counters.next_seq = seq
            .checked_add(1)
            .ok_or_else(|| self.corrupt(COUNTERS, "sequence exhausted"))?;
        self.write(COUNTERS, &counters)?;
        let path = self.dir.join(file_name(seq));
        crate::fs::write_atomic(&path, &bytes).map_err(|source| self.io(&path, source))?;
        Ok(seq)
    }

    /// The oldest `limit` waiting records, in order, and the running total of drops. A
    /// record that cannot be read back (damaged by a disk fault) is removed and counted as
    /// dropped, so one bad file cannot hold up every report after it.
    pub fn pending(&self, limit: usize) -> Result<Pending, OutboxError> {
        let _locked = self.lock()?;
        let waiting = self.waiting()?;
        let mut records = Vec::new();
        let mut damaged = 0u64;
        for seq in waiting.iter().map(|w| w.seq) {
            if records.len() >= limit {
                break;
            }
            match self.read::<Record>(&file_name(seq)) {
                Ok(record) if record.seq == seq => records.push(record),
                Ok(_) | Err(OutboxError::Corrupt { .. }) => {
                    self.remove(seq)?;
                    damaged += 1;
                }
                // Gone meanwhile (a process that does not lock, or a person): not ours.
                Err(OutboxError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let mut counters = self.counters(&waiting)?;
        if damaged > 0 {
            counters.dropped = counters.dropped.saturating_add(damaged);
            self.write(COUNTERS, &counters)?;
        }
        Ok(Pending {
            records,
            dropped: counters.dropped,
        })
    }

    /// Forgets the records up to `last_seq`: a report that held them was delivered (or
    /// exported). The drop count is a running total and stays: a report carries it, so a
    /// collector sees the newest total whichever report arrives, and nothing is rewritten
    /// here that a kill could leave half done.
    pub fn delivered(&self, last_seq: u64) -> Result<(), OutboxError> {
        let _locked = self.lock()?;
        for seq in self.sequence_numbers()? {
            if seq <= last_seq {
                self.remove(seq)?;
            }
        }
        Ok(())
    }

    /// Deletes the records up to `last_seq` unsent, counting them as dropped: every
    /// collector refused the report that held them for good (a permanent 4xx), and sending
    /// it again would block every record after it. Returns how many were deleted.
    pub fn refused(&self, last_seq: u64) -> Result<u64, OutboxError> {
        let _locked = self.lock()?;
        let waiting = self.waiting()?;
        let mut counters = self.counters(&waiting)?;
        let mut removed = 0u64;
        for seq in waiting.iter().map(|w| w.seq).filter(|&s| s <= last_seq) {
            if self.remove(seq)? {
                removed += 1;
            }
        }
        counters.dropped = counters.dropped.saturating_add(removed);
        self.write(COUNTERS, &counters)?;
        Ok(removed)
    }

    /// The time before which no send is tried (after failed ones), if any.
    pub fn retry_after(&self) -> Result<Option<UtcTime>, OutboxError> {
        let _locked = self.lock()?;
        Ok(self.counters(&self.waiting()?)?.retry_after)
    }

    /// Notes a failed send at `now` and returns when the next may be tried (see
    /// [`Counters::send_failed`]).
    pub fn send_failed(&self, now: UtcTime) -> Result<UtcTime, OutboxError> {
        let mut random = [0u8; 4];
        // Without randomness the wait is the middle of its range: still bounded.
        let random = match getrandom::getrandom(&mut random) {
            Ok(()) => u32::from_le_bytes(random),
            Err(_) => 500,
        };
        self.update(|c| c.send_failed(now, random))
    }

    /// Notes a send that got through: the backoff starts over.
    pub fn send_succeeded(&self) -> Result<(), OutboxError> {
        self.update(|c| {
            if c.failures > 0 || c.retry_after.is_some() {
                c.send_succeeded();
            }
        })
    }

    /// The public half of the device key recorded for this outbox's reports, if any.
    pub fn known_key(&self) -> Result<Option<String>, OutboxError> {
        let _locked = self.lock()?;
        Ok(self.counters(&self.waiting()?)?.key)
    }

    /// Records `public` (hex) as the device key of this outbox's reports.
    pub fn record_key(&self, public: &str) -> Result<(), OutboxError> {
        self.update(|c| c.key = Some(public.to_owned()))
    }

    /// Applies `change` to the counters under the lock and writes them back.
    fn update<T>(&self, change: impl FnOnce(&mut Counters) -> T) -> Result<T, OutboxError> {
        let _locked = self.lock()?;
        let mut counters = self.counters(&self.waiting()?)?;
        let out = change(&mut counters);
        self.write(COUNTERS, &counters)?;
        Ok(out)
    }

    /// Takes the outbox's exclusive lock, waiting for another holder to let go.
    fn lock(&self) -> Result<Locked, OutboxError> {
        let path = self.dir.join(LOCK);
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|source| self.io(&path, source))?;
        file.lock().map_err(|source| self.io(&path, source))?;
        Ok(Locked { _file: file })
    }

    /// The waiting records with the disk each takes, oldest first.
    fn waiting(&self) -> Result<Vec<Waiting>, OutboxError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| self.io(&self.dir, source))?;
        let mut waiting = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| self.io(&self.dir, source))?;
            let Some(seq) = entry.file_name().to_str().and_then(parse_file_name) else {
                continue;
            };
            let size = match entry.metadata() {
                Ok(meta) => meta.blocks().saturating_mul(512),
                // Removed meanwhile by a process that does not lock (none of ours).
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(self.io(&entry.path(), e)),
            };
            waiting.push(Waiting { seq, size });
        }
        waiting.sort_unstable_by_key(|w| w.seq);
        Ok(waiting)
    }

    /// The sequence numbers of the waiting records, oldest first.
    fn sequence_numbers(&self) -> Result<Vec<u64>, OutboxError> {
        Ok(self.waiting()?.into_iter().map(|w| w.seq).collect())
    }

    /// The counters; if their file is lost, numbering goes on above every number given
    /// (see [`Counters::recovered`]).
    fn counters(&self, waiting: &[Waiting]) -> Result<Counters, OutboxError> {
        match std::fs::symlink_metadata(self.dir.join(COUNTERS)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Counters::recovered(
                waiting.last().map(|w| w.seq),
                now_micros(),
            )),
            _ => self.read(COUNTERS),
        }
    }

    fn read<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, OutboxError> {
        let path = self.dir.join(name);
        // A failed read is not damage (the record may be fine and the disk busy): only a
        // file too large or not a file, or one that does not parse, is damaged.
        let bytes = crate::fs::read_bounded(&path, MAX_EVENT_FILE_BYTES).map_err(|e| match e {
            crate::Error::Io { path, source } => OutboxError::Io { path, source },
            other => self.corrupt(name, &other.to_string()),
        })?;
        serde_json::from_slice(&bytes).map_err(|e| self.corrupt(name, &e.to_string()))
    }

    fn write(&self, name: &str, value: &impl Serialize) -> Result<(), OutboxError> {
        let path = self.dir.join(name);
        let bytes = serde_json::to_vec(value).map_err(|e| self.corrupt(name, &e.to_string()))?;
        crate::fs::write_atomic(&path, &bytes).map_err(|source| self.io(&path, source))
    }

    /// Removes record `seq`; `false` if it was already gone.
    fn remove(&self, seq: u64) -> Result<bool, OutboxError> {
        let path = self.dir.join(file_name(seq));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(self.io(&path, e)),
        }
    }

    fn io(&self, path: &Path, source: std::io::Error) -> OutboxError {
        OutboxError::Io {
            path: path.to_owned(),
            source,
        }
    }

    fn corrupt(&self, name: &str, reason: &str) -> OutboxError {
        OutboxError::Corrupt {
            path: self.dir.join(name),
            reason: reason.to_owned(),
        }
    }
}

/// A waiting record: its number and the disk its file takes.
struct Waiting {
    seq: u64,
    size: u64,
}

fn file_name(seq: u64) -> String {
    format!("{seq:0DIGITS$}.json")
}

/// The sequence number a record's file name holds; `None` for any other name.
fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    let all_digits = digits.len() == DIGITS && digits.bytes().all(|b| b.is_ascii_digit());
    all_digits.then(|| digits.parse().ok()).flatten()
}

#[cfg(test)]
#[path = "outbox_tests.rs"]
mod tests;
