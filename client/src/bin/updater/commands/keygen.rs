//! `updater keygen`: the device's two private keys, each made if missing: its report key
//! (ed25519, signs reports) and its decryption identity (X25519, decrypts artifacts
//! encrypted to it). Prints their public halves only. `--replace` makes new ones in their
//! place (atomically): for a lost or leaked key; the device must then be enrolled again with
//! its collector, and releases encrypted to its new recipient.

use anyhow::{Context, Result};
use updater::decrypt::DeviceIdentity;
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
    let identity_path = config.identity_path();
    let (identity, identity_created) = if replace {
        (DeviceIdentity::replace(&identity_path)?, true)
    } else {
        DeviceIdentity::load_or_create(&identity_path)?
    };
    if json {
        // The device id too, so these lines enroll as they are (`fleet enroll --file`).
        let value = serde_json::json!({
            "device": config.device_id().ok(),
            "key_file": path.display().to_string(),
            "public_key": key.public_hex(),
            "created": created,
            "replaced": replace,
            "identity_file": identity_path.display().to_string(),
            "recipient": identity.recipient(),
            "identity_created": identity_created,
        });
        println!("{value}");
    } else {
        let how = |created| match (replace, created) {
            (true, _) => "replaced",
            (false, true) => "created",
            (false, false) => "already there",
        };
        println!("device key {} ({})", path.display(), how(created));
        println!("public key {}", key.public_hex());
        println!(
            "device identity {} ({})",
            identity_path.display(),
            how(identity_created)
        );
        println!("recipient {}", identity.recipient());
        if replace {
            println!(
                "enroll the new public key with the collector, and encrypt later releases to \
                 the new recipient"
            );
        }
    }
    Ok(())
}
