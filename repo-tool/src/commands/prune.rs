//! `repo prune`: remove old metadata versions and the files of retired releases.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::workspace::Workspace;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// Versions of each role to keep (the current ones always stay; every root stays).
    #[arg(long, default_value_t = 3)]
    keep: usize,
    /// Print what was removed as JSON.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let ws = Workspace::new(&args.repo);
    let pruned = repo_tool::prune::prune(&ws, args.keep)?;
    if args.json {
        println!("{}", serde_json::to_string(&pruned)?);
    } else {
        println!(
            "removed {} metadata file(s) and {} artifact file(s), {} bytes",
            pruned.metadata_files, pruned.artifact_files, pruned.bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}
