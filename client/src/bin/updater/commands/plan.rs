//! `updater plan`: what this device will do under the signed policy, and why.

use anyhow::{Context, Result};
use updater::datetime::UtcTime;
use updater::install::State;
use updater::rollout::decide::{decide, Device};
use updater::rollout::index::{gather, releases_for, GatherError, Wanted};
use updater::rollout::retry::not_again;

use crate::cli::{mirrors, refreshed_client, refused_or_unreached, Cli, Settings};
use crate::commands::apply::failed_trial;

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
    let xml = refused_or_unreached(
        client.policy_xml(&targets),
        "policy refused",
        "could not fetch the signed policy (policy.xml) from the targets mirrors",
    )?;
    let policy = updater::rollout::policy::parse(&xml)?;
    // Only the releases this device's channel can send it to: their roles, no others.
    let wanted = releases_for(&policy, &device.channel);
    let index = match gather(&mut client.targets_source(), Wanted::Releases(&wanted)) {
        Ok(index) => index,
        Err(GatherError::Source(e)) => refused_or_unreached(
            Err(e),
            "the signed index refused",
            "could not fetch the signed index",
        )?,
        Err(e) => return Err(anyhow::Error::new(e).context("the signed index refused")),
    };
    // The release that failed here under this very policy is announced as `apply` treats it.
    let state = State::read(&config.paths.install).unwrap_or_else(|e| {
        eprintln!("updater: warning: {e}");
        State::default()
    });
    let policy_sha256 = updater::hash::Sha256::digest(&xml).to_hex();
    let decision = not_again(
        decide(&policy, &index, &device, now),
        failed_trial(&state),
        &policy_sha256,
    );
    if json {
        let mut value = serde_json::to_value(&decision)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("device".into(), device.id.clone().into());
            object.insert("platform".into(), device.platform.clone().into());
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
