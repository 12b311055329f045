//! `updater apply`: one update, start to end: recover, refresh, decide, download,
//! install, and prune what is no longer needed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use updater::conventions::Release;
use updater::datetime::UtcTime;
use updater::fetch::mirrors::Mirrors;
use updater::install::{release_artifacts, Artifact, Installer};
use updater::rollout::decide::{decide, Action, Decision, Device, Index};
use updater::update::client::Client;

use crate::cli::{installer, mirrors, refreshed_client, Cli, Settings};

/// One `apply`; returns the policy's check interval and jitter (seconds) for `run`.
pub(crate) fn apply(cli: &Cli, settings: &Settings, now: UtcTime) -> Result<Option<(u64, u64)>> {
    let installer = installer(settings)?;
    for done in installer.recover()? {
        println!("{done}");
    }
    let outcome = apply_once(cli, settings, &installer, now);
    match &outcome {
        Ok((message, wait)) => {
            println!("{message}");
            installer.update_state(|s| {
                s.last_check = Some(now);
                s.last_result = Some(message.clone());
                s.next_check = wait.map(|(every, _)| now.plus_seconds(every as i64));
                s.last_error = None;
            })?;
        }
        Err(e) => {
            let message = format!("{e:#}");
            installer.update_state(|s| {
                s.last_check = Some(now);
                s.last_error = Some(message);
            })?;
        }
    }
    outcome.map(|(_, wait)| wait)
}

pub(crate) fn apply_once(
    cli: &Cli,
    settings: &Settings,
    installer: &Installer,
    now: UtcTime,
) -> Result<(String, Option<(u64, u64)>)> {
    let config = settings.config.as_ref().context("apply needs --config")?;
    let device = Device {
        id: config.device_id().map_err(anyhow::Error::msg)?,
        platform: config.device.platform.clone(),
        channel: config.device.channel.clone(),
        groups: config.device.groups.clone(),
        running: installer.link("current")?,
    };
    let targets = mirrors(cli, settings, &settings.target_urls, "--target-base-url")?;
    let mut client = refreshed_client(cli, settings, now)?;
    let xml = client.policy_xml(&targets).context("policy refused")?;
    let policy = updater::rollout::policy::parse(&xml)?;
    let wait = Some((
        policy.check_every.seconds().unsigned_abs(),
        policy
            .check_jitter
            .map_or(0, |j| j.seconds().unsigned_abs()),
    ));
    let policy_sha256 = updater::hash::Sha256::digest(&xml).to_hex();
    let index =
        Index::from_targets(client.trusted().targets()).context("the signed index refused")?;
    let decision = decide(&policy, &index, &device, now);
    let running = device
        .running
        .as_ref()
        .map_or("nothing".to_owned(), |r| r.to_string());
    if let Some(why) = failed_before(installer, &decision, &policy_sha256)? {
        prune_downloads(settings.target_dir.as_deref());
        return Ok((format!("staying on {running}: {why}"), wait));
    }
    let (Action::Install, Some(release)) = (decision.action, decision.release.clone()) else {
        prune_downloads(settings.target_dir.as_deref());
        return Ok((decision.reason, wait));
    };
    let (downloads, artifacts) = download_release(
        &mut client,
        &targets,
        settings,
        &index,
        &release,
        &device.platform,
    )?;
    if decision.at.is_some_and(|at| at > now) {
        return Ok((
            format!(
                "{}; downloaded and verified, installing then",
                decision.reason
            ),
            wait,
        ));
    }
    let installed = installer.install(&release, &artifacts, &policy_sha256);
    // Installed or rolled back, the downloads have served: the release folder holds its
    // own verified copies.
    prune_downloads(Some(&downloads));
    installed?;
    Ok((
        format!("installed {release}, was {running} ({})", decision.reason),
        wait,
    ))
}

/// Why the chosen release is not tried again: it failed on this device under this very
/// policy. `None` when nothing stands in the way.
fn failed_before(
    installer: &Installer,
    decision: &Decision,
    policy_sha256: &str,
) -> Result<Option<String>> {
    let (Some(failed), Some(release)) = (installer.state()?.failed, &decision.release) else {
        return Ok(None);
    };
    let again = decision.action != Action::Stay
        && &failed.release == release
        && failed.policy_sha256 == policy_sha256;
    Ok(again.then(|| {
        format!(
            "{release} failed on this device ({}); it is not tried again until the policy changes",
            failed.reason
        )
    }))
}

/// Downloads and verifies every artifact of `release` for `platform` into the downloads
/// folder, once the disk is known to hold them all. Returns the folder (absolute) and the
/// verified artifacts.
fn download_release(
    client: &mut Client,
    targets: &Mirrors,
    settings: &Settings,
    index: &Index,
    release: &Release,
    platform: &str,
) -> Result<(PathBuf, Vec<Artifact>)> {
    let listed = index
        .artifacts(release, platform)
        .context("decide only installs releases the index holds")?;
    let downloads = settings
        .target_dir
        .clone()
        .context("[paths] downloads is required")?;
    std::fs::create_dir_all(&downloads)
        .with_context(|| format!("creating {}", downloads.display()))?;
    // Absolute, because the release's scripts run in its staging folder.
    let downloads = std::fs::canonicalize(&downloads)
        .with_context(|| format!("reading {}", downloads.display()))?;
    let needed = listed
        .iter()
        .try_fold(0u64, |sum, (_, info)| sum.checked_add(info.length))
        .context("the release's listed lengths add up to more than any disk")?;
    Installer::check_space(&downloads, needed)?;
    let mut artifacts = Vec::new();
    for (name, (relative, info)) in release_artifacts(listed) {
        let found = client
            .find_target(name)?
            .with_context(|| format!("{name} is in the index but no role lists it"))?;
        let (local, _) = client.download(&found, targets, &downloads)?;
        artifacts.push(Artifact {
            name: name.clone(),
            info: info.clone(),
            relative,
            local,
        });
    }
    Ok((downloads, artifacts))
}

/// Removes what `apply` downloaded (artifacts and partial downloads) from `dir`, once no
/// install needs it. Only names the updater itself writes there are touched (a release
/// artifact's flat name holds an encoded `/`, a partial starts `.%partial.`), never a
/// folder, never through a link, so a downloads path set to a shared folder loses nothing
/// else.
pub(crate) fn prune_downloads(dir: Option<&Path>) {
    let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name.to_str().is_some_and(|n| {
            n.starts_with(updater::conventions::name_budget::PARTIAL_PREFIX)
                || n.starts_with("releases%2F")
        });
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
