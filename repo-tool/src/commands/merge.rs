//! `repo merge` and `repo root merge`: add the signatures gathered on another copy, then
//! publish what is now complete.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::sign::{sign, SignOptions};
use repo_tool::workspace::Workspace;

use super::unfinished_exit;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// The other copy of the repository folder.
    other: PathBuf,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    merge(&args.repo, &args.other)
}

/// Merges `other` (a repository folder, or a staged root.json) into `repo`, publishes what
/// is complete, and exits 4 if something staged is still not visible.
pub(crate) fn merge(repo: &Path, other: &Path) -> Result<ExitCode> {
    let ws = Workspace::new(repo);
    let added = if other.is_dir() {
        repo_tool::sign::merge(&ws, other)?
    } else {
        repo_tool::rotate::merge(&ws, other)?
    };
    println!("merged {added} signature(s)");
    // Publish what is now complete (without snapshot and timestamp keys, a complete
    // targets or policy waits for the next `repo sign` with them).
    let pending = ws.staged_dir().join("root.json").exists()
        || std::fs::read_dir(ws.staged_dir())?
            .any(|e| e.is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".signed.json")));
    if pending {
        for line in sign(&ws, &[], SignOptions::default())? {
            println!("{line}");
        }
    }
    unfinished_exit(&ws)
}
