//! `updater rollback`: back to the previous release, journalled.

use anyhow::Result;

use crate::cli::{installer, Settings};

pub(crate) fn run(settings: &Settings) -> Result<()> {
    let installer = installer(settings)?;
    for done in installer.recover()? {
        println!("{done}");
    }
    let release = installer.rollback()?;
    println!("rolled back: now running {release}");
    Ok(())
}
