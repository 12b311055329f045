//! `updater retry`: forgets the release that failed its trial on this device, so the next
//! apply tries it again under the same policy. Local only: it changes no signed decision.

use anyhow::Result;

use crate::cli::{installer, Settings};

pub(crate) fn run(settings: &Settings) -> Result<()> {
    let installer = installer(settings)?;
    match installer.clear_failed()? {
        Some(failed) => {
            let when = failed.at.map(|t| format!(" at {t}")).unwrap_or_default();
            println!(
                "cleared the block on {}: it failed on this device{when} ({}); the next apply tries it again",
                failed.release, failed.reason
            );
        }
        None => println!("nothing to clear: no release is blocked on this device"),
    }
    Ok(())
}
