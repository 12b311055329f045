//! The outbox: records waiting to be delivered, one file each, bounded.
//!
//! Invariant: each record is one file named by its zero-padded sequence number, written
//! atomically (temp file, fsync, rename), so a kill leaves whole records only. The next
//! sequence number and the count of records dropped are in `counters.json`, written
//! (atomically) before the record they number, so a number is never given twice, even
//! across a crash (a crash may leave a gap, never a repeat). At most `max_events` records
//! are kept: adding one to a full outbox deletes the oldest and counts them as dropped; a
//! record that cannot be read back is deleted and counted the same way.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::datetime::UtcTime;
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
}

/// The persisted counters.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Counters {
    next_seq: u64,
    dropped: u64,
}

/// The records waiting in one folder.
pub struct Outbox {
    dir: PathBuf,
    max_events: usize,
}

/// The oldest waiting records and the running total of drops.
pub struct Pending {
    pub records: Vec<Record>,
    pub dropped: u64,
}

const COUNTERS: &str = "counters.json";
/// Digits of a record's file name: every u64 fits.
const DIGITS: usize = 20;

impl Outbox {
    /// The outbox in `dir` (made if missing), keeping at most `max_events` records (at
    /// least one).
    pub fn open(dir: &Path, max_events: usize) -> Result<Self, OutboxError> {
        std::fs::create_dir_all(dir).map_err(|source| OutboxError::Io {
            path: dir.to_owned(),
            source,
        })?;
        Ok(Outbox {
            dir: dir.to_owned(),
            max_events: max_events.max(1),
        })
    }

    /// Adds `event` at `time` with the next sequence number, which it returns; drops the
    /// oldest records if the outbox is full.
    pub fn append(&self, event: Event, time: UtcTime) -> Result<u64, OutboxError> {
        let mut counters = self.counters()?;
        let seq = counters.next_seq;
        let mut waiting = self.sequence_numbers()?;
        let excess = (waiting.len() + 1).saturating_sub(self.max_events);
        for old in waiting.drain(..excess) {
            self.remove(old)?;
            counters.dropped = counters.dropped.saturating_add(1);
        }
        counters.next_seq = seq
            .checked_add(1)
            .ok_or_else(|| self.corrupt(COUNTERS, "sequence exhausted"))?;
        self.write(COUNTERS, &counters)?;
        self.write(&file_name(seq), &Record { seq, time, event })?;
        Ok(seq)
    }

    /// The oldest `limit` waiting records, in order, and the drops not yet reported. A
    /// record that cannot be read back (damaged by a disk fault) is removed and counted as
    /// dropped, so one bad file cannot hold up every report after it.
    pub fn pending(&self, limit: usize) -> Result<Pending, OutboxError> {
        let mut records = Vec::new();
        let mut damaged = 0u64;
        for seq in self.sequence_numbers()? {
            if records.len() >= limit {
                break;
            }
            match self.read::<Record>(&file_name(seq)) {
                Ok(record) if record.seq == seq => records.push(record),
                Ok(_) | Err(OutboxError::Corrupt { .. }) => {
                    self.remove(seq)?;
                    damaged += 1;
                }
                // Removed meanwhile (delivered or exported by another process): not ours.
                Err(OutboxError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        let mut counters = self.counters()?;
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
        for seq in self.sequence_numbers()? {
            if seq <= last_seq {
                self.remove(seq)?;
            }
        }
        Ok(())
    }

    /// The sequence numbers of the waiting records, oldest first.
    fn sequence_numbers(&self) -> Result<Vec<u64>, OutboxError> {
        let entries = std::fs::read_dir(&self.dir).map_err(|source| self.io(&self.dir, source))?;
        let mut seqs = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| self.io(&self.dir, source))?;
            if let Some(seq) = entry.file_name().to_str().and_then(parse_file_name) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        Ok(seqs)
    }

    fn counters(&self) -> Result<Counters, OutboxError> {
        match std::fs::symlink_metadata(self.dir.join(COUNTERS)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Counters::default()),
            _ => self.read(COUNTERS),
        }
    }

    fn read<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, OutboxError> {
        let path = self.dir.join(name);
        // A failed read is not damage (the record may be fine and the disk busy): only a
        // file too large or not a file, or one that does not parse, is damaged.
        let bytes = crate::fs::read_bounded(&path, crate::limits::MAX_EVENT_FILE_BYTES).map_err(
            |e| match e {
                crate::Error::Io { path, source } => OutboxError::Io { path, source },
                other => self.corrupt(name, &other.to_string()),
            },
        )?;
        serde_json::from_slice(&bytes).map_err(|e| self.corrupt(name, &e.to_string()))
    }

    fn write(&self, name: &str, value: &impl Serialize) -> Result<(), OutboxError> {
        let path = self.dir.join(name);
        let bytes = serde_json::to_vec(value).map_err(|e| self.corrupt(name, &e.to_string()))?;
        crate::fs::write_atomic(&path, &bytes).map_err(|source| self.io(&path, source))
    }

    fn remove(&self, seq: u64) -> Result<(), OutboxError> {
        let path = self.dir.join(file_name(seq));
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(self.io(&path, e)),
            _ => Ok(()),
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
mod tests {
    use super::*;

    fn event(n: u64) -> Event {
        Event::failed(&format!("failure {n}"))
    }

    #[test]
    fn a_full_outbox_keeps_the_newest_and_counts_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), 10).unwrap();
        let time = UtcTime::from_unix(1_800_000_000).unwrap();
        for n in 0..25 {
            assert_eq!(outbox.append(event(n), time).unwrap(), n);
        }
        let pending = outbox.pending(100).unwrap();
        let seqs: Vec<u64> = pending.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (15..25).collect::<Vec<_>>());
        assert_eq!(pending.dropped, 15);
        assert_eq!(pending.records[0].event, event(15));
        outbox.delivered(19).unwrap();
        let pending = outbox.pending(100).unwrap();
        assert_eq!(pending.records.len(), 5);
        assert_eq!(pending.dropped, 15);
        // Numbers continue after a reopen; none is given twice.
        let reopened = Outbox::open(dir.path(), 10).unwrap();
        assert_eq!(reopened.append(event(99), time).unwrap(), 25);
    }

    #[test]
    fn a_damaged_record_is_dropped_not_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let outbox = Outbox::open(dir.path(), 10).unwrap();
        let time = UtcTime::from_unix(1_800_000_000).unwrap();
        for n in 0..3 {
            outbox.append(event(n), time).unwrap();
        }
        std::fs::write(dir.path().join(file_name(1)), b"{\"seq\": ").unwrap();
        let pending = outbox.pending(10).unwrap();
        let seqs: Vec<u64> = pending.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, [0, 2]);
        assert_eq!(pending.dropped, 1);
        assert!(!dir.path().join(file_name(1)).exists());
    }

    #[test]
    fn only_record_names_count() {
        assert_eq!(parse_file_name("00000000000000000042.json"), Some(42));
        for name in [
            "42.json",
            "counters.json",
            "0000000000000000004x.json",
            ".00000000000000000042.json.tmp",
        ] {
            assert_eq!(parse_file_name(name), None, "{name}");
        }
    }
}
