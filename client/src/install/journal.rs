//! `journal.json`: the operation in progress on an install folder, written and synced
//! before each action it announces, so that a restart at any instant can finish or undo it.
//!
//! The journal records intent, never facts the filesystem already holds: whether `current`
//! was switched is read from the `current` link itself, because a kill can land between an
//! action and the journal write that would have recorded it.

use std::io;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::fs::write_atomic;
use crate::rollout::policy::Release;

/// How many times a release may be switched to and interrupted (the device restarted, the
/// updater was killed) during its post-install scripts and health check before it counts as
/// failed: a release that crashes the device in its trial is not reinstalled forever.
pub const MAX_TRIALS: u32 = 3;

/// What the next action of an install is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum InstallStep {
    /// Assembling `.staging/<release>` and moving it to `releases/<release>`.
    Staging,
    /// `releases/<release>` is complete; `current` is about to point at it.
    Switching,
    /// `current` points at the release; its post-install scripts and health check run.
    Trial,
    /// The trial passed: `previous` is about to name the release that ran before.
    Committing,
    /// The trial failed: `current` goes back to the release that ran before.
    Reverting,
}

/// An install in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct InstallJournal {
    pub release: Release,
    /// The release `current` named when the install began.
    pub from: Option<Release>,
    /// The policy this install happens under (a failure is remembered against it).
    pub policy_sha256: String,
    /// The release's post-install scripts, relative to its folder, run at every trial.
    pub(crate) post_install: Vec<String>,
    pub step: InstallStep,
    /// Trials begun so far (each is recorded before it starts).
    pub trials: u32,
    /// Why the trial failed, once `step` is `Reverting`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A rollback by hand in progress: `current` to `to`, then `previous` to `from`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RollbackJournal {
    pub to: Release,
    pub from: Release,
}

/// `journal.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "lowercase")]
pub(crate) enum Journal {
    Install(InstallJournal),
    Rollback(RollbackJournal),
}

/// Why `journal.json` could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum JournalError {
    #[error("journal.json: {0}")]
    Io(#[from] io::Error),
    #[error("journal.json is not a journal this updater understands: {0}")]
    Unreadable(serde_json::Error),
}

/// The largest journal read: far above any real one, so a corrupt file cannot exhaust memory.
const MAX_JOURNAL_BYTES: u64 = 1 << 20;

impl Journal {
    /// Reads the journal at `path`; `None` if there is none.
    pub fn read(path: &Path) -> Result<Option<Journal>, JournalError> {
        match crate::fs::read_bounded(path, MAX_JOURNAL_BYTES) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(JournalError::Unreadable),
            Err(crate::Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(crate::Error::Io { source, .. }) => Err(JournalError::Io(source)),
            Err(e) => Err(JournalError::Io(io::Error::other(e.to_string()))),
        }
    }

    /// Writes the journal atomically and durably (temporary file, fsync, rename, fsync).
    pub fn write(&self, path: &Path) -> io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(io::Error::other)?;
        write_atomic(path, &bytes)
    }
}
