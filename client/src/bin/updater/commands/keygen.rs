//! `updater keygen`: the device's report key, made if missing; prints its public half only.
//! `--replace` makes a new key in its place (atomically): for a lost or leaked key; the
//! device must then be enrolled again with its collector.

use anyhow::{Context, Result};
use updater::report::{DeviceKey, Outbox};

use crate::cli::Settings;

pub(crate) fn run(settings: &Settings, replace: bool, json: bool) -> Result<()> {
    let config = settings
        .config
        .as_ref()
        .context("keygen needs the device's --config")?;
    let path = config.report_key_path();
    let outbox = Outbox::open(&config.report_outbox_path(), config.report_bounds())?;
    let (key, created) = if replace {
        (DeviceKey::replace(&path, &outbox)?, true)
    } else {
        DeviceKey::load_or_create(&path, &outbox)?
    };
    if json {
        // The device id too, so these lines enroll as they are (`fleet enroll --file`).
        let value = serde_json::json!({
            "device": config.device_id().ok(),
            "key_file": path.display().to_string(),
            "public_key": key.public_hex(),
            "created": created,
            "replaced": replace,
        });
        println!("{value}");
    } else {
        let how = match (replace, created) {
            (true, _) => "replaced: enroll the new key with the collector",
            (false, true) => "created",
            (false, false) => "already there",
        };
        println!("device key {} ({how})", path.display());
        println!("public key {}", key.public_hex());
    }
    Ok(())
}
