//! `repo policy check|set|keys`: validate and stage a rollout policy, or change the policy
//! role's keys. A refused policy exits 1, like a repository that fails verification.
//! `check --json` prints the verdict and the preview as one object (docs/json.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;
use repo_tool::policy::PolicySummary;
use repo_tool::workspace::Workspace;
use serde::Serialize;

use super::{print_json, EXIT_UNTRUSTED};

#[derive(Subcommand)]
pub(crate) enum PolicyCommand {
    /// Validate FILE (syntax; every release it names is in REPO's staged index; no early
    /// device or group named twice; no device left with nowhere to go) and preview, per
    /// channel, which share of the fleet is eligible from when. Exit 1 if the policy is
    /// refused.
    Check(CheckArgs),
    /// Check FILE as `check` does, then stage it as REPO's policy; `repo sign` with the
    /// policy key(s) publishes it.
    Set(SetArgs),
    /// Change the policy role's keys or threshold (to revoke a compromised policy key). The
    /// change is staged in the index: publish it with `repo sign` and the targets keys (and
    /// re-sign the policy with the new policy key at the same time).
    Keys(KeysArgs),
}

#[derive(clap::Args)]
pub(crate) struct CheckArgs {
    /// The repository folder.
    repo: PathBuf,
    /// The policy.xml to check.
    file: PathBuf,
    /// Print one JSON object: the verdict and, for a valid policy, its schedule and channels
    /// (docs/json.md); exit codes are unchanged.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
pub(crate) struct SetArgs {
    /// The repository folder.
    repo: PathBuf,
    /// The policy.xml to stage.
    file: PathBuf,
}

#[derive(clap::Args)]
pub(crate) struct KeysArgs {
    /// The repository folder.
    repo: PathBuf,
    /// A policy key to add (public or private PEM).
    #[arg(long = "add-key", value_name = "FILE")]
    add: Vec<PathBuf>,
    /// A policy key to remove: its file or its key id (a unique prefix of 8 or more hex characters will do).
    #[arg(long = "remove-key", value_name = "KEY")]
    remove: Vec<String>,
    /// The policy role's new threshold.
    #[arg(long)]
    threshold: Option<u32>,
}

pub(crate) fn run(command: PolicyCommand) -> Result<ExitCode> {
    match command {
        PolicyCommand::Check(args) => check(args),
        PolicyCommand::Set(args) => set(args),
        PolicyCommand::Keys(args) => keys(args),
    }
}

/// `repo policy check --json`: field names are a wire format (docs/json.md).
#[derive(Serialize)]
struct CheckJson<'a> {
    valid: bool,
    /// Why the policy is refused (`null` when valid).
    error: Option<String>,
    /// The schedule and channels (`null` when refused).
    policy: Option<&'a PolicySummary>,
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let checked = repo_tool::policy::check(&Workspace::new(&args.repo), &args.file)?;
    if args.json {
        print_json(&CheckJson {
            valid: checked.is_ok(),
            error: checked.as_ref().err().map(|e| format!("{e:#}")),
            policy: checked.as_ref().ok().map(|c| &c.summary),
        })?;
    }
    match checked {
        Ok(checked) if !args.json => print!("{}", checked.preview),
        Ok(_) => {}
        Err(refusal) => {
            eprintln!("error: {refusal:#}");
            return Ok(ExitCode::from(EXIT_UNTRUSTED));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn set(args: SetArgs) -> Result<ExitCode> {
    let ws = Workspace::new(&args.repo);
    match repo_tool::policy::check(&ws, &args.file)? {
        Ok(checked) => {
            repo_tool::policy::stage(&ws, &args.file)?;
            print!("{}", checked.preview);
            println!(
                "staged as {}; publish it with `repo sign {} --key POLICY_KEY --key SNAPSHOT_KEY --key TIMESTAMP_KEY`",
                ws.staged_policy_file().display(),
                args.repo.display()
            );
        }
        Err(refusal) => {
            eprintln!("error: {refusal:#}");
            return Ok(ExitCode::from(EXIT_UNTRUSTED));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn keys(args: KeysArgs) -> Result<ExitCode> {
    let ws = Workspace::new(&args.repo);
    let (keys, threshold) =
        repo_tool::policy::edit_keys(&ws, &args.add, &args.remove, args.threshold)?;
    println!(
        "staged: the policy role has {keys} key(s), threshold {threshold}; publish with `repo sign {} --key TARGETS_KEY --key NEW_POLICY_KEY --key SNAPSHOT_KEY --key TIMESTAMP_KEY`",
        args.repo.display()
    );
    Ok(ExitCode::SUCCESS)
}
