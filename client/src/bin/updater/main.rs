//! `updater`: the device side. Keeps a verified view of a TUF repository and fetches
//! verified targets from it. Speaks the tuf-conformance client protocol.
//!
//! This file only dispatches: `cli.rs` holds the arguments and the settings they resolve
//! to, and `commands/` one file per command.

mod cli;
mod commands;
mod log;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser};
use updater::cli_docs::{write_completions, write_manpages};
use updater::datetime::UtcTime;

use cli::{Cli, Command, Settings};

/// Something was refused (verification failed: a bad repository, or an attack), or any
/// other failure.
const REFUSED: u8 = 1;
/// A file could not be fetched and nothing was refused: no mirror could be reached, or
/// none had the file (offline, a mirror down, a wrong URL). Monitoring tells this from
/// `REFUSED` by the code alone. (2 is clap's, for a bad command line.) Not for the
/// commands of the tuf-conformance client protocol, which must exit 1 on any failure.
const UNREACHED: u8 = 3;

fn main() -> ExitCode {
    let cli = Cli::parse();
    log::init(cli.log_format);
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            log::error(&format!("{e:#}"));
            ExitCode::from(exit_code(&cli.command, &e))
        }
    }
}

/// The exit code of a failure, from its typed cause (never from its words): the outermost
/// client error in the chain decides. `init`, `refresh` and `download` are the
/// tuf-conformance protocol's, whose every failure is 1; their message still says which.
fn exit_code(command: &Command, e: &anyhow::Error) -> u8 {
    if matches!(
        command,
        Command::Init { .. } | Command::Refresh | Command::Download
    ) {
        return REFUSED;
    }
    let cause = e
        .chain()
        .find_map(|cause| cause.downcast_ref::<updater::Error>());
    match cause {
        Some(cause) if cause.could_not_fetch() => UNREACHED,
        _ => REFUSED,
    }
}

fn run(cli: &Cli) -> Result<()> {
    // These describe the program, not a device: no settings needed.
    match &cli.command {
        Command::Completions { shell } => {
            write_completions(Cli::command(), *shell, &mut std::io::stdout());
            return Ok(());
        }
        Command::Manpage { dir } => {
            let written = write_manpages(Cli::command(), dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
            for page in written {
                println!("{}", page.display());
            }
            return Ok(());
        }
        _ => {}
    }
    let settings = Settings::from_cli(cli)?;
    match &cli.command {
        Command::Init { root, force } => commands::init::run(&settings.metadata_dir, root, *force),
        Command::Refresh => commands::refresh::run(cli, &settings),
        Command::Download => commands::download::run(cli, &settings),
        Command::Plan { json, now } => commands::plan::run(cli, &settings, *json, *now),
        Command::Apply { now } => {
            commands::apply::apply(cli, &settings, now.unwrap_or_else(UtcTime::now)).map(|_| ())
        }
        Command::Run => commands::run::run(cli, &settings),
        Command::Status { json } => commands::status::run(&settings, *json),
        Command::Rollback => commands::rollback::run(&settings),
        Command::Retry => commands::retry::run(&settings),
        Command::Hold { reason } => commands::hold::hold(&settings, reason.as_deref()),
        Command::Unhold => commands::hold::unhold(&settings),
        Command::Keygen { replace, json } => commands::keygen::run(&settings, *replace, *json),
        Command::Id { json } => commands::id::run(&settings, *json),
        Command::Report { export, json } => commands::report::export(&settings, export, *json),
        Command::Targets => commands::targets::run(cli, &settings),
        Command::Completions { .. } | Command::Manpage { .. } => Ok(()),
    }
}
