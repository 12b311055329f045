//! `repo status`: each role's version, expiry and signatures, a staged root's progress, and
//! what is staged but not signed. Exit 1 if a role has expired, 3 if one expires within
//! `--warn-days`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::rotate::{name_of, progress};
use repo_tool::status::{status, ReleaseStatus, RoleStatus};
use repo_tool::workspace::Workspace;
use updater::datetime::UtcTime;

use super::expiry_warnings;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// Warn (and exit 3) when a role expires within this many days (default 0: only
    /// expired roles are reported, with exit 1).
    #[arg(long, default_value_t = 0, value_name = "DAYS")]
    warn_days: i64,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let ws = Workspace::new(&args.repo);
    let report = status(&ws)?;
    println!(
        "{:<10} {:>7}  {:<20}  {:<10}  signed by",
        "role", "version", "expires", "signatures"
    );
    for role in &report.roles {
        print_role(&ws, role)?;
    }
    if let Some(p) = progress(&ws)? {
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
    let roles = report.roles.iter().map(|r| (r.role.as_str(), r.expires));
    match expiry_warnings(roles, UtcTime::now(), args.warn_days) {
        Some(code) => Ok(ExitCode::from(code)),
        None => Ok(ExitCode::SUCCESS),
    }
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
