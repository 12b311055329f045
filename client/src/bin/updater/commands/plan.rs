//! `updater plan`: what this device will do under the signed policy, and why.

use anyhow::{Context, Result};
use updater::datetime::UtcTime;
use updater::install::State;
use updater::rollout::decide::{decide, Device, Waiting};
use updater::rollout::index::{releases_for, Wanted};

use crate::cli::{mirrors, refreshed_client, Cli, Settings};
use crate::commands::apply::{gathered, locally, signed_policy};

pub(crate) fn run(cli: &Cli, settings: &Settings, json: bool, now: Option<UtcTime>) -> Result<()> {
    let config = settings
        .config
        .as_ref()
        .context("plan needs the device's --config")?;
    let now = now.unwrap_or_else(UtcTime::now);
    let device = Device {
        id: config.device_id().map_err(anyhow::Error::msg)?,
        platform: config.device.platform.clone(),
        channel: config.device.channel.clone(),
        groups: config.device.groups.clone(),
        running: config.running_release().map_err(anyhow::Error::msg)?,
    };
    let targets = mirrors(cli, settings, &settings.target_urls, "--target-base-url")?;
    let mut client = refreshed_client(cli, settings, now)?;
    let xml = signed_policy(&mut client, &targets)?;
    let policy = updater::rollout::policy::parse(&xml)?;
    // Only the releases this device's channel can send it to: their roles, no others.
    let wanted = releases_for(&policy, &device.channel);
    let index = gathered(&mut client, Wanted::Releases(&wanted))?;
    // The release that failed here under this very policy, and a hold, are announced as
    // `apply` treats them.
    let state = State::read(&config.paths.install).unwrap_or_else(|e| {
        eprintln!("updater: warning: {e}");
        State::default()
    });
    let policy_sha256 = updater::hash::Sha256::digest(&xml).to_hex();
    let decision = locally(
        decide(&policy, &index, &device, now),
        &state,
        &policy_sha256,
    );
    if json {
        let mut value = serde_json::to_value(&decision)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("device".into(), device.id.clone().into());
            object.insert("platform".into(), device.platform.clone().into());
            // What blocks it locally, when, and the command that lifts the block.
            let failed_at = state.failed.as_ref().and_then(|f| f.at);
            let (blocked_since, unblock) = match decision.waiting_for {
                Some(Waiting::Failed) => (failed_at, Some("updater retry")),
                Some(Waiting::Hold) => {
                    (state.held.as_ref().map(|h| h.since), Some("updater unhold"))
                }
                _ => (None, None),
            };
            object.insert(
                "blocked_since".into(),
                blocked_since.map(|t| t.to_string()).into(),
            );
            object.insert(
                "hold_reason".into(),
                state.held.as_ref().and_then(|h| h.reason.clone()).into(),
            );
            object.insert("unblock".into(), unblock.into());
        }
        println!("{value}");
    } else {
        let running = device
            .running
            .as_ref()
            .map_or("nothing".to_owned(), |r| r.to_string());
        println!(
            "device {} ({}, channel {}), running {running}",
            device.id, device.platform, device.channel
        );
        println!("{}", decision.reason);
    }
    Ok(())
}
