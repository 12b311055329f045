//! `updater plan --json` as a wire format (docs/plan-json.md): one meaning per field.
//! `install` is now; a `wait` carries the moment the install can happen, window included,
//! and `waiting_for` says what stands in the way. The failed-release case is in install.rs
//! (it needs a health check that fails).

use std::collections::BTreeSet;
use std::path::Path;

use e2e_tests::{reference_policy, DemoRepo, Device, StaticServer};
use serde_json::{json, Value};
use updater::rollout::decide::bucket;
use updater::rollout::policy::Release;

/// A device id whose bucket for 2.0.0 lies in `range`.
fn id_in(range: std::ops::Range<u32>) -> String {
    let release = Release::new("2.0.0").unwrap();
    (0..)
        .map(|i| format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256))
        .find(|id| range.contains(&bucket("stable", &release, id)))
        .unwrap()
}

fn plan(device: &Device, config: &Path, now: &str) -> Value {
    let run = device
        .updater(&[
            "--config".as_ref(),
            config.as_os_str(),
            "plan".as_ref(),
            "--json".as_ref(),
            format!("--now={now}").as_ref(),
        ])
        .ok();
    let value: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let keys: BTreeSet<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected: BTreeSet<&str> = [
        "device",
        "platform",
        "channel",
        "running",
        "action",
        "release",
        "at",
        "waiting_for",
        "wave",
        "bucket",
        "reason",
        "blocked_since",
        "hold_reason",
        "unblock",
    ]
    .into_iter()
    .collect();
    assert_eq!(keys, expected, "{value}");
    value
}

/// The fields whose meaning this file pins: action, release, at, waiting_for, wave.
fn meaning(v: &Value) -> Value {
    json!([
        v["action"],
        v["release"],
        v["at"],
        v["waiting_for"],
        v["wave"]
    ])
}

#[test]
fn plan_json_gives_one_meaning_per_field() {
    let r = DemoRepo::with_policy(&reference_policy(""));
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let first = id_in(0..1000);
    let config = device.configure(&first, &server.url(), Some("1.0.0"), "");

    // Install now: eligible, inside the window; `at` is now.
    let now = plan(&device, &config, "2026-11-23T02:30:00Z");
    assert_eq!(
        meaning(&now),
        json!(["install", "2.0.0", "2026-11-23T02:30:00Z", null, 1]),
        "{now}"
    );
    // Eligible outside the window: a wait for the window, `at` its next opening.
    let window = plan(&device, &config, "2026-11-23T12:00:00Z");
    assert_eq!(
        meaning(&window),
        json!(["wait", "2.0.0", "2026-11-24T02:00:00Z", "window", 1]),
        "{window}"
    );
    assert!(
        window["reason"]
            .as_str()
            .unwrap()
            .contains("at 2026-11-24T02:00:00Z, when the install window opens"),
        "{window}"
    );

    // Not eligible yet: a wait for the wave, `at` the first moment it is eligible AND inside
    // the window (this bucket becomes eligible on Monday afternoon; it installs Tuesday).
    let later = Device::trusting(&r.root_json());
    let config = later.configure(&id_in(2000..2100), &server.url(), Some("1.0.0"), "");
    let wave = plan(&later, &config, "2026-11-23T01:00:00Z");
    assert_eq!(
        meaning(&wave),
        json!(["wait", "2.0.0", "2026-11-24T02:00:00Z", "wave", 2]),
        "{wave}"
    );
}

#[test]
fn plan_json_says_a_halted_channel_waits_for_the_halt() {
    let r = DemoRepo::with_policy(&reference_policy("<halt/>"));
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure(&id_in(0..1000), &server.url(), Some("1.0.0"), "");
    let halted = plan(&device, &config, "2026-11-23T02:30:00Z");
    assert_eq!(
        meaning(&halted),
        json!(["stay", null, null, "halt", null]),
        "{halted}"
    );
}

/// `<target restart>` resumes a halt as a fresh ramp: the waves as written start over at the
/// restart, so a device the finished rollout would take at once waits for its wave again,
/// while the first wave's devices install.
#[test]
fn a_restarted_target_runs_its_ramp_again_from_the_restart() {
    let restarted = reference_policy("").replace(
        r#"<target release="2.0.0">"#,
        r#"<target release="2.0.0" restart="2026-11-24T00:00:00Z">"#,
    );
    for (policy, expected) in [
        // Without a restart this bucket became eligible on Monday afternoon: it installs in
        // Tuesday's window.
        (
            reference_policy(""),
            json!(["install", "2.0.0", "2026-11-24T02:30:00Z", null, 2]),
        ),
        // Restarted on Tuesday at midnight, the ramp runs again: the same bucket is eligible
        // on Tuesday afternoon, so it waits for Wednesday's window.
        (
            restarted.clone(),
            json!(["wait", "2.0.0", "2026-11-25T02:00:00Z", "wave", 2]),
        ),
    ] {
        let r = DemoRepo::with_policy(&policy);
        let server = StaticServer::start(&r.public());
        let device = Device::trusting(&r.root_json());
        let config = device.configure(&id_in(2000..2100), &server.url(), Some("1.0.0"), "");
        let answer = plan(&device, &config, "2026-11-24T02:30:00Z");
        assert_eq!(meaning(&answer), expected, "{answer}");
    }
    // The first wave's devices go at once after the restart.
    let r = DemoRepo::with_policy(&restarted);
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure(&id_in(0..1000), &server.url(), Some("1.0.0"), "");
    let first = plan(&device, &config, "2026-11-24T02:30:00Z");
    assert_eq!(
        meaning(&first),
        json!(["install", "2.0.0", "2026-11-24T02:30:00Z", null, 1]),
        "{first}"
    );
}
