//! `repo retire`: stage releases to leave the catalogue (published by the next `repo sign`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::workspace::Workspace;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// A release to retire (repeat for several).
    #[arg(long = "release", required = true, value_name = "RELEASE")]
    releases: Vec<String>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let ws = Workspace::new(&args.repo);
    let staged = repo_tool::catalogue::retire(&ws, &args.releases)?;
    let list: Vec<String> = staged.iter().map(ToString::to_string).collect();
    println!(
        "staged to retire: {}; `repo sign {}` with the targets key(s) publishes it; its files stay served until `repo prune`",
        list.join(", "),
        args.repo.display()
    );
    Ok(ExitCode::SUCCESS)
}
