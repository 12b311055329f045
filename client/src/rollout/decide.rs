//! `decide(policy, index, device, now)`: what a device should do, and why, in words a person
//! can read. A pure function: the same inputs give the same answer on every device and in
//! every test.
//!
//! Rollout: each device draws a bucket in `0..10000` from SHA-256 of channel, release and
//! device id. The eligible share is 0 before the first wave, jumps to the first wave's share
//! at its start, ramps linearly between waves, and stays at the last wave's share. A device
//! is eligible from the first moment the share exceeds its bucket; that moment is computed
//! exactly, so `updater plan` can say when.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::conventions::layout::LayoutError;
use crate::conventions::{ArtifactKind, KindError, ReleaseTarget};
use crate::datetime::UtcTime;
use crate::hash::Sha256;
use crate::metadata::{TargetInfo, Targets};
use crate::names::TargetName;
use crate::rollout::policy::{
    show_share, Channel, Policy, Release, Target, Wave, Window, FULL_SHARE,
};

/// The releases the verified index holds: release -> platform -> artifacts. Built from the
/// top-level targets role only: no other role may add a release.
#[derive(Clone, Debug, Default)]
pub struct Index {
    releases: BTreeMap<Release, BTreeMap<String, Vec<(TargetName, TargetInfo)>>>,
}

impl Index {
    /// Reads `releases/<release>/<platform>/<file>` names; other names are not releases.
    /// A name under `releases/` that does not fit the layout refuses the index: skipping it
    /// would hide a release the repository published.
    pub fn from_targets(targets: &Targets) -> Result<Self, LayoutError> {
        let mut index = Index::default();
        for (name, info) in &targets.targets {
            let Some(file) = ReleaseTarget::parse(name.as_str())? else {
                continue;
            };
            index
                .releases
                .entry(file.release)
                .or_default()
                .entry(file.platform.to_owned())
                .or_default()
                .push((name.clone(), info.clone()));
        }
        Ok(index)
    }

    /// Why the device could not install `release` for `platform` as listed: an artifact of
    /// a kind it does not handle (a bundle in a format it cannot unpack). The same sentence
    /// `repo add` refuses such a file with.
    pub fn unusable(&self, release: &Release, platform: &str) -> Option<KindError> {
        self.artifacts(release, platform)?
            .iter()
            .find_map(|(name, info)| ArtifactKind::listed(name, info).err())
    }

    /// Whether the index holds `release` for any platform.
    pub fn has_release(&self, release: &Release) -> bool {
        self.releases.contains_key(release)
    }

    /// The artifacts of `release` for `platform`.
    pub fn artifacts(
        &self,
        release: &Release,
        platform: &str,
    ) -> Option<&[(TargetName, TargetInfo)]> {
        self.releases.get(release)?.get(platform).map(Vec::as_slice)
    }

    /// The platforms `release` has artifacts for.
    pub fn platforms(&self, release: &Release) -> Vec<&str> {
        self.releases
            .get(release)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// What the decision needs to know about one device.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Device {
    /// Lower-case (a MAC address, a machine id, or a name the owner chose).
    pub id: String,
    pub platform: String,
    pub channel: String,
    pub groups: BTreeSet<String>,
    /// The release it runs, `None` on a fresh device.
    pub running: Option<Release>,
}

/// What to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Move to `release` at `at` (now, or when the install window next opens).
    Install,
    /// `release` is the goal but the device is not eligible yet (`at`: when it will be).
    Wait,
    /// Nothing to do.
    Stay,
}

/// The decision and its reason. Its JSON form (`updater plan --json`) is stable: the keys
/// below, with `null` where a field does not apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub action: Action,
    pub channel: String,
    pub running: Option<Release>,
    pub release: Option<Release>,
    pub at: Option<UtcTime>,
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
    d.release = Some(target.release.clone());
    if let Some(why) = unavailable(index, &target.release, &device.platform) {
        return d.stay(format!("running revoked {r}, but {why}"));
    }
    d.action = Action::Install;
    d.at = Some(now);
    d.reason = format!("running revoked {r}; moving to {} now", target.release);
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
    let early = target.early_devices.contains(&device.id)
        || device
            .groups
            .iter()
            .any(|g| target.early_groups.contains(g));
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

/// Install now, at the window's next opening, or wait for the moment of eligibility.
fn schedule(
    mut d: Decision,
    policy: &Policy,
    target: &Target,
    verb: &str,
    (eligible, why): (Option<UtcTime>, String),
    now: UtcTime,
) -> Decision {
    match eligible {
        Some(at) if at <= now => {
            d.action = Action::Install;
            match policy.window.as_ref().filter(|w| !in_window(w, now)) {
                None => {
                    d.at = Some(now);
                    d.reason = format!("{verb} now ({why})");
                }
                Some(window) => {
                    let opens = next_opening(window, now);
                    d.at = Some(opens);
                    d.reason = format!("{verb} at {opens}, when the install window opens ({why})");
                }
            }
        }
        Some(at) => {
            d.action = Action::Wait;
            d.at = Some(at);
            d.reason = format!("{verb}: eligible at {at} ({why})");
        }
        None => {
            d.action = Action::Wait;
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
/// release must pass through first (the lowest one that applies).
fn destination(channel: &Channel, target: &Target, running: Option<&Release>) -> (Release, bool) {
    let stone = running.and_then(|r| {
        channel
            .vias
            .iter()
            .filter(|v| r < &v.below && v.release < target.release && &v.release != r)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::policy::parse;
    use proptest::prelude::*;

    const T0: i64 = 1_795_000_000; // 2026-11-18

    fn at(offset: i64) -> UtcTime {
        UtcTime::from_unix(T0 + offset).unwrap()
    }

    fn index(releases: &[&str], platforms: &[&str]) -> Index {
        let names: Vec<String> = releases
            .iter()
            .flat_map(|r| {
                platforms
                    .iter()
                    .map(move |p| format!("releases/{r}/{p}/app.bin"))
            })
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        Index::from_targets(&targets_listing(&names)).unwrap()
    }

    fn device(id: &str, running: Option<&str>) -> Device {
        Device {
            id: id.into(),
            platform: "armv7".into(),
            channel: "stable".into(),
            groups: BTreeSet::new(),
            running: running.map(|r| Release::new(r).unwrap()),
        }
    }

    fn policy(body: &str) -> Policy {
        parse(format!("<policy><channel name=\"stable\">{body}</channel></policy>").as_bytes())
            .unwrap()
    }

    fn waves(list: &[(i64, &str)]) -> String {
        list.iter()
            .map(|(t, p)| format!("<wave start=\"{}\" percent=\"{p}\"/>", at(*t)))
            .collect()
    }

    fn three_waves() -> Policy {
        policy(&format!(
            "<target release=\"2.0.0\">{}</target>",
            waves(&[(0, "10"), (86_400, "50"), (3 * 86_400, "100")])
        ))
    }

    fn targets_listing(names: &[&str]) -> Targets {
        let targets: serde_json::Map<String, serde_json::Value> = names
            .iter()
            .map(|n| {
                let info = serde_json::json!({"length": 1, "hashes": {"sha512": "00"}});
                (n.to_string(), info)
            })
            .collect();
        serde_json::from_value(serde_json::json!({
            "_type": "targets", "spec_version": "1.0.31", "version": 1,
            "expires": "2030-01-01T00:00:00Z", "targets": targets
        }))
        .unwrap()
    }

    /// The device reads every label `repo add` writes, and refuses (never skips) a name under
    /// `releases/` outside the rule.
    #[test]
    fn index_reads_every_label_repo_add_writes_and_refuses_the_rest() {
        let label = format!("3.0.0-{}", "x".repeat(122));
        let name = format!("releases/{label}/armv7/app.bin");
        let idx = Index::from_targets(&targets_listing(&[&name, "policy.xml"])).unwrap();
        assert!(idx.has_release(&Release::new(&label).unwrap()));

        let long = format!("3.0.0-{}", "x".repeat(123));
        let name = format!("releases/{long}/armv7/app.bin");
        let refused = Index::from_targets(&targets_listing(&[&name])).unwrap_err();
        assert!(
            matches!(&refused, LayoutError::Label { source, .. } if source.value == long),
            "{refused}"
        );
        assert!(matches!(
            Index::from_targets(&targets_listing(&["releases/1.0.0/app.bin"])),
            Err(LayoutError::Shape { .. })
        ));
    }

    /// A bundle no device can unpack, listed by hand: the device stays, saying why in the
    /// sentence `repo add` refuses such a file with.
    #[test]
    fn a_bundle_the_device_cannot_unpack_keeps_it_where_it_is() {
        let mut idx = index(&["2.0.0"], &["armv7"]);
        let name = TargetName::new("releases/2.0.0/armv7/app.tar.xz").unwrap();
        let info: TargetInfo = serde_json::from_value(serde_json::json!({
            "length": 1, "hashes": {"sha512": "00"}, "custom": {"kind": "bundle"}
        }))
        .unwrap();
        let release = Release::new("2.0.0").unwrap();
        idx.releases
            .get_mut(&release)
            .unwrap()
            .get_mut("armv7")
            .unwrap()
            .push((name, info));
        let p = policy(&format!(
            "<target release=\"2.0.0\">{}</target>",
            waves(&[(0, "100")])
        ));
        let d = decide(&p, &idx, &device("aa", Some("1.0.0")), at(1));
        let sentence = ArtifactKind::of_file("app.tar.xz").unwrap_err().to_string();
        assert_eq!(d.action, Action::Stay);
        assert_eq!(
            d.reason,
            format!("release 2.0.0 cannot be installed: {sentence}; staying on 1.0.0")
        );
    }

    /// Semver precedence: a release candidate moves up to its release without a downgrade.
    #[test]
    fn a_release_candidate_moves_up_to_its_release() {
        let idx = index(&["2.5.0-rc1", "2.5.0"], &["armv7"]);
        let p = policy(&format!(
            "<target release=\"2.5.0\">{}</target>",
            waves(&[(0, "100")])
        ));
        let d = decide(&p, &idx, &device("aa", Some("2.5.0-rc1")), at(1));
        assert_eq!(d.action, Action::Install, "{}", d.reason);
        assert_eq!(d.release.as_ref().map(Release::as_str), Some("2.5.0"));
    }

    #[test]
    fn share_follows_the_waves_and_ramps_between_them() {
        let p = three_waves();
        let w = &p.channels["stable"].target.as_ref().unwrap().waves;
        assert_eq!(share_at(w, at(-1)), 0);
        assert_eq!(share_at(w, at(0)), 1000);
        assert_eq!(share_at(w, at(43_200)), 3000);
        assert_eq!(share_at(w, at(86_400)), 5000);
        assert_eq!(share_at(w, at(10 * 86_400)), 10_000);
    }

    #[test]
    fn a_device_is_told_when_it_becomes_eligible() {
        let p = three_waves();
        let idx = index(&["1.0.0", "2.0.0"], &["armv7"]);
        // Find a device in the first ramp (bucket between 1000 and 5000).
        let id = (0..)
            .map(|i| format!("dev-{i}"))
            .find(|id| {
                (1000..5000).contains(&bucket("stable", &Release::new("2.0.0").unwrap(), id))
            })
            .unwrap();
        let before = decide(&p, &idx, &device(&id, Some("1.0.0")), at(0));
        assert_eq!(before.action, Action::Wait);
        assert_eq!(before.wave, Some(2));
        let when = before.at.unwrap();
        assert!(
            before
                .reason
                .contains(&format!("eligible at {when} (wave 2, bucket")),
            "{}",
            before.reason
        );
        let just_before = decide(&p, &idx, &device(&id, Some("1.0.0")), when.plus_seconds(-1));
        assert_eq!(just_before.action, Action::Wait);
        let then = decide(&p, &idx, &device(&id, Some("1.0.0")), when);
        assert_eq!(then.action, Action::Install);
        assert_eq!(
            then.reason,
            format!(
                "install 2.0.0 now (wave 2, bucket {} of 10000)",
                then.bucket.unwrap()
            )
        );
    }

    #[test]
    fn shares_over_100000_devices_match_each_wave_within_one_point() {
        let p = policy(&format!(
            "<target release=\"2.0.0\">{}</target>",
            waves(&[
                (0, "1"),
                (100, "10"),
                (200, "33.33"),
                (300, "50"),
                (400, "100")
            ])
        ));
        let idx = index(&["2.0.0"], &["armv7"]);
        let ids: Vec<String> = (0..100_000).map(|i| format!("{:012x}", i * 7919)).collect();
        for (t, percent) in [
            (0, 1.0),
            (100, 10.0),
            (200, 33.33),
            (300, 50.0),
            (400, 100.0),
        ] {
            let eligible = ids
                .iter()
                .filter(|id| decide(&p, &idx, &device(id, None), at(t)).action == Action::Install)
                .count();
            let share = eligible as f64 / 1000.0;
            assert!(
                (share - percent).abs() <= 1.0,
                "at wave {percent}%: {share}% eligible"
            );
        }
    }

    #[test]
    fn zero_percent_is_nobody_and_hundred_is_everybody() {
        let idx = index(&["2.0.0"], &["armv7"]);
        let nobody = policy(&format!(
            "<target release=\"2.0.0\">{}</target>",
            waves(&[(0, "0")])
        ));
        let everybody = policy(&format!(
            "<target release=\"2.0.0\">{}</target>",
            waves(&[(0, "100")])
        ));
        for i in 0..2000 {
            let dev = device(&format!("d{i}"), Some("1.0.0"));
            assert_eq!(decide(&nobody, &idx, &dev, at(1000)).action, Action::Wait);
            assert_eq!(
                decide(&everybody, &idx, &dev, at(0)).action,
                Action::Install
            );
            assert_eq!(decide(&everybody, &idx, &dev, at(-1)).action, Action::Wait);
        }
    }

    #[test]
    fn early_devices_and_groups_come_first() {
        let p = policy(&format!(
            "<target release=\"2.0.0\"><early device=\"AA:BB:CC:00:11:22\"/><early group=\"lab\"/>{}</target>",
            waves(&[(0, "0"), (86_400, "0"), (2 * 86_400, "100")])
        ));
        let idx = index(&["2.0.0"], &["armv7"]);
        let canary = device("aa:bb:cc:00:11:22", Some("1.0.0"));
        assert_eq!(decide(&p, &idx, &canary, at(-1)).action, Action::Wait);
        let d = decide(&p, &idx, &canary, at(0));
        assert_eq!(
            (d.action, d.reason.as_str()),
            (Action::Install, "install 2.0.0 now (an early device)")
        );
        let mut lab = device("somebody", Some("1.0.0"));
        lab.groups.insert("lab".into());
        assert_eq!(decide(&p, &idx, &lab, at(0)).action, Action::Install);
        assert_eq!(
            decide(&p, &idx, &device("somebody", Some("1.0.0")), at(0)).action,
            Action::Wait
        );
    }

    #[test]
    fn halt_stops_everything_except_leaving_a_revoked_release() {
        let p = policy(&format!(
            "<target release=\"2.0.0\">{}</target><revoked release=\"1.5.0\"/><halt/>",
            waves(&[(0, "100")])
        ));
        let idx = index(&["1.0.0", "1.5.0", "2.0.0"], &["armv7"]);
        let d = decide(&p, &idx, &device("x", Some("1.0.0")), at(10));
        assert_eq!(
            (d.action, d.reason.as_str()),
            (
                Action::Stay,
                "channel \"stable\" is halted; staying on 1.0.0"
            )
        );
        let d = decide(&p, &idx, &device("x", Some("1.5.0")), at(10));
        assert_eq!(
            (d.action, d.reason.as_str()),
            (
                Action::Install,
                "running revoked 1.5.0; moving to 2.0.0 now"
            )
        );
    }

    #[test]
    fn a_downgrade_happens_only_when_the_policy_says_so() {
        let idx = index(&["1.0.0", "2.0.0"], &["armv7"]);
        let plain = policy(&format!(
            "<target release=\"1.0.0\">{}</target>",
            waves(&[(0, "100")])
        ));
        let d = decide(&plain, &idx, &device("x", Some("2.0.0")), at(10));
        assert_eq!(d.action, Action::Stay);
        assert!(
            d.reason.contains("does not allow a downgrade"),
            "{}",
            d.reason
        );
        let explicit = policy(&format!(
            "<target release=\"1.0.0\" downgrade=\"true\">{}</target>",
            waves(&[(0, "100")])
        ));
        let d = decide(&explicit, &idx, &device("x", Some("2.0.0")), at(10));
        assert_eq!(d.action, Action::Install);
        assert!(
            d.reason.starts_with("downgrade from 2.0.0 to 1.0.0"),
            "{}",
            d.reason
        );
    }

    #[test]
    fn stepping_stones_missing_releases_and_platforms() {
        let p = policy(&format!(
            "<target release=\"3.0.0\">{}</target><via release=\"2.0.0\" below=\"2.0.0\"/>",
            waves(&[(0, "100")])
        ));
        let idx = index(&["1.0.0", "2.0.0", "3.0.0"], &["armv7"]);
        let d = decide(&p, &idx, &device("x", Some("1.0.0")), at(10));
        assert_eq!(d.release.as_ref().map(Release::as_str), Some("2.0.0"));
        assert!(
            d.reason
                .starts_with("install stepping stone 2.0.0 (on the way to 3.0.0) now"),
            "{}",
            d.reason
        );
        let d = decide(&p, &idx, &device("x", Some("2.0.0")), at(10));
        assert_eq!(d.release.as_ref().map(Release::as_str), Some("3.0.0"));
        let mut riscv = device("x", Some("2.0.0"));
        riscv.platform = "riscv64".into();
        let d = decide(&p, &idx, &riscv, at(10));
        assert_eq!(
            d.reason,
            "no artifact for platform riscv64 in release 3.0.0; staying on 2.0.0"
        );
        let missing = index(&["1.0.0"], &["armv7"]);
        let d = decide(&p, &missing, &device("x", Some("2.0.0")), at(10));
        assert_eq!(
            d.reason,
            "release 3.0.0 is not in the signed index; staying on 2.0.0"
        );
    }

    #[test]
    fn install_window_defers_the_install() {
        let p = parse(
            format!(
                "<policy><window days=\"mon-fri\" from=\"02:00\" to=\"04:00\"/><channel name=\"stable\"><target release=\"2.0.0\">{}</target></channel></policy>",
                waves(&[(0, "100")])
            )
            .as_bytes(),
        )
        .unwrap();
        let idx = index(&["2.0.0"], &["armv7"]);
        // 2026-11-20 is a Friday; 12:00 is outside the window, the next opening is Monday 02:00.
        let friday_noon = UtcTime::parse("2026-11-20T12:00:00Z").unwrap();
        let d = decide(&p, &idx, &device("x", Some("1.0.0")), friday_noon);
        assert_eq!(d.action, Action::Install);
        assert_eq!(d.at, Some(UtcTime::parse("2026-11-23T02:00:00Z").unwrap()));
        let monday = UtcTime::parse("2026-11-23T03:59:00Z").unwrap();
        assert_eq!(
            decide(&p, &idx, &device("x", Some("1.0.0")), monday).at,
            Some(monday)
        );
    }

    fn arb_waves() -> impl Strategy<Value = Vec<(i64, u32)>> {
        prop::collection::vec((1i64..200_000, 0u32..=10_000), 1..6).prop_map(|steps| {
            let (mut t, mut s) = (0i64, 0u32);
            steps
                .into_iter()
                .map(|(dt, ds)| {
                    t += dt;
                    s = (s + ds / 4).min(10_000);
                    (t, s)
                })
                .collect()
        })
    }

    fn to_waves(list: &[(i64, u32)]) -> Vec<Wave> {
        list.iter()
            .map(|(t, s)| Wave {
                start: at(*t),
                share: *s,
            })
            .collect()
    }

    proptest! {
        #[test]
        fn eligibility_never_shrinks_as_time_passes(w in arb_waves(), b in 0u32..10_000, t1 in -1000i64..1_500_000, dt in 0i64..500_000) {
            let waves = to_waves(&w);
            let eligible = |t: UtcTime| eligible_at(&waves, b).is_some_and(|(e, _)| e <= t);
            prop_assert!(!eligible(at(t1)) || eligible(at(t1 + dt)));
            // The moment reported agrees with the share at that moment.
            if let Some((e, _)) = eligible_at(&waves, b) {
                prop_assert!(share_at(&waves, e) > b);
                prop_assert!(share_at(&waves, e.plus_seconds(-1)) <= b);
            }
        }

        #[test]
        fn eligibility_never_shrinks_as_a_percent_grows(w in arb_waves(), b in 0u32..10_000, which in 0usize..6, more in 0u32..10_000) {
            let waves = to_waves(&w);
            let mut grown = waves.clone();
            let i = which % grown.len();
            // Raise wave i (and any later wave below it) so the shares stay in order.
            let raised = (grown[i].share + more).min(10_000);
            for wave in grown.iter_mut().skip(i) {
                wave.share = wave.share.max(raised);
            }
            match (eligible_at(&waves, b), eligible_at(&grown, b)) {
                (Some((before, _)), Some((after, _))) => prop_assert!(after <= before),
                (Some(_), None) => prop_assert!(false, "a larger percent left a device out"),
                _ => {}
            }
        }

        #[test]
        fn the_same_device_gets_the_same_answer(id in "[0-9a-f:]{1,20}", t in -1000i64..400_000) {
            let p = three_waves();
            let idx = index(&["1.0.0", "2.0.0"], &["armv7"]);
            let dev = device(&id, Some("1.0.0"));
            prop_assert_eq!(decide(&p, &idx, &dev, at(t)), decide(&p, &idx, &dev, at(t)));
        }
    }
}
