//! `policy.xml` bytes (signed by the policy role, but parsed strictly all the same), then
//! every decision a device could draw from an accepted policy.
//!
//! Invariants checked beyond "no panic": the eligible share stays within 0..=100%; the
//! moment `eligible_at` names is the first whole second at which the share exceeds the
//! bucket; the window's next opening is after the time asked about and inside the window.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use updater::datetime::UtcTime;
use updater::metadata::Targets;
use updater::names::RoleName;
use updater::rollout::decide::{
    bucket, decide, eligible_at, in_window, next_opening, share_at, Device, Index,
};
use updater::rollout::policy::{parse, Policy, Release, FULL_SHARE};
use updater::verify::Unverified;

/// Releases 1.0.0 and 2.0.0 for armv7 and x86_64, as the quick start's repository has.
const TARGETS: &[u8] = include_bytes!("../fixtures/1.targets.json");

fuzz_target!(|data: &[u8]| {
    let Ok(policy) = parse(data) else {
        return;
    };
    let targets = Unverified::<Targets>::parse(&RoleName::targets(), TARGETS).unwrap();
    let index = Index::from_targets(targets.untrusted()).unwrap();
    let mut times = vec![UtcTime::parse("2026-11-23T12:00:00Z").unwrap()];
    for channel in policy.channels.values() {
        if let Some(target) = &channel.target {
            rollout(&target.waves, &channel.name, &target.release);
            for wave in &target.waves {
                times.extend([wave.start.plus_seconds(-1), wave.start]);
            }
        }
    }
    for &now in &times {
        window(&policy, now);
        devices(&policy, &index, now);
    }
});

/// The share and eligibility arithmetic of one channel's waves.
fn rollout(waves: &[updater::rollout::policy::Wave], channel: &str, release: &Release) {
    for wave in waves {
        for t in [
            wave.start.plus_seconds(-1),
            wave.start,
            wave.start.plus_seconds(1),
        ] {
            assert!(share_at(waves, t) <= FULL_SHARE);
        }
    }
    for id in ["00:11:22:33:44:55", "a", "device-7"] {
        let b = bucket(channel, release, id);
        assert!(b < FULL_SHARE);
        if let Some((at, _wave)) = eligible_at(waves, b) {
            assert!(share_at(waves, at) > b, "not eligible at the time named");
            assert!(
                share_at(waves, at.plus_seconds(-1)) <= b,
                "eligible a second before the time named"
            );
        }
    }
}

/// The install window's arithmetic at `now`.
fn window(policy: &Policy, now: UtcTime) {
    let Some(window) = &policy.window else {
        return;
    };
    let _ = in_window(window, now);
    let next = next_opening(window, now);
    if window.days.iter().any(|&d| d) {
        assert!(next > now, "next opening {next} is not after {now}");
        assert!(
            in_window(window, next),
            "next opening {next} is outside the window"
        );
    }
}

/// A few devices on every channel (and on one the policy lacks) decide at `now`.
fn devices(policy: &Policy, index: &Index, now: UtcTime) {
    let mut channels: Vec<String> = policy.channels.keys().cloned().collect();
    channels.push("none".into());
    let running = [None, Release::new("1.0.0").ok(), Release::new("2.0.0").ok()];
    for channel in &channels {
        for running in &running {
            let device = Device {
                id: "00:11:22:33:44:55".into(),
                platform: "x86_64".into(),
                channel: channel.clone(),
                groups: BTreeSet::from(["lab".to_owned()]),
                running: running.clone(),
            };
            let _ = decide(policy, index, &device, now);
        }
    }
}
