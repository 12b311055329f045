//! `repo mirror URL DEST --root ROOT`: copies a served repository, verified as a whole;
//! a copy that does not verify exits 1 and leaves DEST as it was.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::EXIT_UNTRUSTED;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The upstream repository's base URL (holding metadata/ and targets/).
    url: String,
    /// The folder to write (replaced as a whole).
    dest: PathBuf,
    /// The root.json to trust.
    #[arg(long)]
    root: PathBuf,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let Args { url, dest, root } = args;
    let root_bytes = updater::fs::read_bounded(&root, updater::limits::MAX_ROOT_BYTES)?;
    match repo_tool::mirror::mirror(&url, &dest, &root_bytes) {
        Ok(done) => println!(
            "mirrored {url} into {}: {} metadata files, {} artifacts, all verified",
            dest.display(),
            done.metadata,
            done.artifacts
        ),
        Err(e) => {
            eprintln!(
                "error: {url} was not mirrored ({} is unchanged): {e:#}",
                dest.display()
            );
            return Ok(ExitCode::from(EXIT_UNTRUSTED));
        }
    }
    Ok(ExitCode::SUCCESS)
}
