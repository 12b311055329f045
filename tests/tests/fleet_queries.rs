//! The admin's questions, asked of a known fleet on SQLite and on PostgreSQL: devices by
//! platform, group, channel, release running or not, silence; a release's summary, per wave
//! and over time; the failures. The CLI's `--json` and the HTTP API give the same answers.

use std::collections::BTreeSet;
use std::path::Path;

use e2e_tests::*;
use serde_json::Value;
use updater::conventions::Release;
use updater::datetime::UtcTime;
use updater::report::event::CheckAction;
use updater::report::{Event, Record, SignedReport};

on_both_databases!(questions_have_one_answer);

const T: i64 = 1_790_000_000;

fn release(name: &str) -> Release {
    Release::new(name).unwrap()
}

fn inventory(running: &str, platform: &str, channel: &str, groups: &[&str]) -> Event {
    Event::Inventory {
        running: Some(release(running)),
        platform: platform.into(),
        channel: channel.into(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        free_bytes: Some(1 << 30),
        updater_version: "0.1.0".into(),
    }
}

fn checked(action: CheckAction, wave: u64) -> Event {
    Event::Checked {
        action,
        release: Some(release("2.0.0")),
        wave: Some(wave),
        bucket: Some(7),
        eligible_at: None,
        reason: format!("wave {wave}"),
    }
}

/// Posts `events` (at T + offset each) as one report of `device`, which must be stored.
fn report(server: &FleetServer, device: &TestDevice, events: Vec<(i64, Event)>) {
    let records = events
        .into_iter()
        .enumerate()
        .map(|(i, (offset, event))| Record {
            seq: i as u64 + 1,
            time: UtcTime::from_unix(T + offset).unwrap(),
            event,
        })
        .collect();
    let signed = SignedReport::sign(&device.key, &device.id, records, 0).unwrap();
    let (status, answer) = post_report(server, &signed.to_bytes().unwrap());
    assert_eq!(status, 200, "{answer}");
}

/// Five devices: d1 installed 2.0.0 (wave 1), d2 waits for wave 2, d3 failed its trial and
/// rolled back, d4 has been silent since long before, d5 never reported.
fn fleet_of_five(server: &FleetServer, db: &str) {
    let devices: Vec<TestDevice> = (1..=5).map(|n| TestDevice::new(&format!("d{n}"))).collect();
    for d in &devices {
        d.enroll(db);
    }
    let download = Event::Downloading {
        release: release("2.0.0"),
        done: 0,
        total: 10,
    };
    report(
        server,
        &devices[0],
        vec![
            (10, checked(CheckAction::Install, 1)),
            (11, download),
            (
                12,
                Event::Installed {
                    release: release("2.0.0"),
                    from: Some(release("1.0.0")),
                },
            ),
            (13, inventory("2.0.0", "arm64", "stable", &["lab", "north"])),
        ],
    );
    report(
        server,
        &devices[1],
        vec![
            (20, checked(CheckAction::Wait, 2)),
            (21, inventory("1.0.0", "arm64", "beta", &["south"])),
        ],
    );
    report(
        server,
        &devices[2],
        vec![
            (30, checked(CheckAction::Install, 1)),
            (
                31,
                Event::health_check_failed(&release("2.0.0"), "probe timed out"),
            ),
            (
                32,
                Event::RolledBack {
                    release: release("2.0.0"),
                    to: Some(release("1.0.0")),
                },
            ),
            (33, inventory("1.0.0", "x86_64", "stable", &["lab"])),
        ],
    );
    report(
        server,
        &devices[3],
        vec![(-100_000, inventory("1.0.0", "x86_64", "stable", &[]))],
    );
}

/// The device ids `fleet devices --json ARGS` lists, and the same from the HTTP API.
fn listed(server: &FleetServer, db: &str, args: &[&str], query: &str) -> BTreeSet<String> {
    let mut all = vec!["devices", "--db", db, "--json"];
    all.extend_from_slice(args);
    let cli: Value = serde_json::from_str(fleet(&all).ok().stdout.trim()).unwrap();
    let api = get(server, &format!("v1/devices?{query}"));
    assert_eq!(cli, api, "{args:?} against ?{query}");
    ids(&cli)
}

fn ids(answer: &Value) -> BTreeSet<String> {
    answer["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap().to_owned())
        .collect()
}

fn get(server: &FleetServer, path: &str) -> Value {
    let response = ureq::get(&format!("{}{path}", server.url)).call().unwrap();
    serde_json::from_str(&response.into_string().unwrap()).unwrap()
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| n.to_string()).collect()
}

fn questions_have_one_answer(db: &str, _dir: &Path) {
    let server = FleetServer::start(db, &[]);
    fleet_of_five(&server, db);
    device_filters(&server, db);
    summary_per_wave_and_over_time(&server, db);
    failures_and_bad_questions(&server, db);
}

fn device_filters(server: &FleetServer, db: &str) {
    let silent = T.to_string();
    for (args, query, expected) in [
        (
            vec!["--platform", "arm64"],
            "platform=arm64",
            &["d1", "d2"][..],
        ),
        (
            vec!["--platform", "x86_64"],
            "platform=x86_64",
            &["d3", "d4"],
        ),
        (vec!["--group", "lab"], "group=lab", &["d1", "d3"]),
        (vec!["--group", "north"], "group=north", &["d1"]),
        (vec!["--channel", "beta"], "channel=beta", &["d2"]),
        (
            vec!["--channel", "stable", "--group", "lab"],
            "channel=stable&group=lab",
            &["d1", "d3"],
        ),
        (vec!["--running", "2.0.0"], "running=2.0.0", &["d1"]),
        (
            vec!["--not-running", "2.0.0"],
            "not_running=2.0.0",
            &["d2", "d3", "d4", "d5"],
        ),
        (
            vec!["--silent-since", &silent],
            &format!("silent_since={silent}"),
            &["d4", "d5"],
        ),
    ] {
        assert_eq!(listed(server, db, &args, query), set(expected), "{args:?}");
    }
}

fn summary_per_wave_and_over_time(server: &FleetServer, db: &str) {
    // The summary, per wave; silence counts the device still waiting (its news is old).
    let cli = fleet(&["summary", "--db", db, "2.0.0", "--timeline", "--json"]).ok();
    let mut cli: Value = serde_json::from_str(cli.stdout.trim()).unwrap();
    let timeline = cli.as_object_mut().unwrap().remove("timeline").unwrap();
    let mut api = get(server, "v1/releases/2.0.0/summary");
    for answer in [&mut cli, &mut api] {
        answer.as_object_mut().unwrap().remove("silent_since");
    }
    assert_eq!(cli, api);
    let counts = |v: &Value| -> Vec<u64> {
        ["devices", "waiting", "installed", "rolled_back", "silent"]
            .iter()
            .map(|k| v[k].as_u64().unwrap())
            .collect()
    };
    assert_eq!(counts(&cli["total"]), [3, 1, 1, 1, 1]);
    assert_eq!(counts(&cli["waves"]["1"]), [2, 0, 1, 1, 0]);
    assert_eq!(counts(&cli["waves"]["2"]), [1, 1, 0, 0, 1]);
    assert_eq!(cli["not_running"], 4);

    // Over time: each change once, the counts cumulative.
    assert_eq!(
        timeline,
        get(server, "v1/releases/2.0.0/timeline")["points"]
    );
    let count = |p: &Value, k: &str| p[k].as_u64().unwrap();
    let points: Vec<(i64, [u64; 4])> = timeline
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let at = p["time"].as_i64().unwrap() - T;
            let ends = ["checked", "installed", "failed", "rolled_back"].map(|k| count(p, k));
            (at, ends)
        })
        .collect();
    let expected = [
        (10, [1, 0, 0, 0]),
        (12, [1, 1, 0, 0]),
        (20, [2, 1, 0, 0]),
        (30, [3, 1, 0, 0]),
        (31, [3, 1, 1, 0]),
        (32, [3, 1, 1, 1]),
    ];
    assert_eq!(points, expected);
}

fn failures_and_bad_questions(server: &FleetServer, db: &str) {
    // The failures, with their reasons; the releases reported about.
    let cli = fleet(&["failures", "--db", db, "--release", "2.0.0", "--json"]).ok();
    let cli: Value = serde_json::from_str(cli.stdout.trim()).unwrap();
    assert_eq!(cli, get(server, "v1/failures?release=2.0.0"));
    let failure = &cli["failures"][0];
    assert_eq!(
        (
            failure["device"].as_str(),
            failure["state"].as_str(),
            failure["reason"].as_str()
        ),
        (Some("d3"), Some("rolled_back"), Some("probe timed out"))
    );
    assert_eq!(cli["failures"].as_array().unwrap().len(), 1);
    assert_eq!(
        get(server, "v1/releases")["releases"],
        serde_json::json!(["2.0.0"])
    );

    // Bad questions get clear answers.
    for (path, status) in [
        ("v1/devices?colour=red", 400),
        ("v1/devices?silent_since=soon", 400),
        ("v1/nothing", 404),
    ] {
        match ureq::get(&format!("{}{path}", server.url)).call() {
            Err(ureq::Error::Status(code, _)) => assert_eq!(code, status, "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
}
