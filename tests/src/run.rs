//! The workspace's binaries run as a test runs them: the `repo` binary, any command with a
//! deadline (a hang is a failure, not a run that never ends), and what a run printed.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The workspace's top folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned()
}

/// A binary of the workspace, built by `cargo build --workspace --bins` (the test command
/// does that first).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` before the tests (tests/run-all.sh does)",
        path.display()
    );
    path
}

/// Output of one run of a binary.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub(crate) fn from(output: Output) -> Self {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics unless the run succeeded.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "command failed: {self:#?}");
        self
    }

    /// Panics unless `repo sign`/`merge` published what it could and exited 4, saying on
    /// stderr that `needle` is not finished.
    pub fn unfinished(self, needle: &str) -> Self {
        assert_eq!(self.code, Some(4), "wrong exit code: {self:#?}");
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with("not finished: ") && l.contains(needle)),
            "stderr lacks \"not finished: ...{needle}\": {self:#?}"
        );
        self
    }

    /// Panics unless the run failed with `code` and stderr contains `needle`.
    pub fn fails_with(self, code: i32, needle: &str) -> Self {
        assert_eq!(self.code, Some(code), "wrong exit code: {self:#?}");
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        self
    }
}

/// Runs `repo` with `args`.
pub fn repo<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Run::from(
        Command::new(bin("repo"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run repo"),
    )
}

/// Runs `command`, killing it and failing the test if it has not ended by `deadline`: a
/// hang shows up as a failure, not as a test run that never ends.
pub fn run_bounded(command: &mut Command, deadline: Duration) -> Run {
    use std::io::Read;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Drained on threads so that a chatty child never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.and_then(|s| s.code()),
        stdout: stdout.join().expect("stdout thread"),
        stderr: stderr.join().expect("stderr thread"),
    };
    assert!(
        status.is_some(),
        "{command:?} did not end within {deadline:?}: {run:#?}"
    );
    run
}

/// Starts `updater --config CONFIG run` in the background, output discarded; the caller
/// kills it.
pub fn spawn_run(config: &Path) -> std::process::Child {
    Command::new(bin("updater"))
        .arg("--config")
        .arg(config)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start updater run")
}
