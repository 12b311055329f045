//! `repo completions SHELL` and `repo manpage DIR`: the shell completion script and the man
//! pages, generated from the clap definitions (`updater::cli_docs`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;
use updater::cli_docs::{write_completions, write_manpages, Shell};

#[derive(clap::Args)]
pub(crate) struct CompletionsArgs {
    /// bash, zsh, fish, elvish or powershell.
    shell: Shell,
}

#[derive(clap::Args)]
pub(crate) struct ManpageArgs {
    /// The folder to write the pages into (created if missing).
    dir: PathBuf,
}

pub(crate) fn completions(args: CompletionsArgs) -> Result<ExitCode> {
    write_completions(crate::Cli::command(), args.shell, &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn manpage(args: ManpageArgs) -> Result<ExitCode> {
    let written = write_manpages(crate::Cli::command(), &args.dir)
        .with_context(|| format!("writing man pages into {}", args.dir.display()))?;
    for page in written {
        println!("{}", page.display());
    }
    Ok(ExitCode::SUCCESS)
}
