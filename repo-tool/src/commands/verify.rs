//! `repo verify`: checks a served repository as a device would. Exit 1 if it is not
//! trustworthy (or a role has expired), 3 if a role expires within `--warn-days`;
//! `--nagios` uses the plugin codes instead (see `expiry`). `--json` prints the outcome as
//! one object (docs/json.md) and keeps the exit codes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use repo_tool::verify_repo::{served_dir, verify_repository, VerifyReport};
use serde::Serialize;
use updater::datetime::UtcTime;

use super::expiry::{nagios_line, Expiry, Judgement, NAGIOS_CRITICAL, NAGIOS_UNKNOWN};
use super::{print_json, EXIT_UNTRUSTED};

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
    /// Print one JSON object instead of the lines (docs/json.md); exit codes are unchanged.
    /// Implies --quiet.
    #[arg(long, conflicts_with = "nagios")]
    json: bool,
    /// Monitoring-plugin output: one line (`REPO OK - ...`) and exit 0 OK, 1 WARNING (a role
    /// expires within --warn-days), 2 CRITICAL (a role has expired, or the repository fails
    /// verification), 3 UNKNOWN (the trusted root could not be read). Implies --quiet.
    #[arg(long)]
    nagios: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let root_bytes = match updater::fs::read_bounded(&args.root, updater::limits::MAX_ROOT_BYTES) {
        Ok(bytes) => bytes,
        Err(e) if args.nagios => {
            let line = format!(
                "REPO UNKNOWN - could not read the trusted root {}: {e}",
                args.root.display()
            );
            return Ok(nagios_line(NAGIOS_UNKNOWN, &line));
        }
        Err(e) => return Err(e.into()),
    };
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
    let quiet = args.quiet || args.json || args.nagios;
    let outcome = verify_repository(&served, &root_bytes, now, quiet);
    if args.nagios {
        return Ok(nagios(&served, &outcome, now, args.warn_days));
    }
    if args.json {
        return json(&served, &outcome, now, args.warn_days);
    }
    match outcome {
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

type Outcome = std::result::Result<VerifyReport, updater::Error>;

fn judge(report: &VerifyReport, now: UtcTime, warn_days: i64) -> Judgement {
    let roles = report.roles.iter().map(|(r, _, e)| (r.as_str(), *e));
    Judgement::new(roles, now, warn_days)
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
    let judged = judge(report, now, warn_days);
    judged.warn();
    judged.exit_code().map_or(ExitCode::SUCCESS, ExitCode::from)
}

/// The one Nagios line: a repository that fails verification is CRITICAL, like an expired
/// role (devices refuse both).
fn nagios(served: &Path, outcome: &Outcome, now: UtcTime, warn_days: i64) -> ExitCode {
    match outcome {
        Err(e) => {
            let line = format!(
                "REPO CRITICAL - repository {} is not trustworthy: {e}",
                served.display()
            );
            nagios_line(NAGIOS_CRITICAL, &line)
        }
        Ok(report) if !report.bad_artifacts.is_empty() => {
            let line = format!(
                "REPO CRITICAL - {} of {} artifacts failed verification: {}",
                report.bad_artifacts.len(),
                report.artifacts,
                report.bad_artifacts[0]
            );
            nagios_line(NAGIOS_CRITICAL, &line)
        }
        Ok(report) => {
            let (code, line) = judge(report, now, warn_days).nagios();
            nagios_line(code, &line)
        }
    }
}

/// `repo verify --json`: field names are a wire format (docs/json.md), only ever added to.
#[derive(Serialize)]
struct VerifyJson<'a> {
    /// Every signature, version, expiry and hash verified (an expired role is not trusted:
    /// `error` names it).
    trusted: bool,
    /// Why the metadata did not verify (`null` when it did).
    error: Option<String>,
    /// The folder verified.
    served: String,
    /// When expiry was judged (now, or --at).
    at: UtcTime,
    warn_days: i64,
    roles: Vec<RoleJson<'a>>,
    artifacts: usize,
    bytes: u64,
    bad_artifacts: Vec<String>,
}

#[derive(Serialize)]
struct RoleJson<'a> {
    role: &'a str,
    version: u64,
    expires: UtcTime,
    expiry: Expiry,
}

fn json(served: &Path, outcome: &Outcome, now: UtcTime, warn_days: i64) -> Result<ExitCode> {
    let mut out = VerifyJson {
        trusted: false,
        error: None,
        served: served.display().to_string(),
        at: now,
        warn_days,
        roles: Vec::new(),
        artifacts: 0,
        bytes: 0,
        bad_artifacts: Vec::new(),
    };
    let code = match outcome {
        Err(e) => {
            out.error = Some(e.to_string());
            eprintln!(
                "error: repository {} is not trustworthy: {e}",
                served.display()
            );
            ExitCode::from(EXIT_UNTRUSTED)
        }
        Ok(report) => {
            let judged = judge(report, now, warn_days);
            out.roles = report
                .roles
                .iter()
                .map(|(role, version, expires)| RoleJson {
                    role: role.as_str(),
                    version: version.get(),
                    expires: *expires,
                    expiry: judged.of(role.as_str()),
                })
                .collect();
            out.artifacts = report.artifacts;
            out.bytes = report.bytes;
            out.bad_artifacts = report.bad_artifacts.iter().map(|e| e.to_string()).collect();
            out.trusted = out.bad_artifacts.is_empty();
            if out.bad_artifacts.is_empty() {
                judged.warn();
                judged.exit_code().map_or(ExitCode::SUCCESS, ExitCode::from)
            } else {
                ExitCode::from(EXIT_UNTRUSTED)
            }
        }
    };
    print_json(&out)?;
    Ok(code)
}
