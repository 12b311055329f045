//! `updater rollback`: back to the previous release, journalled.

use anyhow::Result;

use updater::report::Event;

use crate::cli::{installer, Settings};
use crate::commands::recorder::Recorder;

pub(crate) fn run(settings: &Settings) -> Result<()> {
    let installer = installer(settings)?;
    let recorder = Recorder::new(settings);
    for done in installer.recover()? {
        recorder.record(Event::recovered(&done));
        println!("{done}");
    }
    let from = installer.link("current")?;
    let release = installer.rollback()?;
    println!("rolled back: now running {release}");
    println!(
        "the next apply moves to the policy's target again; `updater hold --reason TEXT` keeps this device on {release}"
    );
    if let Some(from) = from {
        recorder.record(Event::RolledBack {
            release: from,
            to: Some(release),
        });
    }
    let device = settings.config.as_ref().and_then(|c| c.device_id().ok());
    recorder.send(device.as_deref(), None);
    Ok(())
}
