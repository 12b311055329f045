//! `updater apply`: one update, start to end: recover, refresh, decide, download,
//! install, and prune what is no longer needed.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use updater::config::Config;
use updater::conventions::Release;
use updater::datetime::UtcTime;
use updater::decrypt::{decrypt_download, DeviceIdentity};
use updater::fetch::mirrors::Mirrors;
use updater::install::{release_artifacts, Artifact, Installer};
use updater::install::{InstallError, State};
use updater::report::Event;
use updater::rollout::decide::{decide, Action, Decision, Device, Index, Waiting};
use updater::rollout::hold::{held, Hold};
use updater::rollout::index::{gather, releases_for, GatherError, Wanted};
use updater::rollout::retry::{not_again, FailedTrial};
use updater::rollout::wake::{next_wake, WakePlan};
use updater::update::client::{Client, Listing};

use crate::cli::{installer, mirrors, refreshed_client, refused_or_unreached, Cli, Settings};
use crate::commands::recorder::Recorder;

/// One `apply`; returns the moment `run` should wake next (the next check, or sooner when
/// the decision waits for a window or a wave), also recorded as the state's next check.
/// Its report events are sent after all of its work, whatever the outcome; recording and
/// sending cannot change the outcome.
pub(crate) fn apply(cli: &Cli, settings: &Settings, now: UtcTime) -> Result<UtcTime> {
    let recorder = Recorder::new(settings);
    let result = check(cli, settings, &recorder, now);
    if let Err(e) = &result {
        // A rollback was recorded as such where it happened.
        let rolled_back = matches!(
            e.downcast_ref::<InstallError>(),
            Some(InstallError::RolledBack { .. })
        );
        if !rolled_back {
            recorder.record(Event::failed(&format!("{e:#}")));
        }
    }
    let config = settings.config.as_ref();
    if let Some(inventory) = config.map(inventory) {
        recorder.record(inventory);
    }
    let wake = result.as_ref().ok().copied();
    recorder.send(config.and_then(|c| c.device_id().ok()).as_deref(), wake);
    result
}

/// The work of one `apply`: recover, then one check and what it decides.
fn check(cli: &Cli, settings: &Settings, recorder: &Recorder, now: UtcTime) -> Result<UtcTime> {
    let installer = installer(settings)?;
    for done in installer.recover()? {
        recorder.record(Event::recovered(&done));
        crate::log::info(&done.to_string());
    }
    match apply_once(cli, settings, &installer, recorder, now) {
        Ok((message, plan)) => {
            crate::log::info(&message);
            let wake = next_wake(&plan, now, random_u64());
            installer.update_state(|s| {
                s.last_check = Some(now);
                s.last_result = Some(message);
                s.next_check = Some(wake);
                s.last_error = None;
            })?;
            Ok(wake)
        }
        Err(e) => {
            let message = format!("{e:#}");
            installer.update_state(|s| {
                s.last_check = Some(now);
                s.last_error = Some(message);
            })?;
            Err(e)
        }
    }
}

/// What the device is and runs, as an `inventory` event.
fn inventory(config: &Config) -> Event {
    Event::inventory(
        config.running_release().ok().flatten(),
        &config.device.platform,
        &config.device.channel,
        config.device.groups.iter().cloned(),
        updater::install::free_bytes(&config.paths.install).ok(),
        env!("CARGO_PKG_VERSION"),
    )
}

/// The events of an install's outcome: installed, or failed its trial and rolled back.
fn record_install(
    recorder: &Recorder,
    release: &Release,
    from: &Option<Release>,
    installed: &Result<(), InstallError>,
) {
    match installed {
        Ok(()) => recorder.record(Event::Installed {
            release: release.clone(),
            from: from.clone(),
        }),
        Err(InstallError::RolledBack { release, reason }) => {
            recorder.record(Event::health_check_failed(release, reason));
            recorder.record(Event::RolledBack {
                release: release.clone(),
                to: from.clone(),
            });
        }
        Err(_) => {}
    }
}

/// A random number from the system's generator (zero if it cannot be read: the spread is
/// lost, never the check).
pub(crate) fn random_u64() -> u64 {
    let mut random = [0u8; 8];
    let _ = getrandom::getrandom(&mut random);
    u64::from_le_bytes(random)
}

/// The failed trial `state` records, in the decision's terms.
pub(crate) fn failed_trial(state: &State) -> Option<FailedTrial<'_>> {
    state.failed.as_ref().map(|f| FailedTrial {
        release: &f.release,
        policy_sha256: &f.policy_sha256,
        reason: &f.reason,
        at: f.at,
    })
}

/// The decision under this device's local blocks: a release that failed here under this
/// policy is not tried again, and a held device stays where it is. `plan` and `apply` both
/// decide through here, so they say the same.
pub(crate) fn locally(decision: Decision, state: &State, policy_sha256: &str) -> Decision {
    let hold = state.held.as_ref().map(|h| Hold {
        since: h.since,
        reason: h.reason.as_deref(),
    });
    held(
        not_again(decision, failed_trial(state), policy_sha256),
        hold,
    )
}

pub(crate) fn apply_once(
    cli: &Cli,
    settings: &Settings,
    installer: &Installer,
    recorder: &Recorder,
    now: UtcTime,
) -> Result<(String, WakePlan)> {
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
    let xml = signed_policy(&mut client, &targets)?;
    let policy = updater::rollout::policy::parse(&xml)?;
    let policy_sha256 = updater::hash::Sha256::digest(&xml).to_hex();
    // Only the releases this device's channel can send it to: their roles, no others.
    let wanted = releases_for(&policy, &device.channel);
    let index = gathered(&mut client, Wanted::Releases(&wanted))?;
    let state = installer.state()?;
    let decision = locally(
        decide(&policy, &index, &device, now),
        &state,
        &policy_sha256,
    );
    let wait = WakePlan::new(&policy, &decision);
    recorder.record(Event::checked(&decision));
    let running = device
        .running
        .as_ref()
        .map_or("nothing".to_owned(), |r| r.to_string());
    // An install now, or one waiting only for the window: the download happens now either
    // way (downloads do not wait for the window).
    let for_window = decision.waiting_for == Some(Waiting::Window);
    let release = match (decision.action, &decision.release) {
        (Action::Install, Some(release)) => release.clone(),
        (Action::Wait, Some(release)) if for_window => release.clone(),
        _ => {
            prune_downloads(settings.target_dir.as_deref());
            return Ok((decision.reason, wait));
        }
    };
    let downloads = downloads_dir(settings)?;
    let artifacts = download_release(
        &mut client,
        &targets,
        &downloads,
        &index,
        &release,
        &device.platform,
        recorder,
    )?;
    decrypt_release(&artifacts, settings)?;
    if for_window {
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
    record_install(recorder, &release, &device.running, &installed);
    installed?;
    Ok((
        format!("installed {release}, was {running} ({})", decision.reason),
        wait,
    ))
}

/// The signed policy's bytes from the targets mirrors; a failure says whether it was
/// refused or could not be fetched.
pub(crate) fn signed_policy(client: &mut Client, targets: &Mirrors) -> Result<Vec<u8>> {
    refused_or_unreached(
        client.policy_xml(targets),
        "policy refused",
        "could not fetch the signed policy (policy.xml) from the targets mirrors",
    )
}

/// The releases `wanted` from the signed index, gathered through the delegation walker; a
/// failure says whether the index was refused or could not be fetched.
pub(crate) fn gathered(client: &mut Client, wanted: Wanted<'_>) -> Result<Index> {
    match gather(&mut client.targets_source(), wanted) {
        Ok(index) => Ok(index),
        Err(GatherError::Source(e)) => refused_or_unreached(
            Err(e),
            "the signed index refused",
            "could not fetch the signed index",
        ),
        Err(e) => Err(anyhow::Error::new(e).context("the signed index refused")),
    }
}

/// The downloads folder, made if missing, as an absolute path: the release's scripts run
/// in its staging folder.
fn downloads_dir(settings: &Settings) -> Result<PathBuf> {
    let downloads = settings
        .target_dir
        .clone()
        .context("[paths] downloads is required")?;
    std::fs::create_dir_all(&downloads)
        .with_context(|| format!("creating {}", downloads.display()))?;
    std::fs::canonicalize(&downloads).with_context(|| format!("reading {}", downloads.display()))
}

/// Downloads and verifies every artifact of `release` for `platform` into `downloads`,
/// once the disk is known to hold them all. Returns the verified artifacts.
fn download_release<'a>(
    client: &mut Client,
    targets: &Mirrors,
    downloads: &'a Path,
    index: &'a Index,
    release: &Release,
    platform: &str,
    recorder: &Recorder,
) -> Result<Vec<Artifact<'a>>> {
    let listed = index
        .artifacts(release, platform)
        .context("decide only installs releases the index holds")?;
    let artifacts = release_artifacts(listed, downloads);
    // An encrypted artifact takes its length twice: the download, and its plaintext.
    let mut needed = 0u64;
    let mut plain = 0u64;
    for artifact in &artifacts {
        needed = needed
            .checked_add(artifact.info.length)
            .context(TOO_LARGE)?;
        if let Some(encrypted) = artifact.encrypted()? {
            plain = plain.checked_add(encrypted.length).context(TOO_LARGE)?;
        }
    }
    Installer::check_space(downloads, needed.checked_add(plain).context(TOO_LARGE)?)?;
    let mut done = 0u64;
    for artifact in &artifacts {
        recorder.record(Event::Downloading {
            release: release.clone(),
            done,
            total: needed,
        });
        // The index holds each name with what the delegation search for it answered
        // (`gather`), in this very verified set: searching again would answer the same,
        // and would re-read a big release's hash bins once per file.
        let listing = Listing {
            name: artifact.name,
            info: artifact.info,
        };
        let (local, _) = client.download(listing, targets, downloads)?;
        debug_assert_eq!(local, artifact.local());
        done = done.saturating_add(artifact.info.length);
    }
    recorder.record(Event::Downloading {
        release: release.clone(),
        done,
        total: needed,
    });
    Ok(artifacts)
}

const TOO_LARGE: &str = "the release's listed lengths add up to more than any disk";

/// Decrypts each encrypted artifact of a downloaded release into its verified plaintext
/// copy, with the device's identity (read only if the release has one).
fn decrypt_release(artifacts: &[Artifact], settings: &Settings) -> Result<()> {
    let mut identity = None;
    for artifact in artifacts {
        let Some(encrypted) = artifact.encrypted()? else {
            continue;
        };
        let identity = match &mut identity {
            Some(identity) => identity,
            None => {
                let config = settings
                    .config
                    .as_ref()
                    .context("an encrypted release needs the device's --config")?;
                identity.insert(DeviceIdentity::load(&config.identity_path())?)
            }
        };
        decrypt_download(
            artifact.name,
            artifact.info,
            &encrypted,
            artifact.downloads,
            identity,
        )?;
    }
    Ok(())
}

/// Removes what `apply` downloaded (artifacts and partial downloads) from `dir`, once no
/// install needs it. Only names the updater itself writes there are touched (a release
/// artifact's flat name holds an encoded `/`, a partial starts `.%partial.`, a decrypted
/// copy `.%plain.`), never a
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
                || n.starts_with(updater::conventions::name_budget::PLAIN_PREFIX)
                || n.starts_with("releases%2F")
        });
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}
