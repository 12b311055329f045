//! `repo keygen STEM`: writes a new ed25519 key pair and prints where, with its key id.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::keys::generate;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// Path and name of the key files, without extension (e.g. keys/targets).
    stem: PathBuf,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let (private, public, id) = generate(&args.stem)?;
    println!(
        "wrote {} (private, keep offline) and {}\nkey id {id}",
        private.display(),
        public.display()
    );
    Ok(ExitCode::SUCCESS)
}
