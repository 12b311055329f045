//! `repo remove`: unstages a release (or one platform of it) that is not signed yet.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::workspace::Workspace;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// The staged release to remove.
    #[arg(long, value_name = "RELEASE")]
    release: String,
    /// Remove only this platform of it (the others stay staged).
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let removed = repo_tool::remove::remove(
        &Workspace::new(&args.repo),
        &args.release,
        args.platform.as_deref(),
    )?;
    println!(
        "unstaged release {} for {}: {} file(s) removed; the repository is as it was before `repo add`",
        args.release,
        removed.platforms.join(", "),
        removed.files
    );
    Ok(ExitCode::SUCCESS)
}
