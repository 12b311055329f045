//! `repo publish REPO URL`: uploads the served repository, timestamp last.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::workspace::Workspace;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// Where to: s3://BUCKET/PREFIX, gs://..., az://..., file:///PATH.
    url: String,
    /// No progress bar, even on a terminal.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let done = repo_tool::publish::publish(&Workspace::new(&args.repo), &args.url, args.quiet)?;
    println!(
        "published to {}: {} uploaded, {} copied on the server, {} already there ({} bytes sent)",
        args.url, done.uploaded, done.copied, done.skipped, done.bytes_sent
    );
    Ok(ExitCode::SUCCESS)
}
