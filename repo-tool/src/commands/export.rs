//! `repo export`: writes the served repository as one archive for an air-gapped site,
//! optionally with a snapshot and timestamp signed for the archive only, and prints until
//! when devices accept it.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use repo_tool::archive_metadata::{published_expiries, resign_for_archive, RoleExpiry};
use repo_tool::export::{export, Exported};
use repo_tool::period::Period;
use repo_tool::workspace::Workspace;
use updater::datetime::UtcTime;
use updater::metadata::Version;

use super::load_private_keys;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// The archive to write (.tar.gz or .tgz).
    #[arg(long)]
    out: PathBuf,
    /// Sign a snapshot and timestamp for this archive only, valid this long (e.g. 90d), so
    /// the site's devices keep expiry checks on; needs the snapshot and timestamp keys.
    /// Refused if root, targets or the policy expire sooner. The served repository is
    /// not changed.
    #[arg(long, value_name = "PERIOD", requires = "keys")]
    valid_for: Option<String>,
    /// Snapshot and timestamp private key(s) for --valid-for.
    #[arg(long = "key", alias = "timestamp-key", value_name = "KEY")]
    keys: Vec<PathBuf>,
    /// Only the artifacts of the newest N releases (all metadata still goes in).
    #[arg(long, value_name = "N")]
    releases: Option<usize>,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let ws = Workspace::new(&args.repo);
    let mut expiries = published_expiries(&ws)?;
    let done = match &args.valid_for {
        Some(period) => {
            let period: Period = period.parse().map_err(|e: String| anyhow!(e))?;
            export_resigned(&ws, &args, period, &mut expiries)?
        }
        None => {
            if !args.keys.is_empty() {
                bail!("--key is for --valid-for (the snapshot and timestamp keys that sign for the archive); give --valid-for PERIOD or leave the keys out");
            }
            // Devices would refuse an archive whose chain has already expired.
            let now = UtcTime::now();
            let expired: Vec<String> = expiries
                .iter()
                .filter(|r| r.expires <= now)
                .map(|r| format!("{} version {} expired at {}", r.role, r.version, r.expires))
                .collect();
            if !expired.is_empty() {
                bail!(
                    "devices would refuse this archive: {}; re-sign first (`repo timestamp`, `repo sign`, or for root `repo root edit --expires`), or export with --valid-for PERIOD and the snapshot and timestamp keys",
                    expired.join(", ")
                );
            }
            export(&ws, &args.out, args.releases, &[])?
        }
    };
    println!(
        "wrote {}: {} files, {} bytes before compression",
        args.out.display(),
        done.files,
        done.bytes
    );
    let first = expiries.iter().map(|r| r.expires).min();
    for role in &expiries {
        println!(
            "  {:<10} version {:<5} expires {}",
            role.role, role.version, role.expires
        );
    }
    if let Some(first) = first {
        println!("devices accept this archive until {first}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Exports with a snapshot and timestamp signed for the archive, valid for `period`, and
/// updates `expiries` to show them.
fn export_resigned(
    ws: &Workspace,
    args: &Args,
    period: Period,
    expiries: &mut [RoleExpiry],
) -> Result<Exported> {
    let keys = load_private_keys(&args.keys)?;
    let fresh = resign_for_archive(ws, &keys, period)?;
    // Recorded first, so that the online repository's next versions go past these even if
    // the archive is later lost; put back if it is not written.
    let before = ws.exported_versions_file().exists();
    let recorded = ws.exported_versions()?;
    ws.write_exported_versions(Some(fresh.versions))?;
    let done = export(ws, &args.out, args.releases, &fresh.files);
    if done.is_err() {
        let _ = ws.write_exported_versions(before.then_some(recorded));
    }
    let until = UtcTime::now().plus_seconds(period.seconds());
    for role in expiries.iter_mut() {
        match role.role.as_str() {
            "snapshot" => {
                role.version = Version::new(fresh.versions.snapshot).context("snapshot version")?;
                role.expires = until;
            }
            "timestamp" => {
                role.version =
                    Version::new(fresh.versions.timestamp).context("timestamp version")?;
                role.expires = until;
            }
            _ => {}
        }
    }
    done
}
