//! One file per `repo` command: each holds its clap arguments and a `run` that turns them
//! into a call of the library and its output, and returns the exit code. What they share
//! lives here: the exit codes (documented in docs/reference/exit-codes.md and `repo
//! --help`) and the parsing of `ROLE=VALUE` and key file arguments.

pub(crate) mod add;
pub(crate) mod docs;
pub(crate) mod expiry;
pub(crate) mod export;
pub(crate) mod init;
pub(crate) mod keygen;
pub(crate) mod merge;
pub(crate) mod mirror;
pub(crate) mod policy;
pub(crate) mod prune;
pub(crate) mod publish;
pub(crate) mod remove;
pub(crate) mod retire;
pub(crate) mod root;
pub(crate) mod sign;
pub(crate) mod status;
pub(crate) mod timestamp;
pub(crate) mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use repo_tool::init::ROLES;
use repo_tool::keys::PrivateKey;
use repo_tool::workspace::Workspace;

/// Exit code when the repository fails verification.
pub(crate) const EXIT_UNTRUSTED: u8 = 1;
/// Exit code for bad arguments or input that could not be used.
pub(crate) const EXIT_BAD_INPUT: u8 = 2;
/// A role expires within the warning window (`--warn-days`; `--nagios` has its own codes,
/// see `expiry`).
pub(crate) const EXIT_EXPIRING: u8 = 3;
/// `repo sign`/`merge` published what it could, but staged work is still not visible to
/// devices (the message says what and how to finish it).
pub(crate) const EXIT_UNFINISHED: u8 = 4;

/// Says what devices do not see yet, if anything, and returns the exit code for it.
pub(crate) fn unfinished_exit(ws: &Workspace) -> Result<ExitCode> {
    let left = repo_tool::unfinished::unfinished(ws)?;
    if left.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for line in &left {
        eprintln!("not finished: {line}");
    }
    Ok(ExitCode::from(EXIT_UNFINISHED))
}

/// Prints `value` as one JSON object on one line of stdout (`--json`; docs/json.md).
pub(crate) fn print_json(value: &impl serde::Serialize) -> Result<()> {
    println!("{}", serde_json::to_string(value)?);
    Ok(())
}

/// `ROLE=VALUE`, with ROLE one of the repository's roles.
pub(crate) fn split_assignment(text: &str) -> Result<(String, String)> {
    let (role, value) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("{text:?} must be ROLE=VALUE"))?;
    if !ROLES.contains(&role) {
        return Err(anyhow!(
            "unknown role {role:?}: roles are root, targets, snapshot, timestamp and policy"
        ));
    }
    Ok((role.to_owned(), value.to_owned()))
}

/// Loads every private key file named, failing on the first that does not load.
pub(crate) fn load_private_keys(paths: &[PathBuf]) -> Result<Vec<PrivateKey>> {
    paths
        .iter()
        .map(|p| PrivateKey::load(p).map_err(Into::into))
        .collect()
}
