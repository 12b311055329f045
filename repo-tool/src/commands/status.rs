//! `repo status`: each role's version, expiry and signatures, a staged root's progress, and
//! what is staged but not signed. Exit 1 if a role has expired, 3 if one expires within
//! `--warn-days`; `--nagios` uses the plugin codes instead (see `expiry`). `--json` prints
//! the same as one object (docs/json.md) and keeps the exit codes.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::rotate::{name_of, progress, RootProgress};
use repo_tool::status::{status, ReleaseStatus, RepoStatus, RoleStatus};
use repo_tool::workspace::Workspace;
use serde::Serialize;
use updater::datetime::UtcTime;
use updater::key::KeyId;

use super::expiry::{nagios_line, Expiry, Judgement, NAGIOS_UNKNOWN};
use super::print_json;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// Warn (and exit 3) when a role expires within this many days (default 0: only
    /// expired roles are reported, with exit 1).
    #[arg(long, default_value_t = 0, value_name = "DAYS")]
    warn_days: i64,
    /// Print one JSON object instead of the table (docs/json.md); exit codes are unchanged.
    #[arg(long, conflicts_with = "nagios")]
    json: bool,
    /// Monitoring-plugin output: one line (`REPO OK - ...`) and exit 0 OK, 1 WARNING (a role
    /// expires within --warn-days), 2 CRITICAL (a role has expired), 3 UNKNOWN (the
    /// repository could not be read).
    #[arg(long)]
    nagios: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let ws = Workspace::new(&args.repo);
    let now = UtcTime::now();
    let report = match status(&ws) {
        Ok(report) => report,
        Err(e) if args.nagios => {
            let line = format!("REPO UNKNOWN - could not read the repository: {e:#}");
            return Ok(nagios_line(NAGIOS_UNKNOWN, &line));
        }
        Err(e) => return Err(e),
    };
    let judged = Judgement::new(
        report.roles.iter().map(|r| (r.role.as_str(), r.expires)),
        now,
        args.warn_days,
    );
    if args.nagios {
        let (code, line) = judged.nagios();
        return Ok(nagios_line(code, &line));
    }
    if args.json {
        let names = ws.settings()?.names;
        print_json(&StatusJson::new(
            &report,
            progress(&ws)?.as_ref(),
            &names,
            &judged,
            now,
            args.warn_days,
        ))?;
    } else {
        print_table(&ws, &report)?;
    }
    judged.warn();
    Ok(judged.exit_code().map_or(ExitCode::SUCCESS, ExitCode::from))
}

/// The table for people.
fn print_table(ws: &Workspace, report: &RepoStatus) -> Result<()> {
    println!(
        "{:<10} {:>7}  {:<20}  {:<10}  signed by",
        "role", "version", "expires", "signatures"
    );
    for role in &report.roles {
        print_role(ws, role)?;
    }
    if let Some(p) = progress(ws)? {
        let names = ws.settings()?.names;
        let signers: Vec<String> = p
            .by_current
            .iter()
            .chain(p.by_new.iter().filter(|k| !p.by_current.contains(k)))
            .map(|k| name_of(&names, k))
            .collect();
        let (by_current, by_new) = p.missing();
        println!(
            "root       {:>7}  staged, signed by {}: {by_current} more needed from the current root keys, {by_new} from its own",
            p.version,
            if signers.is_empty() { "nobody".to_owned() } else { signers.join(", ") }
        );
    }
    print_releases(&report.releases);
    if report.policy_staged {
        println!("a staged policy.xml is not yet signed (repo sign with the policy key)");
    }
    if report.staged_changes > 0 {
        println!(
            "{} staged change(s) to the index not yet signed",
            report.staged_changes
        );
    }
    Ok(())
}

/// The live and staged releases, per platform, and who they are encrypted to.
fn print_releases(releases: &[ReleaseStatus]) {
    if releases.is_empty() {
        return;
    }
    println!();
    println!(
        "{:<16} {:<12} {:>6}  encrypted to",
        "release", "platform", "files"
    );
    for r in releases {
        let staged = if r.staged { " (staged)" } else { "" };
        let to = match r.recipients {
            Some(n) => format!("{n} recipient(s)"),
            None => "not encrypted".to_owned(),
        };
        println!(
            "{:<16} {:<12} {:>6}  {to}",
            format!("{}{staged}", r.release),
            r.platform,
            r.files
        );
    }
    println!();
}

/// One role's line, and its problems below it.
fn print_role(ws: &Workspace, role: &RoleStatus) -> Result<()> {
    let names = ws.settings()?.names;
    let signers: Vec<String> = role.signed_by.iter().map(|k| name_of(&names, k)).collect();
    let count = format!("{}/{}", role.signed_by.len(), role.threshold);
    let missing = if role.missing() > 0 {
        format!(" ({} missing)", role.missing())
    } else {
        String::new()
    };
    println!(
        "{:<10} {:>7}  {:<20}  {:<10}  {}{missing}",
        role.role,
        role.version,
        role.expires.to_string(),
        count,
        signers.join(", ")
    );
    for problem in &role.problems {
        println!("           ! {problem}");
    }
    Ok(())
}

/// `repo status --json`: field names are a wire format (docs/json.md), only ever added to.
#[derive(Serialize)]
struct StatusJson<'a> {
    /// When expiry was judged.
    now: UtcTime,
    warn_days: i64,
    roles: Vec<RoleJson<'a>>,
    staged_root: Option<StagedRootJson>,
    releases: Vec<ReleaseJson<'a>>,
    staged_changes: usize,
    policy_staged: bool,
}

#[derive(Serialize)]
struct RoleJson<'a> {
    role: &'a str,
    version: u64,
    expires: UtcTime,
    expiry: Expiry,
    threshold: u32,
    missing: u32,
    signed_by: Vec<SignerJson>,
    problems: &'a [String],
}

/// A key that signed, and the name the admin gave it (the key file's stem), if any.
#[derive(Serialize)]
struct SignerJson {
    keyid: String,
    name: Option<String>,
}

#[derive(Serialize)]
struct StagedRootJson {
    version: u64,
    signed_by: Vec<SignerJson>,
    missing_from_current_keys: u32,
    missing_from_new_keys: u32,
}

#[derive(Serialize)]
struct ReleaseJson<'a> {
    release: &'a str,
    platform: &'a str,
    staged: bool,
    files: usize,
    /// `None`: not encrypted.
    recipients: Option<u64>,
}

impl<'a> StatusJson<'a> {
    fn new(
        report: &'a RepoStatus,
        staged_root: Option<&RootProgress>,
        names: &BTreeMap<String, String>,
        judged: &Judgement,
        now: UtcTime,
        warn_days: i64,
    ) -> Self {
        let signer = |k: &KeyId| SignerJson {
            keyid: k.as_str().to_owned(),
            name: names.get(k.as_str()).cloned(),
        };
        StatusJson {
            now,
            warn_days,
            roles: report
                .roles
                .iter()
                .map(|r| RoleJson {
                    role: &r.role,
                    version: r.version,
                    expires: r.expires,
                    expiry: judged.of(&r.role),
                    threshold: r.threshold,
                    missing: r.missing(),
                    signed_by: r.signed_by.iter().map(signer).collect(),
                    problems: &r.problems,
                })
                .collect(),
            staged_root: staged_root.map(|p| {
                let (current, new) = p.missing();
                StagedRootJson {
                    version: p.version,
                    signed_by: p
                        .by_current
                        .iter()
                        .chain(p.by_new.iter().filter(|k| !p.by_current.contains(k)))
                        .map(signer)
                        .collect(),
                    missing_from_current_keys: current,
                    missing_from_new_keys: new,
                }
            }),
            releases: report
                .releases
                .iter()
                .map(|r| ReleaseJson {
                    release: &r.release,
                    platform: &r.platform,
                    staged: r.staged,
                    files: r.files,
                    recipients: r.recipients,
                })
                .collect(),
            staged_changes: report.staged_changes,
            policy_staged: report.policy_staged,
        }
    }
}
