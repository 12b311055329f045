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
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let done = repo_tool::publish::publish(&Workspace::new(&args.repo), &args.url)?;
    println!(
        "published to {}: {} uploaded, {} already there",
        args.url, done.uploaded, done.skipped
    );
    Ok(ExitCode::SUCCESS)
}
