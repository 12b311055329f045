//! `updater download`: refresh, then fetch each --target-name verified.

use anyhow::{bail, Context, Result};
use updater::datetime::UtcTime;
use updater::names::TargetName;

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
        let Some(found) = client.find_target(&name)? else {
            bail!("{raw}: no trusted role lists this target");
        };
        let (path, fetched) = client.download(&found, &targets, target_dir)?;
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
