//! `updater targets`: every target the verified index offers.

use anyhow::Result;
use updater::datetime::UtcTime;

use crate::cli::{refreshed_client, Cli, Settings};

pub(crate) fn run(cli: &Cli, settings: &Settings) -> Result<()> {
    let mut client = refreshed_client(cli, settings, UtcTime::now())?;
    let targets = client.all_targets()?;
    if targets.is_empty() {
        println!("the index lists no targets");
    }
    for t in targets {
        let sha512 = t
            .info
            .hashes
            .get("sha512")
            .or_else(|| t.info.hashes.get("sha256"))
            .map(|h| hex::encode(h.get(..8).unwrap_or(h)))
            .unwrap_or_default();
        println!(
            "{:<56} {:>12} bytes  {}  ({})",
            t.name.as_str(),
            t.info.length,
            sha512,
            t.role
        );
    }
    Ok(())
}
