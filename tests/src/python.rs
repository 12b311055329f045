//! python-tuf, the reference client, and plain python3 for building hostile archives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use crate::run::workspace_root;

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

/// python-tuf (`tests/python/tuf_fetch.py`) refreshes from the repository served at `base`,
/// trusting `root`, and downloads every target: name -> SHA-512 of the bytes it got.
/// Panics if python-tuf refuses the repository.
pub fn python_tuf_fetch(base: &str, root: &Path) -> BTreeMap<String, String> {
    let work = tempfile::tempdir().expect("tempdir");
    python_tuf_fetch_in(base, root, work.path())
}

/// [`python_tuf_fetch`] keeping python-tuf's trusted metadata in `work` (so that a later
/// call refreshes from what an earlier one trusted, with python-tuf's rollback checks).
pub fn python_tuf_fetch_in(base: &str, root: &Path, work: &Path) -> BTreeMap<String, String> {
    let out = Command::new(tuf_python())
        .arg(workspace_root().join("tests/python/tuf_fetch.py"))
        .arg(base)
        .arg(root)
        .arg(work)
        .output()
        .expect("run python-tuf");
    assert!(
        out.status.success(),
        "python-tuf refused the repository: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("json line");
            (
                v["name"].as_str().expect("name").to_owned(),
                v["sha512"].as_str().expect("sha512").to_owned(),
            )
        })
        .collect()
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
