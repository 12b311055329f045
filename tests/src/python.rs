//! python-tuf, the reference client, and plain python3 for building hostile archives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::run::{run_bounded, workspace_root};

/// A python interpreter with python-tuf installed: `$TUF_PYTHON`, or the workspace's
/// `.venv` that the test command creates.
pub fn tuf_python() -> PathBuf {
    if let Some(p) = std::env::var_os("TUF_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join(".venv/bin/python");
    assert!(
        venv.is_file(),
        "python-tuf is not installed: run tests/run-all.sh, which installs it into .venv"
    );
    venv
}

/// python-tuf (`tests/python/tuf_fetch.py`, default configuration) refreshes from the
/// repository served at `base`, trusting `root`, and downloads every target: name -> SHA-512
/// of the bytes it got. Panics with python-tuf's message if it refuses the repository.
pub fn python_tuf_fetch(base: &str, root: &Path) -> BTreeMap<String, String> {
    let work = tempfile::tempdir().expect("tempdir");
    python_tuf_fetch_in(base, root, work.path())
}

/// [`python_tuf_fetch`] keeping python-tuf's trusted metadata in `work` (so that a later
/// call refreshes from what an earlier one trusted, with python-tuf's rollback checks).
pub fn python_tuf_fetch_in(base: &str, root: &Path, work: &Path) -> BTreeMap<String, String> {
    python_tuf_run(base, root, work, &[], None).1
}

/// [`python_tuf_fetch`] from an HTTPS mirror whose certificate `ca` (a PEM file) vouches
/// for: python-tuf uses the system's store, which `SSL_CERT_FILE` replaces.
pub fn python_tuf_fetch_trusting(base: &str, root: &Path, ca: &Path) -> BTreeMap<String, String> {
    let work = tempfile::tempdir().expect("tempdir");
    python_tuf_run(base, root, work.path(), &[], Some(ca)).1
}

/// python-tuf (default configuration) refreshes and downloads just `names`: the limits it
/// ran with, and name -> SHA-512 of the bytes it got.
pub fn python_tuf_get(
    base: &str,
    root: &Path,
    names: &[String],
) -> (Value, BTreeMap<String, String>) {
    let work = tempfile::tempdir().expect("tempdir");
    python_tuf_run(base, root, work.path(), names, None)
}

fn python_tuf_run(
    base: &str,
    root: &Path,
    work: &Path,
    names: &[String],
    ca: Option<&Path>,
) -> (Value, BTreeMap<String, String>) {
    let mut command = Command::new(tuf_python());
    command
        .arg(workspace_root().join("tests/python/tuf_fetch.py"))
        .arg(base)
        .arg(root)
        .arg(work)
        .args(names);
    if let Some(ca) = ca {
        command.env("SSL_CERT_FILE", ca);
    }
    let run = run_bounded(&mut command, Duration::from_secs(600));
    assert_eq!(
        run.code,
        Some(0),
        "python-tuf (default configuration) refused the repository: {}",
        run.stderr
    );
    let mut lines = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<Value>(line).expect("json line"));
    let config = lines.next().expect("the config line")["config"].take();
    let got = lines
        .map(|v| {
            (
                v["name"].as_str().expect("name").to_owned(),
                v["sha512"].as_str().expect("sha512").to_owned(),
            )
        })
        .collect();
    (config, got)
}

/// Runs `code` with python3 (for archives and bundles built with tarfile), panicking if it
/// fails.
pub fn run_python(code: &str) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .output()
        .expect("run python3");
    assert!(out.status.success(), "python3 failed: {out:#?}");
}
