//! `repo verify`: checks a served repository as a device would. Exit 1 if it is not
//! trustworthy (or a role has expired), 3 if a role expires within `--warn-days`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use repo_tool::verify_repo::{served_dir, verify_repository, VerifyReport};
use updater::datetime::UtcTime;

use super::{expiry_warnings, EXIT_UNTRUSTED};

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder (or its public/ folder, or any served copy).
    repo: PathBuf,
    /// The root.json to trust, obtained out of band (e.g. the one devices ship with).
    #[arg(long)]
    root: PathBuf,
    /// Judge expiry at this time (YYYY-MM-DDTHH:MM:SSZ) instead of now, e.g. to check that
    /// the repository will still be valid when a release ships.
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// No progress bar, even on a terminal.
    #[arg(long, short)]
    quiet: bool,
    /// Warn (and exit 3) when a role expires within this many days (default 0: only
    /// expired roles are reported, with exit 1).
    #[arg(long, default_value_t = 0, value_name = "DAYS")]
    warn_days: i64,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let root_bytes = updater::fs::read_bounded(&args.root, updater::limits::MAX_ROOT_BYTES)?;
    let now = match &args.at {
        Some(text) => UtcTime::parse(text).map_err(|e| anyhow!(e))?,
        None => UtcTime::now(),
    };
    // A --root that is no root at all is the file's fault, not the repository's.
    if let Err(e) = updater::trusted::verify_self_signed_root(&root_bytes) {
        eprintln!(
            "error: --root {} is not a root signed by its own keys ({e}): give the root.json \
             devices trust (the repository's public/metadata/1.root.json, or the newest N.root.json)",
            args.root.display()
        );
        return Ok(ExitCode::from(EXIT_UNTRUSTED));
    }
    let served = served_dir(&args.repo);
    match verify_repository(&served, &root_bytes, now, args.quiet) {
        Err(e) => {
            eprintln!(
                "error: repository {} is not trustworthy: {e}",
                served.display()
            );
            Ok(ExitCode::from(EXIT_UNTRUSTED))
        }
        Ok(report) => Ok(print_report(&report, now, args.warn_days)),
    }
}

/// Prints what verified (or which artifacts did not) and returns the exit code.
fn print_report(report: &VerifyReport, now: UtcTime, warn_days: i64) -> ExitCode {
    for (role, version, expires) in &report.roles {
        println!(
            "{:<12} version {version:<5} expires {expires}",
            role.as_str()
        );
    }
    if !report.bad_artifacts.is_empty() {
        for e in &report.bad_artifacts {
            eprintln!("error: {e}");
        }
        eprintln!(
            "error: {} of {} artifacts failed verification",
            report.bad_artifacts.len(),
            report.artifacts
        );
        return ExitCode::from(EXIT_UNTRUSTED);
    }
    println!(
        "ok: {} artifact(s), {} bytes, every signature, version, expiry and hash verified",
        report.artifacts, report.bytes
    );
    let roles = report.roles.iter().map(|(r, _, e)| (r.as_str(), *e));
    match expiry_warnings(roles, now, warn_days) {
        Some(code) => ExitCode::from(code),
        None => ExitCode::SUCCESS,
    }
}
