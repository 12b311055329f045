//! `decide(policy, index, device, now)`: what a device should do, and why, in words a person
//! can read. A pure function: the same inputs give the same answer on every device and in
//! every test.
//!
//! Rollout: each device draws a bucket in `0..10000` from SHA-256 of channel, release and
//! device id. The eligible share is 0 before the first wave, jumps to the first wave's share
//! at its start, ramps linearly between waves, and stays at the last wave's share. A device
//! is eligible from the first moment the share exceeds its bucket; that moment is computed
//! exactly, so `updater plan` can say when.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::conventions::matching_form;
use crate::datetime::UtcTime;
use crate::hash::Sha256;
pub use crate::rollout::index::Index;
use crate::rollout::policy::{
    show_share, Channel, Policy, Release, Target, Wave, Window, FULL_SHARE,
};

/// What the decision needs to know about one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// A MAC address, a machine id, or a name the owner chose; compared with the policy's
    /// early devices in its [`matching_form`], as `groups` are.
    pub id: String,
    pub platform: String,
    pub channel: String,
    pub groups: BTreeSet<String>,
    /// The release it runs, `None` on a fresh device.
    pub running: Option<Release>,
}

/// What to do (`action` in `updater plan --json`; docs/plan-json.md is the wire format).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Move to `release` now (`at` is now).
    Install,
    /// Move to `release` later: at `at`, or (`at` null) when a rollout reaches the device.
    Wait,
    /// Nothing planned; `waiting_for` names the obstacle when there is one.
    Stay,
}

/// What stands between the device and `release` (`waiting_for` in `updater plan --json`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Waiting {
    /// Eligible, but outside the install window: `at` is the window's next opening.
    Window,
    /// Not eligible yet: `at` is the first moment it is both eligible and inside the window.
    Wave,
    /// The rollout as planned never reaches this device's bucket: no `at`.
    Rollout,
    /// The channel is halted: nothing moves until the admin lifts the halt.
    Halt,
    /// `release` failed its trial on this device under this very policy: it is not tried
    /// again until the policy changes (or `updater retry`).
    Failed,
    /// The device's owner holds it where it is (`updater hold`) until `updater unhold`.
    Hold,
}

/// The decision and its reason. Its JSON form (`updater plan --json`) is stable: the keys
/// below, with `null` where a field does not apply (docs/plan-json.md).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub action: Action,
    pub channel: String,
    pub running: Option<Release>,
    pub release: Option<Release>,
    /// `install`: now. `wait`: the moment the install can happen, window included.
    pub at: Option<UtcTime>,
    pub waiting_for: Option<Waiting>,
    /// 1-based wave that makes the device eligible (for a ramp: the wave it ramps to).
    pub wave: Option<usize>,
    pub bucket: Option<u32>,
    pub reason: String,
}

/// The device's bucket for `release` on `channel`, in `0..10000`.
pub fn bucket(channel: &str, release: &Release, device_id: &str) -> u32 {
    let input = format!("{channel}\n{release}\n{device_id}");
    let digest = Sha256::digest(input.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest.0[..8]);
    (u64::from_be_bytes(first) % u64::from(FULL_SHARE)) as u32
}

/// When a device in `bucket` becomes eligible under `waves`, and through which wave;
/// `None` if the rollout never reaches it.
pub fn eligible_at(waves: &[Wave], bucket: u32) -> Option<(UtcTime, usize)> {
    let first = waves.first()?;
    if first.share > bucket {
        return Some((first.start, 1));
    }
    for (i, pair) in waves.windows(2).enumerate() {
        let (a, z) = (pair[0], pair[1]);
        if z.share > bucket {
            // The first whole second at which share_at (which rounds down) exceeds bucket:
            // a + floor(rise * g / span) >= bucket + 1, so g = ceil((bucket + 1 - a) * span / rise).
            let span = i128::from(z.start.unix() - a.start.unix());
            let rise = i128::from(z.share - a.share);
            let need = i128::from(bucket + 1 - a.share);
            let offset = (need * span + rise - 1) / rise;
            let at = a
                .start
                .plus_seconds(i64::try_from(offset).unwrap_or(i64::MAX));
            return Some((at, i + 2));
        }
    }
    None
}

/// The eligible share (basis points) at `now`.
pub fn share_at(waves: &[Wave], now: UtcTime) -> u32 {
    let Some(first) = waves.first() else {
        return 0;
    };
    if now < first.start {
        return 0;
    }
    for pair in waves.windows(2) {
        let (a, z) = (pair[0], pair[1]);
        if now < z.start {
            let span = i128::from(z.start.unix() - a.start.unix());
            let gone = i128::from(now.unix() - a.start.unix());
            let rise = i128::from(z.share - a.share);
            return a.share + u32::try_from(rise * gone / span).unwrap_or(0);
        }
    }
    waves.last().map_or(0, |w| w.share)
}

/// Decides what `device` should do at `now`.
pub fn decide(policy: &Policy, index: &Index, device: &Device, now: UtcTime) -> Decision {
    let d = Decision {
        action: Action::Stay,
        channel: device.channel.clone(),
        running: device.running.clone(),
        release: None,
        at: None,
        waiting_for: None,
        wave: None,
        bucket: None,
        reason: String::new(),
    };
    let Some(channel) = policy.channels.get(&device.channel) else {
        let reason = format!("channel {:?} is not in the policy; staying", device.channel);
        return d.stay(reason);
    };
    // A revoked release is left at once, whatever the rollout, halt or window say.
    if let Some(r) = device
        .running
        .as_ref()
        .filter(|r| channel.revoked.contains(*r))
    {
        return leave_revoked(d, channel, index, device, r, now);
    }
    let (mut d, target, verb) = match choose_release(d, channel, index, device) {
        Chosen::Move(d, target, verb) => (d, target, verb),
        Chosen::Stay(stay) => return stay,
    };
    let why = eligibility(&mut d, target, device);
    schedule(d, policy, target, &verb, why, now)
}

impl Decision {
    /// This decision, as a reason to stay where the device is.
    fn stay(mut self, reason: String) -> Decision {
        self.action = Action::Stay;
        self.reason = reason;
        self
    }
}

/// Running revoked release `r`: move to the channel's target at once, if it can be had.
fn leave_revoked(
    mut d: Decision,
    channel: &Channel,
    index: &Index,
    device: &Device,
    r: &Release,
    now: UtcTime,
) -> Decision {
    let Some(target) = &channel.target else {
        return d.stay(format!(
            "running revoked {r}, but the channel names no release to move to"
        ));
    };
    // Through a stepping stone, when one applies: a revocation hurries a device, it does not
    // let it skip a step the release admin put in its way.
    let (release, _) = destination(channel, target, Some(r));
    d.release = Some(release.clone());
    if let Some(why) = unavailable(index, &release, &device.platform) {
        return d.stay(format!("running revoked {r}, but {why}"));
    }
    d.action = Action::Install;
    d.at = Some(now);
    d.reason = format!("running revoked {r}; moving to {release} now");
    d
}

/// What `choose_release` found.
enum Chosen<'p> {
    /// Move to a release of `Target`, described by the words given.
    Move(Decision, &'p Target, String),
    /// Stay, for the reason the decision gives.
    Stay(Decision),
}

/// The release this device should move to (the target or a stepping stone) and the words
/// for the move, or the decision to stay: halted, no target, already there, a downgrade the
/// policy does not allow, or nothing installable for this platform.
fn choose_release<'p>(
    mut d: Decision,
    channel: &'p Channel,
    index: &Index,
    device: &Device,
) -> Chosen<'p> {
    let running = device.running.as_ref();
    let running_text = running.map_or("nothing".to_owned(), |r| r.to_string());
    if channel.halt {
        let reason = format!(
            "channel {:?} is halted; staying on {running_text}",
            channel.name
        );
        d.waiting_for = Some(Waiting::Halt);
        return Chosen::Stay(d.stay(reason));
    }
    let Some(target) = &channel.target else {
        let reason = format!(
            "channel {:?} names no target release; staying on {running_text}",
            channel.name
        );
        return Chosen::Stay(d.stay(reason));
    };
    let (dest, stepping) = destination(channel, target, running);
    d.release = Some(dest.clone());
    if running == Some(&dest) {
        return Chosen::Stay(d.stay(format!(
            "running {dest}, the channel's target; nothing to do"
        )));
    }
    if let Some(r) = running.filter(|r| dest < **r) {
        if !target.downgrade {
            return Chosen::Stay(d.stay(format!(
                "running {r}, newer than the target {dest}; the policy does not allow a downgrade"
            )));
        }
    }
    if let Some(why) = unavailable(index, &dest, &device.platform) {
        return Chosen::Stay(d.stay(format!("{why}; staying on {running_text}")));
    }
    let verb = match running {
        Some(r) if dest < *r => format!("downgrade from {r} to {dest} (the policy asks for it)"),
        _ if stepping => format!(
            "install stepping stone {dest} (on the way to {})",
            target.release
        ),
        _ => format!("install {dest}"),
    };
    Chosen::Move(d, target, verb)
}

/// When this device becomes eligible for `target` (`None`: not in the rollout as planned),
/// recording its wave and bucket in `d`, and why, in words.
fn eligibility(d: &mut Decision, target: &Target, device: &Device) -> (Option<UtcTime>, String) {
    let early = target.early_devices.contains(&matching_form(&device.id))
        || device
            .groups
            .iter()
            .any(|g| target.early_groups.contains(&matching_form(g)));
    if early {
        d.wave = Some(1);
        return (Some(target.waves[0].start), "an early device".to_owned());
    }
    let bucket = bucket(&d.channel, &target.release, &device.id);
    d.bucket = Some(bucket);
    match eligible_at(&target.waves, bucket) {
        Some((at, wave)) => {
            d.wave = Some(wave);
            (
                Some(at),
                format!("wave {wave}, bucket {bucket} of {FULL_SHARE}"),
            )
        }
        None => (None, format!("bucket {bucket} of {FULL_SHARE}")),
    }
}

/// Install now, or wait: for the window's next opening when eligible outside it, for the
/// first moment both eligible and inside the window when not eligible yet.
fn schedule(
    mut d: Decision,
    policy: &Policy,
    target: &Target,
    verb: &str,
    (eligible, why): (Option<UtcTime>, String),
    now: UtcTime,
) -> Decision {
    let window = policy.window.as_ref();
    match eligible {
        Some(at) if at <= now => match window.filter(|w| !in_window(w, now)) {
            None => {
                d.action = Action::Install;
                d.at = Some(now);
                d.reason = format!("{verb} now ({why})");
            }
            Some(window) => {
                let opens = next_opening(window, now);
                d.action = Action::Wait;
                d.waiting_for = Some(Waiting::Window);
                d.at = Some(opens);
                d.reason = format!("{verb} at {opens}, when the install window opens ({why})");
            }
        },
        Some(at) => {
            let when = window.map_or(at, |w| open_from(w, at));
            d.action = Action::Wait;
            d.waiting_for = Some(Waiting::Wave);
            d.at = Some(when);
            d.reason = if when == at {
                format!("{verb}: eligible at {at} ({why})")
            } else {
                format!("{verb}: eligible at {at}, installing at {when} when the install window opens ({why})")
            };
        }
        None => {
            d.action = Action::Wait;
            d.waiting_for = Some(Waiting::Rollout);
            let last = target.waves.last().map_or(0, |w| w.share);
            d.reason = format!(
                "{verb}: not in the rollout yet ({why}; the rollout reaches {})",
                show_share(last)
            );
        }
    }
    d
}

/// The release to move to: the target, or a stepping stone below it that the running
/// release must pass through first (the lowest one that applies). A stone is always ahead
/// of the running release: `<via release="1.0.0" below="2.0.0"/>` never sends a device on
/// 1.5.0 back to 1.0.0 (which would be a downgrade, refused or unasked for).
fn destination(channel: &Channel, target: &Target, running: Option<&Release>) -> (Release, bool) {
    let stone = running.and_then(|r| {
        channel
            .vias
            .iter()
            .filter(|v| r < &v.below && r < &v.release && v.release < target.release)
            .min_by(|a, b| a.below.cmp(&b.below))
    });
    match stone {
        Some(via) => (via.release.clone(), true),
        None => (target.release.clone(), false),
    }
}

fn unavailable(index: &Index, release: &Release, platform: &str) -> Option<String> {
    if !index.has_release(release) {
        return Some(format!("release {release} is not in the signed index"));
    }
    if index.artifacts(release, platform).is_none() {
        return Some(format!(
            "no artifact for platform {platform} in release {release}"
        ));
    }
    if let Some(e) = index.unusable(release, platform) {
        return Some(format!("release {release} cannot be installed: {e}"));
    }
    None
}

/// Monday-first weekday and minute of the day of `t` (UTC).
fn weekday_minute(t: UtcTime) -> (usize, u32) {
    (t.weekday_from_monday(), t.minute_of_day())
}

/// Whether installs may happen at `t`.
pub fn in_window(window: &Window, t: UtcTime) -> bool {
    let (day, minute) = weekday_minute(t);
    if window.from < window.to {
        window.days[day] && (window.from..window.to).contains(&minute)
    } else {
        // Crossing midnight: the evening part belongs to `day`, the morning to the day before.
        (window.days[day] && minute >= window.from)
            || (window.days[(day + 6) % 7] && minute < window.to)
    }
}

/// The next moment after `t` at which the window opens.
pub fn next_opening(window: &Window, t: UtcTime) -> UtcTime {
    for ahead in 0..=7 {
        let candidate = t
            .midnight_plus_days(ahead)
            .plus_seconds(i64::from(window.from) * 60);
        if candidate > t && window.days[candidate.weekday_from_monday()] {
            return candidate;
        }
    }
    t
}

/// The first moment at or after `t` inside the window: `t` itself, or the next opening.
pub fn open_from(window: &Window, t: UtcTime) -> UtcTime {
    if in_window(window, t) {
        t
    } else {
        next_opening(window, t)
    }
}

/// When the opening of the window that holds `t` closes; `t` must be inside the window.
pub fn closes_after(window: &Window, t: UtcTime) -> UtcTime {
    // Crossing midnight, a moment in the evening part closes the next morning.
    let tomorrow = window.from >= window.to && t.minute_of_day() >= window.to;
    t.midnight_plus_days(i64::from(tomorrow))
        .plus_seconds(i64::from(window.to) * 60)
}

#[cfg(test)]
mod review17_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod window_tests;
