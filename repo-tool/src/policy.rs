//! `repo policy check` and `repo policy set`: a rollout policy is checked against the index
//! before it can be signed, and previewed in words.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{anyhow, Context, Result};
use serde::Serialize;
use updater::conventions::POLICY_ROLE;
use updater::datetime::UtcTime;
use updater::rollout::decide::Index;
use updater::rollout::policy::{
    show_share, Channel, Policy, PolicyError, Target, Wave, MAX_POLICY_BYTES,
};

use crate::sign::check_policy_against;
use crate::workspace::Workspace;

/// A policy that passed `check`: its preview in words, and the same as data for `--json`.
#[derive(Debug)]
pub struct CheckedPolicy {
    /// The preview `repo policy check` prints, for people.
    pub preview: String,
    /// The schedule and, per channel, who is eligible from when (docs/json.md).
    pub summary: PolicySummary,
}

/// Checks `file` against the staged index of `ws`. The outer error is for input that could
/// not be read at all; the inner one is the policy's refusal.
pub fn check(ws: &Workspace, file: &Path) -> Result<Result<CheckedPolicy>> {
    ws.check_exists()?;
    let index = staged_index(ws)?;
    let xml = updater::fs::read_bounded(file, MAX_POLICY_BYTES)
        .with_context(|| format!("reading {}", file.display()))?;
    Ok(check_policy_against(&xml, &index)
        .map(|policy| CheckedPolicy {
            preview: preview(&policy, &index),
            summary: summary(&policy, &index),
        })
        .map_err(|refusal| naming(file, refusal)))
}

/// The refusal of the policy in `file`, naming that file (and its line) rather than the
/// name it will have when published.
fn naming(file: &Path, refusal: anyhow::Error) -> anyhow::Error {
    match refusal.downcast_ref::<PolicyError>() {
        Some(PolicyError { line: 0, message }) => anyhow!("{}: {message}", file.display()),
        Some(PolicyError { line, message }) => {
            anyhow!("{} line {line}: {message}", file.display())
        }
        None => refusal,
    }
}

/// The releases and platforms the next signing would publish: those published, those
/// staged (and those an older staged index still lists at the top level).
fn staged_index(ws: &Workspace) -> Result<Index> {
    let record = crate::catalogue::Published::load(ws)?.record;
    let staged = crate::catalogue::StagedReleases::new(ws).all()?;
    let top = ws.staged_targets()?;
    Ok(record.index(staged.values().chain([&top.targets])))
}

/// A checked policy as data, for serializing only: field names are a wire format
/// (docs/json.md), only ever added to.
#[derive(Debug, Serialize)]
pub struct PolicySummary {
    /// How often devices check, as written in the policy (`6h`).
    check_every: String,
    /// The spread of checks, if any.
    check_jitter: Option<String>,
    /// The install window, if any.
    window: Option<WindowSummary>,
    /// Every channel, by name.
    channels: Vec<ChannelSummary>,
}

/// The install window: the days it opens (`Mon`..`Sun`) and its hours, UTC.
#[derive(Debug, Serialize)]
struct WindowSummary {
    days: Vec<&'static str>,
    /// `HH:MM`, UTC.
    from: String,
    /// `HH:MM`, UTC.
    to: String,
}

/// One channel of a checked policy.
#[derive(Debug, Serialize)]
struct ChannelSummary {
    name: String,
    halted: bool,
    /// `None`: devices on this channel stay where they are.
    target: Option<TargetSummary>,
    /// Devices below `below` go to `release` first.
    stepping_stones: Vec<SteppingStone>,
    /// Releases devices leave at once, for the target.
    revoked: Vec<String>,
}

/// A channel's target release and its waves.
#[derive(Debug, Serialize)]
struct TargetSummary {
    release: String,
    /// The platforms the next signing would publish the release for.
    platforms: Vec<String>,
    /// Newer devices move back to it.
    downgrade: bool,
    /// The moment the waves were restarted from their first share.
    restart: Option<UtcTime>,
    early_devices: Vec<String>,
    early_groups: Vec<String>,
    waves: Vec<WaveSummary>,
}

/// From `start`, `share_basis_points` (0-10000) of the fleet is eligible.
#[derive(Debug, Serialize)]
struct WaveSummary {
    start: UtcTime,
    share_basis_points: u32,
}

/// A stepping stone: devices below `below` go to `release` first.
#[derive(Debug, Serialize)]
struct SteppingStone {
    below: String,
    release: String,
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn hh_mm(minutes: u32) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

/// The policy as data, for `repo policy check --json`.
fn summary(policy: &Policy, index: &Index) -> PolicySummary {
    PolicySummary {
        check_every: policy.check_every.to_string(),
        check_jitter: policy.check_jitter.map(|j| j.to_string()),
        window: policy.window.as_ref().map(|w| WindowSummary {
            days: DAYS
                .iter()
                .zip(w.days)
                .filter_map(|(d, on)| on.then_some(*d))
                .collect(),
            from: hh_mm(w.from),
            to: hh_mm(w.to),
        }),
        channels: policy
            .channels
            .values()
            .map(|c| ChannelSummary {
                name: c.name.clone(),
                halted: c.halt,
                target: c.target.as_ref().map(|t| TargetSummary {
                    release: t.release.to_string(),
                    platforms: index
                        .platforms(&t.release)
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    downgrade: t.downgrade,
                    restart: t.restart,
                    early_devices: t.early_devices.iter().cloned().collect(),
                    early_groups: t.early_groups.iter().cloned().collect(),
                    waves: t
                        .waves
                        .iter()
                        .map(|w| WaveSummary {
                            start: w.start,
                            share_basis_points: w.share,
                        })
                        .collect(),
                }),
                stepping_stones: c
                    .vias
                    .iter()
                    .map(|v| SteppingStone {
                        below: v.below.to_string(),
                        release: v.release.to_string(),
                    })
                    .collect(),
                revoked: c.revoked.iter().map(ToString::to_string).collect(),
            })
            .collect(),
    }
}

/// Copies `file` to the repository's staged policy, atomically.
pub fn stage(ws: &Workspace, file: &Path) -> Result<()> {
    let xml = updater::fs::read_bounded(file, MAX_POLICY_BYTES)?;
    let dest = ws.staged_policy_file();
    updater::fs::write_atomic(&dest, &xml).with_context(|| format!("writing {}", dest.display()))
}

/// The policy in words: per channel, who is eligible from when.
pub(crate) fn preview(policy: &Policy, index: &Index) -> String {
    let mut out = String::new();
    write_schedule(&mut out, policy);
    for channel in policy.channels.values() {
        write_channel(&mut out, channel, index);
    }
    out
}

/// How often devices check, and the install window if there is one.
fn write_schedule(out: &mut String, policy: &Policy) {
    let jitter = policy
        .check_jitter
        .map_or(String::new(), |j| format!(" (spread over {j})"));
    let _ = writeln!(
        out,
        "policy is valid: devices check every {}{jitter}",
        policy.check_every
    );
    if let Some(w) = &policy.window {
        let days: Vec<&str> = DAYS
            .iter()
            .zip(w.days)
            .filter_map(|(d, on)| on.then_some(*d))
            .collect();
        let _ = writeln!(
            out,
            "installs only {} {:02}:{:02}-{:02}:{:02} UTC",
            days.join(","),
            w.from / 60,
            w.from % 60,
            w.to / 60,
            w.to % 60
        );
    }
}

/// One channel: halted or not, its target and waves, its stepping stones and revocations.
fn write_channel(out: &mut String, channel: &Channel, index: &Index) {
    let _ = write!(out, "channel {}:", channel.name);
    if channel.halt {
        let _ = write!(
            out,
            " HALTED (no new installs; revoked releases are still left)"
        );
    }
    let _ = writeln!(out);
    if let Some(target) = &channel.target {
        write_target(out, target, index);
    } else {
        let _ = writeln!(out, "  no target release: devices stay where they are");
    }
    for via in &channel.vias {
        let _ = writeln!(
            out,
            "  devices below {} go to {} first",
            via.below, via.release
        );
    }
    // A checked policy has a target wherever it revokes (see `updater::rollout::stranded`).
    if let Some(target) = &channel.target {
        for release in &channel.revoked {
            let _ = writeln!(
                out,
                "  revoked {release}: devices running it move to {} at once",
                target.release
            );
        }
    }
}

/// A channel's target release: its platforms, its early devices, then each wave and the
/// ramps between them.
fn write_target(out: &mut String, target: &Target, index: &Index) {
    let platforms = index.platforms(&target.release).join(", ");
    let downgrade = if target.downgrade {
        "; newer devices move back to it"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "  target {} (platforms: {platforms}){downgrade}",
        target.release
    );
    if let Some(restart) = target.restart {
        let _ = writeln!(
            out,
            "  restarted at {restart}: the waves run again from their first share, moved later as below"
        );
    }
    if !target.early_devices.is_empty() || !target.early_groups.is_empty() {
        let groups: Vec<&str> = target.early_groups.iter().map(String::as_str).collect();
        let _ = writeln!(
            out,
            "  from {}: {} early device(s){}",
            target.waves[0].start,
            target.early_devices.len(),
            if groups.is_empty() {
                String::new()
            } else {
                format!(" and group(s) {}", groups.join(", "))
            }
        );
    }
    let mut previous: Option<&Wave> = None;
    for (i, wave) in target.waves.iter().enumerate() {
        if let Some(p) = previous.filter(|p| p.share != wave.share) {
            let _ = writeln!(
                out,
                "  from {}: ramping from {} to {}",
                p.start,
                show_share(p.share),
                show_share(wave.share)
            );
        }
        let _ = writeln!(
            out,
            "  from {}: {} of the fleet eligible (wave {})",
            wave.start,
            show_share(wave.share),
            i + 1
        );
        previous = Some(wave);
    }
}

/// `repo policy keys`: changes the policy role's keys or threshold in the staged index
/// (published by the next `repo sign` with the targets keys). This is how a compromised
/// policy key is revoked.
pub fn edit_keys(
    ws: &Workspace,
    add: &[std::path::PathBuf],
    remove: &[String],
    threshold: Option<u32>,
) -> Result<(usize, u32)> {
    use anyhow::bail;
    ws.check_exists()?;
    let mut staged = ws.staged_targets()?;
    let delegations = staged
        .delegations
        .as_mut()
        .context("the index delegates no policy role (repo init sets one up)")?;
    let role = delegations
        .roles
        .iter_mut()
        .find(|r| r.name.as_str() == POLICY_ROLE)
        .context("the index delegates no policy role (repo init sets one up)")?;
    let mut settings = ws.settings()?;
    for path in add {
        let key = crate::keys::load_public(path)?;
        let id = key.key_id();
        if role.keyids.contains(&id) {
            bail!("{} is already a policy key", path.display());
        }
        role.keyids.push(id.clone());
        if let Some(stem) = path.file_stem() {
            settings
                .names
                .insert(id.to_string(), stem.to_string_lossy().into_owned());
        }
        delegations.keys.insert(id, key);
    }
    for which in remove {
        let id = crate::key_ref::resolve(which, POLICY_ROLE, &role.keyids)?.clone();
        role.keyids.retain(|k| k != &id);
    }
    if let Some(n) = threshold {
        role.threshold = updater::metadata::Threshold::new(n)
            .context("the policy threshold must be at least 1")?;
    }
    if role.threshold.get() as usize > role.keyids.len() {
        bail!(
            "the policy role would need {} signatures but has {} key(s)",
            role.threshold,
            role.keyids.len()
        );
    }
    let (count, threshold) = (role.keyids.len(), role.threshold.get());
    let used = role.keyids.clone();
    delegations.keys.retain(|id, _| used.contains(id));
    ws.write_staged_targets(&staged)?;
    ws.write_settings(&settings)?;
    Ok((count, threshold))
}
