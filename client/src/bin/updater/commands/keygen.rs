//! `updater keygen`: the device's report key, made if missing; prints its public half only.

use anyhow::{Context, Result};
use updater::report::DeviceKey;

use crate::cli::Settings;

pub(crate) fn run(settings: &Settings, json: bool) -> Result<()> {
    let config = settings
        .config
        .as_ref()
        .context("keygen needs the device's --config")?;
    let path = config.report_key_path();
    let (key, created) = DeviceKey::load_or_create(&path)?;
    if json {
        let value = serde_json::json!({
            "key_file": path.display().to_string(),
            "public_key": key.public_hex(),
            "created": created,
        });
        println!("{value}");
    } else {
        let how = if created { "created" } else { "already there" };
        println!("device key {} ({how})", path.display());
        println!("public key {}", key.public_hex());
    }
    Ok(())
}
