//! `updater refresh`: bring the trusted metadata up to date and say the versions.

use anyhow::Result;
use updater::datetime::UtcTime;

use crate::cli::{refreshed_client, Cli, Settings};

pub(crate) fn run(cli: &Cli, settings: &Settings) -> Result<()> {
    let client = refreshed_client(cli, settings, UtcTime::now())?;
    let t = client.trusted();
    println!(
        "up to date: root v{}, timestamp v{}, snapshot v{}, targets v{}",
        t.root().version.get(),
        t.timestamp().version.get(),
        t.snapshot().version.get(),
        t.targets().version.get(),
    );
    Ok(())
}
