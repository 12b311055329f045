//! `repo sign`: signs what the given keys can sign, prints what was published, and exits 4
//! if something staged is still not visible to devices.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::sign::{sign, SignOptions};
use repo_tool::workspace::Workspace;

use super::{load_private_keys, unfinished_exit};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// Private key file(s): targets and/or policy keys meeting their thresholds, plus
    /// snapshot and timestamp keys.
    #[arg(long = "key", value_name = "KEY", required = true)]
    keys: Vec<PathBuf>,
    /// Sign even though root expires before the metadata signed now (an expired root
    /// is always refused).
    #[arg(long)]
    force: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let keys = load_private_keys(&args.keys)?;
    let ws = Workspace::new(&args.repo);
    let options = SignOptions { force: args.force };
    for line in sign(&ws, &keys, options)? {
        println!("{line}");
    }
    unfinished_exit(&ws)
}
