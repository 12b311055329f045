//! `fleet`: enroll devices, collect their signed reports, and ask how a rollout stands.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, CommandFactory, Parser, Subcommand};
use updater::cli_docs::{write_completions, write_manpages, Shell};

mod commands;

/// The collector of signed device reports.
///
/// Devices running `updater` with a `[report]` section post signed reports of what they
/// did; `fleet serve` takes them from enrolled devices only and stores them in SQLite (a
/// file path, the default) or PostgreSQL (a postgres:// URL). The other commands ask the
/// same database: which devices run what, and how each release's rollout stands.
///
/// Exit codes: 0 done, 1 failed (nothing half-written), 2 bad usage.
#[derive(Parser)]
#[command(name = "fleet", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The database every command uses.
#[derive(Args, Clone)]
pub struct DbArg {
    /// SQLite file (`fleet.db`, `sqlite:fleet.db`) or `postgres://user@host/db`. Created
    /// and migrated on first use.
    #[arg(long, env = "FLEET_DB", value_name = "URL")]
    pub db: String,
}

#[derive(Subcommand)]
enum Command {
    /// Enroll devices: a device id and its report key (`updater keygen` prints it), or a
    /// file of them. All or nothing.
    Enroll(commands::enroll::EnrollArgs),
    /// Serve the collector: POST /v1/reports, the JSON API and the dashboard at /.
    Serve(commands::serve::ServeArgs),
    /// Take the reports of an air-gapped device (`updater report --export FILE`).
    Import {
        #[command(flatten)]
        db: DbArg,
        /// The exported file: one signed report per line.
        file: PathBuf,
        /// Print the counts as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List devices, narrowed by what they run and where they are.
    Devices(commands::ask::DevicesArgs),
    /// How a release's rollout stands: devices by state, per wave, and over time.
    Summary(commands::ask::SummaryArgs),
    /// The devices that failed or rolled back a release, and why.
    Failures(commands::ask::FailuresArgs),
    /// Print the shell completion script for SHELL on stdout (bash: save it as
    /// /usr/share/bash-completion/completions/fleet; scripts/install-docs.sh does it).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
    },
    /// Write one man page per command into DIR (fleet.1, fleet-serve.1, ...).
    Manpage {
        /// The folder to write the pages into (created if missing).
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Enroll(args) => commands::enroll::run(&args),
        Command::Serve(args) => commands::serve::run(&args),
        Command::Import { db, file, json } => commands::import::run(&db, &file, json),
        Command::Devices(args) => commands::ask::devices(&args),
        Command::Summary(args) => commands::ask::summary(&args),
        Command::Failures(args) => commands::ask::failures(&args),
        Command::Completions { shell } => {
            write_completions(Cli::command(), shell, &mut std::io::stdout());
            Ok(())
        }
        Command::Manpage { dir } => write_manpages(Cli::command(), &dir)
            .with_context(|| format!("writing man pages into {}", dir.display()))
            .map(|written| {
                for page in written {
                    println!("{}", page.display());
                }
            }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet: {e:#}");
            ExitCode::FAILURE
        }
    }
}
