//! Installing a verified release with no moment in which the device is broken.
//!
//! ```text
//! INSTALL/releases/<release>/   complete releases (the running one and the previous one)
//! INSTALL/current               symlink to releases/<running>, replaced by an atomic rename
//! INSTALL/previous              symlink to the release kept for rollback
//! INSTALL/.staging/<release>/   a release being assembled; never pointed at
//! INSTALL/journal.json          the operation in progress (see `journal`)
//! INSTALL/state.json            what `updater status` reports, the failed release not to
//!                               try again, and the owner's hold (see `blocks`)
//! ```
//!
//! Invariants, each held at every instant so that a kill anywhere leaves a usable device:
//! - a folder appears under `releases/` only by renaming (or exchanging with
//!   `RENAME_EXCHANGE`) a complete, synced staging folder, so `releases/<r>` is always
//!   either absent or complete;
//! - `current` and `previous` change only by renaming a new symlink over them, and a folder
//!   that either names is never removed (pruning runs only with no journal, and spares both);
//! - whether `current` was switched is read from the link, not from the journal;
//! - a release is committed (kept as `current`, with no journal) only after its post-install
//!   scripts and health check passed; an interrupted trial is run again at the next start, at
//!   most `MAX_TRIALS` times, then the release is rolled back and remembered as failed.

mod artifact;
mod blocks;
mod hooks;
mod journal;
mod recover;
mod space;
mod stage;
pub mod unpack;

use std::fs::{self};
use std::io::{self};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::conventions::{ArtifactKind, EncryptedError, KindError, ModeError};
use crate::datetime::UtcTime;
use crate::fs::{sync_dir, write_atomic};
use crate::install::unpack::UnpackLimits;
use crate::rollout::policy::Release;
use crate::update::artifact::TargetHash;

pub use artifact::{release_artifacts, Artifact};
use hooks::run_hook;
pub use journal::MAX_TRIALS;
use journal::{InstallJournal, InstallStep, Journal, RollbackJournal};
pub use space::free_bytes;
use space::sync_filesystem;

/// A release that failed on this device, and the policy it failed under: it is not tried
/// again until the policy changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub release: Release,
    pub policy_sha256: String,
    pub reason: String,
    /// When it failed (by this device's clock); absent in records of older versions.
    #[serde(default)]
    pub at: Option<UtcTime>,
}

/// A hold the device's owner put on it (`updater hold`): nothing is installed until
/// `updater unhold`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub since: UtcTime,
    pub reason: Option<String>,
}

/// `state.json`: what `updater status` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct State {
    pub running: Option<Release>,
    pub previous: Option<Release>,
    pub last_check: Option<UtcTime>,
    pub last_result: Option<String>,
    pub next_check: Option<UtcTime>,
    pub last_error: Option<String>,
    pub failed: Option<Failed>,
    pub held: Option<Held>,
}

impl State {
    /// Reads `<install>/state.json` (empty if there is none), changing nothing: `plan` and
    /// `status` only look, and work on a read-only folder.
    pub fn read(install: &Path) -> Result<State, InstallError> {
        let path = install.join("state.json");
        match crate::fs::read_bounded(&path, MAX_STATE_BYTES) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                InstallError::Io(format!(
                    "{} is unreadable ({e}); the next apply moves it aside and starts afresh",
                    path.display()
                ))
            }),
            Err(crate::Error::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                Ok(State::default())
            }
            Err(e) => Err(InstallError::Io(e.to_string())),
        }
    }
}

/// The largest `state.json` read.
const MAX_STATE_BYTES: u64 = 1 << 20;

/// Commands the device owner configures.
#[derive(Clone, Debug, Default)]
pub struct Hooks {
    /// Run after the switch; a non-zero exit or a timeout rolls back.
    pub health_check: Option<Vec<String>>,
    /// Run after a rollback.
    pub post_rollback: Option<Vec<String>>,
    /// Given each verified `file` artifact's path (A/B images, firmware).
    pub installer: Option<Vec<String>>,
    /// Longest time any hook or script may take.
    pub timeout: Duration,
}

/// Why an install did not happen, or was undone.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{0}")]
    Io(String),
    #[error("{what} failed: {reason}")]
    Hook { what: String, reason: String },
    #[error("{0}")]
    Unpack(#[from] crate::install::unpack::UnpackError),
    #[error("{0}")]
    Kind(#[from] KindError),
    #[error("{0}")]
    Mode(#[from] ModeError),
    #[error("{0}")]
    Encrypted(#[from] EncryptedError),
    #[error("{0}")]
    Artifact(#[from] crate::Error),
    #[error("not enough free space in {dir}: {needed} bytes needed, {free} free")]
    NoSpace {
        dir: PathBuf,
        needed: u64,
        free: u64,
    },
    #[error("release {release} failed its health check and was rolled back: {reason}")]
    RolledBack { release: Release, reason: String },
}

fn io_err(what: impl std::fmt::Display, e: io::Error) -> InstallError {
    InstallError::Io(format!("{what}: {e}"))
}

/// Stops here when `UPDATER_TEST_PAUSE` names `point`, so crash tests can kill the updater
/// at every step boundary. Only in builds with the `fault-injection` feature (the e2e
/// tests'): a release build has no such hook for its environment to trigger.
#[cfg(feature = "fault-injection")]
fn pause_point(point: &str) {
    if std::env::var("UPDATER_TEST_PAUSE").is_ok_and(|s| s == point) {
        eprintln!("updater: paused after step {point} (UPDATER_TEST_PAUSE)");
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Without `fault-injection`, step boundaries are just boundaries.
#[cfg(not(feature = "fault-injection"))]
fn pause_point(_point: &str) {}

/// The install folder of one device.
pub struct Installer {
    root: PathBuf,
    hooks: Hooks,
    limits: UnpackLimits,
}

impl Installer {
    /// The installer for `root` (created if missing).
    pub fn new(root: &Path, hooks: Hooks) -> Result<Self, InstallError> {
        fs::create_dir_all(root.join("releases")).map_err(|e| io_err(root.display(), e))?;
        // Absolute, because scripts and hooks run in other folders.
        let root = fs::canonicalize(root).map_err(|e| io_err(root.display(), e))?;
        Ok(Installer {
            root,
            hooks,
            limits: UnpackLimits::default(),
        })
    }

    fn journal_path(&self) -> PathBuf {
        self.root.join("journal.json")
    }

    fn state_path(&self) -> PathBuf {
        self.root.join("state.json")
    }

    fn release_dir(&self, release: &Release) -> PathBuf {
        self.root.join("releases").join(release.as_str())
    }

    fn staging_dir(&self, release: &Release) -> PathBuf {
        self.root.join(".staging").join(release.as_str())
    }

    /// The release `current` (or `previous`) points at, as the link says (the folder may be
    /// missing: `recover` repairs that).
    pub fn link(&self, name: &str) -> Result<Option<Release>, InstallError> {
        match fs::read_link(self.root.join(name)) {
            Ok(target) => {
                let release = target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| InstallError::Io(format!("{name} points nowhere usable")))?;
                Release::new(release)
                    .map(Some)
                    .map_err(|e| InstallError::Io(format!("{name}: {e}")))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(name, e)),
        }
    }

    /// Reads `state.json` (empty if there is none), changing nothing.
    pub fn state(&self) -> Result<State, InstallError> {
        State::read(&self.root)
    }

    /// `state()`, but an unreadable file is moved aside to `state.json.corrupt` (and said so)
    /// rather than blocking every later install.
    fn state_repairing(&self) -> Result<(State, Option<String>), InstallError> {
        match self.state() {
            Ok(state) => Ok((state, None)),
            Err(e) => {
                let aside = self.root.join("state.json.corrupt");
                fs::rename(self.state_path(), &aside).map_err(|e| io_err("state.json", e))?;
                Ok((
                    State::default(),
                    Some(format!(
                        "state.json could not be read; kept it as {} and started a new one ({e})",
                        aside.display()
                    )),
                ))
            }
        }
    }

    /// Updates `state.json` atomically.
    pub fn update_state(&self, edit: impl FnOnce(&mut State)) -> Result<State, InstallError> {
        let (mut state, _) = self.state_repairing()?;
        edit(&mut state);
        state.running = self.link("current")?;
        state.previous = self.link("previous")?;
        let bytes =
            serde_json::to_vec_pretty(&state).map_err(|e| InstallError::Io(e.to_string()))?;
        write_atomic(&self.state_path(), &bytes).map_err(|e| io_err("state.json", e))?;
        Ok(state)
    }

    /// Records the next action, synced, before it is taken.
    fn write_journal(&self, journal: &Journal, pause: &str) -> Result<(), InstallError> {
        journal
            .write(&self.journal_path())
            .map_err(|e| io_err("journal.json", e))?;
        pause_point(pause);
        Ok(())
    }

    fn end_journal(&self) -> Result<(), InstallError> {
        match fs::remove_file(self.journal_path()) {
            Ok(()) => sync_dir(&self.root).map_err(|e| io_err("install folder", e)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err("journal.json", e)),
        }
    }

    /// Points `name` (`current` or `previous`) at `release` by renaming a new symlink over
    /// it: readers see the old link or the new one, never none.
    fn point(&self, name: &str, release: Option<&Release>) -> Result<(), InstallError> {
        let link = self.root.join(name);
        match release {
            Some(r) => {
                let tmp = self.root.join(format!(".{name}.new"));
                let _ = fs::remove_file(&tmp);
                std::os::unix::fs::symlink(format!("releases/{r}"), &tmp)
                    .map_err(|e| io_err(tmp.display(), e))?;
                fs::rename(&tmp, &link).map_err(|e| io_err(link.display(), e))?;
            }
            None => match fs::remove_file(&link) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(link.display(), e)),
            },
        }
        sync_dir(&self.root).map_err(|e| io_err("install folder", e))
    }

    /// Whether `releases/<release>` is there (as a folder, not through a link).
    fn has_release(&self, release: &Release) -> bool {
        fs::symlink_metadata(self.release_dir(release)).is_ok_and(|m| m.is_dir())
    }

    /// Fails unless `dir`'s filesystem has `needed` bytes free.
    pub fn check_space(dir: &Path, needed: u64) -> Result<(), InstallError> {
        let free = free_bytes(dir).map_err(|e| io_err(dir.display(), e))?;
        if free < needed {
            return Err(InstallError::NoSpace {
                dir: dir.to_path_buf(),
                needed,
                free,
            });
        }
        Ok(())
    }

    /// Installs `release` from verified `artifacts`: stage, switch, trial (post-install
    /// scripts and health check), commit; or roll back. `policy_sha256` identifies the policy
    /// this install happens under. Call `recover` first.
    pub fn install(
        &self,
        release: &Release,
        artifacts: &[Artifact],
        policy_sha256: &str,
    ) -> Result<(), InstallError> {
        let from = self.link("current")?;
        let needed = artifacts
            .iter()
            .try_fold(0u64, |sum, a| sum.checked_add(a.info.length))
            .ok_or_else(|| InstallError::Io("the release's lengths overflow".into()))?;
        Self::check_space(&self.root, needed)?;
        let mut journal = InstallJournal {
            release: release.clone(),
            from,
            policy_sha256: policy_sha256.to_owned(),
            post_install: artifacts
                .iter()
                .filter(|a| a.kind() == Ok(ArtifactKind::PostInstall))
                .map(|a| a.relative.to_owned())
                .collect(),
            step: InstallStep::Staging,
            trials: 0,
            reason: None,
        };
        self.write_journal(&Journal::Install(journal.clone()), "staging")?;
        if let Err(e) = self.stage(release, artifacts) {
            let _ = fs::remove_dir_all(self.staging_dir(release));
            self.end_journal()?;
            self.prune()?;
            return Err(e);
        }
        journal.step = InstallStep::Switching;
        self.write_journal(&Journal::Install(journal.clone()), "staged")?;
        self.point("current", Some(release))?;
        pause_point("switched");
        self.trial(&mut journal)
    }

    /// Runs the switched-to release's post-install scripts and the health check, then commits
    /// or reverts. The trial is counted in the journal before it starts.
    fn trial(&self, journal: &mut InstallJournal) -> Result<(), InstallError> {
        journal.trials += 1;
        journal.step = InstallStep::Trial;
        self.write_journal(&Journal::Install(journal.clone()), "trial")?;
        let folder = self.release_dir(&journal.release);
        let checked = journal
            .post_install
            .iter()
            .try_for_each(|script| {
                let argv = vec![
                    "/bin/sh".to_owned(),
                    folder.join(script).display().to_string(),
                ];
                run_hook(
                    &format!("post-install script {script}"),
                    &argv,
                    &[],
                    &folder,
                    self.hooks.timeout,
                )
            })
            .and_then(|()| match &self.hooks.health_check {
                Some(argv) => run_hook("health check", argv, &[], &self.root, self.hooks.timeout),
                None => Ok(()),
            });
        match checked {
            Ok(()) => {
                journal.step = InstallStep::Committing;
                self.write_journal(&Journal::Install(journal.clone()), "checked")?;
                self.commit(journal)
            }
            Err(e) => self.revert(journal, e.to_string()),
        }
    }

    fn commit(&self, journal: &InstallJournal) -> Result<(), InstallError> {
        self.point("previous", journal.from.as_ref())?;
        pause_point("previous");
        // The failure record goes before the journal ends: a kill in between finishes the
        // commit again, which is harmless.
        self.update_state(|s| s.failed = None)?;
        self.end_journal()?;
        self.prune()
    }

    /// Goes back to the release that ran before, remembers the failure, runs the
    /// post-rollback hook; returns the `RolledBack` error that says why.
    fn revert(&self, journal: &mut InstallJournal, reason: String) -> Result<(), InstallError> {
        let release = journal.release.clone();
        journal.step = InstallStep::Reverting;
        journal.reason = Some(reason.clone());
        self.write_journal(&Journal::Install(journal.clone()), "reverting")?;
        self.point("current", journal.from.as_ref())?;
        pause_point("reverted");
        self.update_state(|s| {
            s.failed = Some(Failed {
                release: release.clone(),
                policy_sha256: journal.policy_sha256.clone(),
                reason: reason.clone(),
                at: Some(UtcTime::now()),
            });
        })?;
        self.end_journal()?;
        self.prune()?;
        let hook = match &self.hooks.post_rollback {
            Some(argv) => run_hook(
                "post-rollback hook",
                argv,
                &[("UPDATER_FAILED_RELEASE", release.as_str())],
                &self.root,
                self.hooks.timeout,
            )
            .err()
            .map(|e| format!("; {e}"))
            .unwrap_or_default(),
            None => String::new(),
        };
        Err(InstallError::RolledBack {
            release,
            reason: format!("{reason}{hook}"),
        })
    }

    /// Switches `current` back to `previous` by hand, journalled: a kill at any instant
    /// leaves either the rollback done or nothing changed, and both links name folders.
    pub fn rollback(&self) -> Result<Release, InstallError> {
        let previous = self.link("previous")?.ok_or_else(|| {
            InstallError::Io("there is no previous release to roll back to".into())
        })?;
        let current = self
            .link("current")?
            .ok_or_else(|| InstallError::Io("there is no current release to roll back".into()))?;
        if !self.has_release(&previous) {
            return Err(InstallError::Io(format!(
                "previous names {previous}, whose folder is missing; nothing to roll back to"
            )));
        }
        let journal = RollbackJournal {
            to: previous.clone(),
            from: current.clone(),
        };
        self.write_journal(&Journal::Rollback(journal), "rollback")?;
        self.point("current", Some(&previous))?;
        pause_point("rollback-switched");
        self.point("previous", Some(&current))?;
        pause_point("rollback-relinked");
        self.end_journal()?;
        self.update_state(|s| s.last_result = Some(format!("rolled back by hand to {previous}")))?;
        Ok(previous)
    }
}

#[cfg(test)]
mod tests;
