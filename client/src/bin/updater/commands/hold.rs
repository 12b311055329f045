//! `updater hold` and `updater unhold`: keep this device on the release it runs, whatever
//! the policy says, until released. Local only: a hold can keep a device from moving, never
//! move it.

use anyhow::Result;
use updater::datetime::UtcTime;

use crate::cli::{installer, Settings};

pub(crate) fn hold(settings: &Settings, reason: Option<&str>) -> Result<()> {
    let installer = installer(settings)?;
    let running = installer
        .link("current")?
        .map_or("nothing".to_owned(), |r| r.to_string());
    let now = UtcTime::now();
    let before = installer.hold(now, reason.map(str::to_owned))?;
    let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
    match before {
        Some(old) => println!(
            "held on {running} since {now}{why} (replacing the hold since {}); apply installs nothing until `updater unhold`",
            old.since
        ),
        None => println!(
            "held on {running} since {now}{why}; apply installs nothing until `updater unhold`"
        ),
    }
    Ok(())
}

pub(crate) fn unhold(settings: &Settings) -> Result<()> {
    let installer = installer(settings)?;
    match installer.unhold()? {
        Some(held) => {
            let why = held.reason.map(|r| format!(": {r}")).unwrap_or_default();
            println!(
                "released the hold since {}{why}; the next apply follows the policy again",
                held.since
            );
        }
        None => println!("nothing to release: this device is not held"),
    }
    Ok(())
}
