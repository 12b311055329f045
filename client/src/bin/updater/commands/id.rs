//! `updater id`: who this device is to the people who manage it: its id, its report key's
//! public half (to enroll with a collector) and its recipient (to encrypt releases to).
//! Reads the keys `updater keygen` made; makes nothing.

use anyhow::{Context, Result};
use updater::decrypt::DeviceIdentity;
use updater::report::DeviceKey;

use crate::cli::Settings;

pub(crate) fn run(settings: &Settings, json: bool) -> Result<()> {
    let config = settings
        .config
        .as_ref()
        .context("id needs the device's --config")?;
    let device = config.device_id().map_err(anyhow::Error::msg)?;
    let key_path = config.report_key_path();
    let key = DeviceKey::load(&key_path).with_context(|| {
        format!(
            "no report key at {}: run `updater keygen`",
            key_path.display()
        )
    })?;
    let identity = DeviceIdentity::load(&config.identity_path())?;
    if json {
        let value = serde_json::json!({
            "device": device,
            "public_key": key.public_hex(),
            "recipient": identity.recipient(),
            "platform": config.device.platform,
            "channel": config.device.channel,
            "groups": config.device.groups,
        });
        println!("{value}");
    } else {
        println!("device    {device}");
        println!(
            "key       {}   (enroll: fleet enroll --db DB {device} KEY)",
            key.public_hex()
        );
        println!(
            "recipient {}   (a line of a release's recipients file, under a comment `# {device}`)",
            identity.recipient()
        );
    }
    Ok(())
}
