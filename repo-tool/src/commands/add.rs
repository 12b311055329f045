//! `repo add`: stages a release folder into the index and says what was staged.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::add::{add, Release};
use repo_tool::workspace::Workspace;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// Folder of release files; its layout is kept under releases/RELEASE/PLATFORM/.
    dir: PathBuf,
    /// Release version, e.g. 2.4.1.
    #[arg(long)]
    release: String,
    /// Platform the files are for, e.g. armv7.
    #[arg(long)]
    platform: String,
    /// No progress bar, even on a terminal.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let Args {
        repo,
        dir,
        release,
        platform,
        quiet,
    } = args;
    let summary = add(
        &Workspace::new(&repo),
        &dir,
        &Release::new(&release, &platform)?,
        quiet,
    )?;
    if summary.already_present {
        println!("release {release} for {platform} is already in the repository (staged or published) with the same bytes; nothing changed");
    } else {
        println!(
            "staged release {release} for {platform}: {} file(s), {} bytes; run `repo sign` to publish",
            summary.files, summary.bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}
