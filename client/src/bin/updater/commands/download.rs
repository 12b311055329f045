//! `updater download`: refresh, then fetch each --target-name verified.

use anyhow::{bail, Context, Result};
use tuf_core::delegation::Lookup;
use updater::datetime::UtcTime;
use updater::names::TargetName;
use updater::update::client::FoundTarget;

use crate::cli::{mirrors, refreshed_client, Cli, Settings};

pub(crate) fn run(cli: &Cli, settings: &Settings) -> Result<()> {
    if cli.target_name.is_empty() {
        bail!("--target-name is required");
    }
    let target_dir = settings
        .target_dir
        .as_deref()
        .context("--target-dir (or --config) is required")?;
    let targets = mirrors(cli, settings, &settings.target_urls, "--target-base-url")?;
    let mut client = refreshed_client(cli, settings, UtcTime::now())?;
    for raw in &cli.target_name {
        let name = TargetName::new(raw.as_str())
            .map_err(|e| anyhow::anyhow!("target name {raw:?} {e}"))?;
        let found = match client.lookup_target(&name)? {
            Lookup::Found(role, info) => FoundTarget { name, info, role },
            Lookup::NotListed => bail!("{raw}: no trusted role lists this target"),
            // Not found, as python-tuf has it, but said as what it is.
            Lookup::SearchLimit(reached) => bail!(
                "{raw}: not found within the search limit of {} delegated roles ({} more were still to search)",
                reached.limit,
                reached.left
            ),
        };
        let (path, fetched) = client.download(found.listing(), &targets, target_dir)?;
        if fetched {
            println!(
                "{raw}: {} bytes verified -> {}",
                found.info.length,
                path.display()
            );
        } else {
            println!("{raw}: already present and verified at {}", path.display());
        }
    }
    Ok(())
}
