//! `updater run` with a real clock keeps the install window `plan` announces: it wakes when
//! the window opens (spread inside it), not at its next check hours later.

use std::time::{Duration, Instant};

use e2e_tests::{policy_for, scene, spawn_run};
use updater::datetime::UtcTime;

/// `HH:MM` of `t` (UTC).
fn clock(t: UtcTime) -> String {
    let minute = t.minute_of_day();
    format!("{:02}:{:02}", minute / 60, minute % 60)
}

#[test]
fn run_installs_inside_a_window_that_opens_after_it_starts() {
    // A two-minute window opening one to two minutes from now (whole minutes, as policies
    // write them), and a check interval of hours: only a wake-up at the window installs.
    let now = UtcTime::now();
    let opens = UtcTime::from_unix((now.unix() / 60 + 2) * 60).unwrap();
    let closes = opens.plus_seconds(120);
    let window = format!(
        "<check every=\"6h\" jitter=\"30m\"/>\n  <window from=\"{}\" to=\"{}\"/>\n  <channel",
        clock(opens),
        clock(closes)
    );
    let s = scene(&policy_for("1.0.0", "").replace("<channel", &window), "");
    let mut child = spawn_run(&s.config);

    // Bounded: the window's end and half a minute more.
    let deadline = Instant::now() + Duration::from_secs((closes.unix() - now.unix() + 30) as u64);
    let seen = loop {
        if let Some(release) = s.device.running() {
            break Some((release, UtcTime::now()));
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    // The current link moves before `apply` records its result: wait (bounded) for the
    // record too, or the kill below can land between the two.
    let state_path = s.device.install_dir().join("state.json");
    let recorded =
        || std::fs::read_to_string(&state_path).is_ok_and(|t| t.contains("\"installed 1.0.0"));
    while seen.is_some() && !recorded() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let (release, at) = seen.unwrap_or_else(|| {
        panic!(
            "no install by {closes}, the window {}-{} closed; state: {:?}",
            clock(opens),
            clock(closes),
            std::fs::read_to_string(s.device.install_dir().join("state.json"))
        )
    });
    assert_eq!(release, "1.0.0");
    assert!(
        at >= opens && at <= closes,
        "installed (seen) at {at}, window {opens} to {closes}"
    );
    // The moment the device recorded for the install is inside the window too.
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(s.device.install_dir().join("state.json")).unwrap())
            .unwrap();
    let result = state["last_result"].as_str().unwrap();
    assert!(
        result.starts_with("installed 1.0.0, was nothing"),
        "{state}"
    );
    let checked = UtcTime::parse(state["last_check"].as_str().unwrap()).unwrap();
    assert!(
        checked >= opens && checked < closes,
        "installed at {checked}, window {opens} to {closes}"
    );
    // After an install it checks again a minute later (for a next step such as the target
    // after a stepping stone), not at once and not hours later.
    let next = UtcTime::parse(state["next_check"].as_str().unwrap()).unwrap();
    assert_eq!(
        next.unix() - checked.unix(),
        updater::rollout::wake::AFTER_INSTALL as i64,
        "{state}"
    );
}
