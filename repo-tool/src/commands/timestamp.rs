//! `repo timestamp`: re-signs only the timestamp, for a scheduled job.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::workspace::Workspace;

use super::load_private_keys;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// Timestamp private key(s), meeting its threshold.
    #[arg(long = "key", value_name = "KEY", required = true)]
    keys: Vec<PathBuf>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let keys = load_private_keys(&args.keys)?;
    let version = repo_tool::sign::timestamp_only(&Workspace::new(&args.repo), &keys)?;
    println!("published timestamp version {version}");
    Ok(ExitCode::SUCCESS)
}
