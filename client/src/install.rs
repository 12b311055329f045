//! Installing a verified release with no moment in which the device is broken.
//!
//! ```text
//! INSTALL/releases/<release>/   complete releases (the running one and the previous one)
//! INSTALL/current               symlink to releases/<running>, replaced by an atomic rename
//! INSTALL/previous              symlink to the release kept for rollback
//! INSTALL/.staging/<release>/   a release being assembled; never pointed at
//! INSTALL/journal.json          the install in progress, synced before each step
//! INSTALL/state.json            what `updater status` reports
//! ```
//!
//! A release folder appears under `releases/` only by renaming a complete, synced staging
//! folder, and `current` only ever changes by renaming a new symlink over it, so at every
//! instant `current` names a complete release, old or new. The journal says how far an
//! install got; the next start finishes it (health check passed) or undoes it.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::datetime::UtcTime;
use crate::fs::{sync_dir, write_atomic};
use crate::metadata::TargetInfo;
use crate::names::TargetName;
use crate::policy::Release;
use crate::unpack::{unpack_file, UnpackLimits};

/// How far an install got. Each step is recorded (and synced) once it is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Assembling `.staging/<release>`.
    Staging,
    /// `releases/<release>` is complete; `current` not yet switched.
    Staged,
    /// `current` points at the new release; its health is not yet confirmed.
    Switched,
    /// The health check passed; only the bookkeeping is left.
    Checked,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Staging => "staging",
            Step::Staged => "staged",
            Step::Switched => "switched",
            Step::Checked => "checked",
        }
    }
}

/// `journal.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Journal {
    pub release: Release,
    pub from: Option<Release>,
    pub step: Step,
}

/// A release that failed on this device, and the policy it failed under: it is not tried
/// again until the policy changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failed {
    pub release: Release,
    pub policy_sha256: String,
    pub reason: String,
}

/// `state.json`: what `updater status` shows.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub running: Option<Release>,
    pub previous: Option<Release>,
    pub last_check: Option<UtcTime>,
    pub last_result: Option<String>,
    pub next_check: Option<UtcTime>,
    pub last_error: Option<String>,
    pub failed: Option<Failed>,
}

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

/// One artifact of the release, verified and on local disk.
#[derive(Clone, Debug)]
pub struct Artifact {
    pub name: TargetName,
    pub info: TargetInfo,
    /// Its path inside the release (`app.bin`, `share/data.txt`).
    pub relative: String,
    pub local: PathBuf,
}

impl Artifact {
    /// `bundle`, `file`, `pre-install` or `post-install`, as `repo add` recorded it.
    pub fn kind(&self) -> &str {
        self.info
            .custom
            .as_ref()
            .and_then(|c| c.get("kind"))
            .and_then(|k| k.as_str())
            .unwrap_or("file")
    }
}

/// Why an install did not happen, or was undone.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{0}")]
    Io(String),
    #[error("{what} failed: {reason}")]
    Hook { what: String, reason: String },
    #[error("{0}")]
    Unpack(#[from] crate::unpack::UnpackError),
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

    /// The release `current` (or `previous`) points at.
    pub fn link(&self, name: &str) -> Result<Option<Release>, InstallError> {
        match fs::read_link(self.root.join(name)) {
            Ok(target) => {
                let release = target
                    .file_name()
                    .and_then(|n| n.to_str())
                    .ok_or_else(|| InstallError::Io(format!("{name} points nowhere usable")))?;
                Release::new(release).map(Some).map_err(InstallError::Io)
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(name, e)),
        }
    }

    /// Reads `state.json` (empty if there is none).
    pub fn state(&self) -> Result<State, InstallError> {
        match fs::read(self.state_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| InstallError::Io(format!("state.json: {e}"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(State::default()),
            Err(e) => Err(io_err("state.json", e)),
        }
    }

    /// Updates `state.json` atomically.
    pub fn update_state(&self, edit: impl FnOnce(&mut State)) -> Result<State, InstallError> {
        let mut state = self.state()?;
        edit(&mut state);
        state.running = self.link("current")?;
        state.previous = self.link("previous")?;
        let bytes =
            serde_json::to_vec_pretty(&state).map_err(|e| InstallError::Io(e.to_string()))?;
        write_atomic(&self.state_path(), &bytes).map_err(|e| io_err("state.json", e))?;
        Ok(state)
    }

    fn journal(&self) -> Result<Option<Journal>, InstallError> {
        match fs::read(self.journal_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| InstallError::Io(format!("journal.json: {e}"))),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err("journal.json", e)),
        }
    }

    /// Records `step` of an install, synced, and (for crash tests) pauses there when
    /// `UPDATER_TEST_PAUSE` names it.
    fn record(&self, journal: &mut Journal, step: Step) -> Result<(), InstallError> {
        journal.step = step;
        let bytes = serde_json::to_vec(journal).map_err(|e| InstallError::Io(e.to_string()))?;
        write_atomic(&self.journal_path(), &bytes).map_err(|e| io_err("journal.json", e))?;
        if std::env::var("UPDATER_TEST_PAUSE").is_ok_and(|s| s == step.name()) {
            eprintln!(
                "updater: paused after step {} (UPDATER_TEST_PAUSE)",
                step.name()
            );
            std::thread::sleep(Duration::from_secs(3600));
        }
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

    /// Finishes or undoes an install that a crash or power cut interrupted. Returns what
    /// was done, if anything.
    pub fn recover(&self) -> Result<Option<String>, InstallError> {
        let Some(journal) = self.journal()? else {
            let _ = fs::remove_dir_all(self.root.join(".staging"));
            return Ok(None);
        };
        let release = &journal.release;
        let done = match journal.step {
            Step::Staging | Step::Staged => {
                // Never switched to: the running release was never touched.
                let _ = fs::remove_dir_all(self.staging_dir(release));
                if self.link("current")?.as_ref() != Some(release) {
                    let _ = fs::remove_dir_all(self.release_dir(release));
                }
                format!("undid the interrupted install of {release} (it was not yet switched to)")
            }
            Step::Switched => {
                // Its health was never confirmed: back to the release that ran before.
                self.point("current", journal.from.as_ref())?;
                format!(
                    "undid the interrupted install of {release}: back on {}",
                    journal
                        .from
                        .as_ref()
                        .map_or("nothing".into(), |r| r.to_string())
                )
            }
            Step::Checked => {
                self.point("previous", journal.from.as_ref())?;
                format!("finished the interrupted install of {release}")
            }
        };
        self.end_journal()?;
        self.update_state(|s| s.last_result = Some(done.clone()))?;
        Ok(Some(done))
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

    /// Installs `release` from verified `artifacts`: stage, switch, check health, commit;
    /// or roll back. `policy_sha256` identifies the policy this install happens under.
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
        let mut journal = Journal {
            release: release.clone(),
            from: from.clone(),
            step: Step::Staging,
        };
        self.record(&mut journal, Step::Staging)?;
        if let Err(e) = self.stage(release, artifacts) {
            let _ = fs::remove_dir_all(self.staging_dir(release));
            self.end_journal()?;
            return Err(e);
        }
        self.record(&mut journal, Step::Staged)?;
        self.point("current", Some(release))?;
        self.record(&mut journal, Step::Switched)?;

        let checked = self
            .run_scripts(artifacts, "post-install", &self.release_dir(release))
            .and_then(|()| match &self.hooks.health_check {
                Some(argv) => run_hook("health check", argv, &[], &self.root, self.hooks.timeout),
                None => Ok(()),
            });
        if let Err(e) = checked {
            let reason = e.to_string();
            self.point("current", from.as_ref())?;
            self.end_journal()?;
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
            self.update_state(|s| {
                s.failed = Some(Failed {
                    release: release.clone(),
                    policy_sha256: policy_sha256.to_owned(),
                    reason: format!("{reason}{hook}"),
                });
            })?;
            return Err(InstallError::RolledBack {
                release: release.clone(),
                reason: format!("{reason}{hook}"),
            });
        }
        self.record(&mut journal, Step::Checked)?;
        self.point("previous", from.as_ref())?;
        self.end_journal()?;
        self.prune()?;
        self.update_state(|s| s.failed = None)?;
        Ok(())
    }

    /// Assembles `.staging/<release>` and renames it to `releases/<release>`.
    fn stage(&self, release: &Release, artifacts: &[Artifact]) -> Result<(), InstallError> {
        let staging = self.staging_dir(release);
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(|e| io_err(staging.display(), e))?;
        self.run_scripts(artifacts, "pre-install", &staging)?;
        for artifact in artifacts {
            match artifact.kind() {
                "bundle" => {
                    unpack_file(
                        &artifact.local,
                        artifact.name.as_str(),
                        &staging,
                        self.limits,
                    )?;
                }
                "pre-install" | "post-install" | "file" => {
                    let dest = staging.join(&artifact.relative);
                    if let Some(parent) = dest.parent() {
                        fs::create_dir_all(parent).map_err(|e| io_err(parent.display(), e))?;
                    }
                    fs::copy(&artifact.local, &dest).map_err(|e| io_err(dest.display(), e))?;
                    if artifact.kind() == "file" {
                        if let Some(argv) = &self.hooks.installer {
                            let mut argv = argv.clone();
                            argv.push(dest.display().to_string());
                            run_hook("installer hook", &argv, &[], &staging, self.hooks.timeout)?;
                        }
                    }
                }
                other => {
                    return Err(InstallError::Io(format!(
                        "{}: unknown artifact kind {other:?}",
                        artifact.name
                    )))
                }
            }
        }
        // Everything staged reaches the disk before the folder can be switched to.
        sync_filesystem(&staging).map_err(|e| io_err(staging.display(), e))?;
        let dest = self.release_dir(release);
        let _ = fs::remove_dir_all(&dest);
        fs::rename(&staging, &dest).map_err(|e| io_err(dest.display(), e))?;
        sync_dir(&self.root.join("releases")).map_err(|e| io_err("releases", e))
    }

    fn run_scripts(
        &self,
        artifacts: &[Artifact],
        kind: &str,
        cwd: &Path,
    ) -> Result<(), InstallError> {
        for script in artifacts.iter().filter(|a| a.kind() == kind) {
            let argv = vec!["/bin/sh".to_owned(), script.local.display().to_string()];
            let what = format!("{kind} script {}", script.relative);
            run_hook(&what, &argv, &[], cwd, self.hooks.timeout)?;
        }
        Ok(())
    }

    /// Removes releases that are neither current nor previous.
    fn prune(&self) -> Result<(), InstallError> {
        let keep: Vec<Release> = [self.link("current")?, self.link("previous")?]
            .into_iter()
            .flatten()
            .collect();
        let dir = self.root.join("releases");
        for entry in fs::read_dir(&dir).map_err(|e| io_err(dir.display(), e))? {
            let entry = entry.map_err(|e| io_err(dir.display(), e))?;
            let name = entry.file_name();
            let kept = keep.iter().any(|r| name.to_str() == Some(r.as_str()));
            if !kept {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }

    /// Switches `current` back to `previous` by hand.
    pub fn rollback(&self) -> Result<Release, InstallError> {
        let previous = self.link("previous")?.ok_or_else(|| {
            InstallError::Io("there is no previous release to roll back to".into())
        })?;
        let current = self.link("current")?;
        self.point("current", Some(&previous))?;
        self.point("previous", current.as_ref())?;
        self.update_state(|s| s.last_result = Some(format!("rolled back by hand to {previous}")))?;
        Ok(previous)
    }
}

/// Runs `argv` in `cwd` with `env`, killing it after `timeout`.
fn run_hook(
    what: &str,
    argv: &[String],
    env: &[(&str, &str)],
    cwd: &Path,
    timeout: Duration,
) -> Result<(), InstallError> {
    let fail = |reason: String| InstallError::Hook {
        what: what.to_owned(),
        reason,
    };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| fail("empty command".into()))?;
    // Its own process group, so that a timeout ends everything it started.
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .current_dir(cwd)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
        .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(fail(format!("exited with {status}"))),
            Ok(None) if Instant::now() >= deadline => {
                if let Ok(pid) = i32::try_from(child.id()) {
                    // SAFETY: signalling the process group this function created.
                    unsafe { libc::kill(-pid, libc::SIGKILL) };
                }
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("timed out after {}s", timeout.as_secs())));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(fail(e.to_string())),
        }
    }
}

/// Free bytes for an unprivileged writer on `dir`'s filesystem.
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(dir.as_os_str().as_bytes()).map_err(io::Error::other)?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `path` is a valid C string and `stat` a valid out-pointer for the call.
    let rc = unsafe { libc::statvfs(path.as_ptr(), &mut stat) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // The fields are narrower than u64 on 32-bit devices.
    #[allow(clippy::useless_conversion)]
    let (blocks, size) = (u64::from(stat.f_bavail), u64::from(stat.f_frsize));
    Ok(blocks.saturating_mul(size))
}

/// Flushes the filesystem holding `dir` (all of a staged tree in one call).
fn sync_filesystem(dir: &Path) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let handle = fs::File::open(dir)?;
    // SAFETY: a valid open file descriptor for the duration of the call.
    if unsafe { libc::syncfs(handle.as_raw_fd()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// The artifacts of one release and platform from the index, with their paths inside the
/// release (the part after `releases/<release>/<platform>/`).
pub fn release_artifacts(
    list: &[(TargetName, TargetInfo)],
) -> BTreeMap<&TargetName, (String, &TargetInfo)> {
    list.iter()
        .map(|(name, info)| {
            let relative = name
                .as_str()
                .splitn(4, '/')
                .nth(3)
                .unwrap_or_default()
                .to_owned();
            (name, (relative, info))
        })
        .collect()
}
