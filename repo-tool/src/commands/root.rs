//! `repo root edit` and `repo root merge`: stage root N+1, and gather its signatures.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Subcommand;
use repo_tool::rotate::RootEdit;
use repo_tool::workspace::Workspace;

use super::split_assignment;

#[derive(Subcommand)]
pub(crate) enum RootCommand {
    /// Stage root N+1 from the newest root (or edit the staged one): add or remove keys of
    /// any role, change thresholds. Admins then sign it with `repo sign --key ROOT_KEY`; it
    /// is published once a threshold of the current root keys and of its own have signed.
    Edit(EditArgs),
    /// Add the signatures of another copy of the staged root (a root.json, or a copy of the
    /// repository folder) and publish it if it is now complete.
    Merge(MergeArgs),
}

#[derive(clap::Args)]
pub(crate) struct EditArgs {
    /// The repository folder.
    repo: PathBuf,
    /// Add a key to a role, as ROLE=FILE (public or private PEM).
    #[arg(long = "add-key", value_name = "ROLE=FILE")]
    add: Vec<String>,
    /// Remove a key from a role, as ROLE=FILE or ROLE=KEYID (a unique prefix of 8 or more hex characters will do).
    #[arg(long = "remove-key", value_name = "ROLE=KEY")]
    remove: Vec<String>,
    /// A role's new threshold, as ROLE=N.
    #[arg(long = "threshold", value_name = "ROLE=N")]
    thresholds: Vec<String>,
    /// How long the new root stays valid (default: repo.toml's root expiry).
    #[arg(long, value_name = "PERIOD")]
    expires: Option<String>,
}

#[derive(clap::Args)]
pub(crate) struct MergeArgs {
    /// The repository folder.
    repo: PathBuf,
    /// The other copy: a staged root.json or a repository folder.
    other: PathBuf,
}

pub(crate) fn run(command: RootCommand) -> Result<ExitCode> {
    match command {
        RootCommand::Edit(args) => edit(args),
        RootCommand::Merge(args) => super::merge::merge(&args.repo, &args.other),
    }
}

/// The change the arguments ask for.
fn change(args: &EditArgs) -> Result<RootEdit> {
    let mut change = RootEdit::default();
    for text in &args.add {
        let (role, path) = split_assignment(text)?;
        change.add.push((role, path.into()));
    }
    for text in &args.remove {
        let (role, key) = split_assignment(text)?;
        change.remove.push((role, key));
    }
    for text in &args.thresholds {
        let (role, n) = split_assignment(text)?;
        let n = n
            .parse()
            .with_context(|| format!("threshold {n:?} is not a number"))?;
        change.thresholds.push((role, n));
    }
    if let Some(period) = &args.expires {
        change.expires = Some(period.parse().map_err(|e: String| anyhow!(e))?);
    }
    Ok(change)
}

fn edit(args: EditArgs) -> Result<ExitCode> {
    let change = change(&args)?;
    let root = repo_tool::rotate::edit(&Workspace::new(&args.repo), &change)?;
    println!(
        "staged root version {} (expires {}); sign it with `repo sign {} --key ROOT_KEY` (a threshold of the current root keys and of its own)",
        root.version,
        root.expires,
        args.repo.display()
    );
    Ok(ExitCode::SUCCESS)
}
