//! Device reports: the device key (0600, never printed), the bounded outbox and its signed
//! export, reports sent after the work to a collector on 127.0.0.1, and collectors that are
//! down, silent or failing, which change nothing a device decides, installs or schedules.

use std::os::unix::fs::PermissionsExt;

use e2e_tests::{
    append_failed, apply, assert_current_complete, backoff_passed, closed_port, device_outbox,
    event_kinds, outbox_files, policy_for, publish_policy, scene, verify_carried,
    RecordingCollector, Scene,
};
use updater::datetime::UtcTime;
use updater::report::{Event, ReportError, VerifiedReport};

fn updater_with(s: &Scene, args: &[&str]) -> e2e_tests::Run {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), s.config.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    s.device.updater(&all)
}

#[test]
fn keygen_makes_a_private_key_and_prints_only_its_public_half() {
    let s = scene(&policy_for("1.0.0", ""), "\n[report]\n");
    let key_file = s.device.tmp.path().join("device.key");
    let run = updater_with(&s, &["keygen"]).ok();
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    let pem = std::fs::read_to_string(&key_file).unwrap();
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let secret_line = pem.lines().nth(1).unwrap();
    assert!(!run.stdout.contains(secret_line) && !run.stderr.contains(secret_line));
    assert!(run.stdout.contains("(created)"), "{run:#?}");
    // Again, as JSON: the same key, kept, and still only its public half.
    let json = updater_with(&s, &["keygen", "--json"]).ok();
    let value: serde_json::Value = serde_json::from_str(json.stdout.trim()).unwrap();
    assert_eq!(value["created"], false);
    let public = value["public_key"].as_str().unwrap();
    assert_eq!(public.len(), 64);
    assert!(run.stdout.contains(public));
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), pem);
    assert!(!json.stdout.contains(secret_line));
}

#[test]
fn a_bounded_outbox_keeps_the_newest_and_its_export_verifies() {
    let s = scene(&policy_for("1.0.0", ""), "\n[report]\nmax_events = 600\n");
    let outbox_dir = s.device.tmp.path().join("outbox");
    // 1,000 events into an outbox of 600.
    let outbox = device_outbox(&s);
    let given = append_failed(&outbox, 1000, "event");
    assert_eq!(outbox_files(&outbox_dir), 600);
    let file = s.device.tmp.path().join("carried/report.jsonl");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    let run = updater_with(
        &s,
        &["report", "--export", file.to_str().unwrap(), "--json"],
    )
    .ok();
    let printed: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(printed["events"], 600);
    assert_eq!(printed["reports"], 3);
    assert_eq!(printed["dropped"], 400);
    assert_eq!(printed["first_seq"], given[400]);
    assert_eq!(printed["last_seq"], given[999]);
    // JSON lines: one signed report per line, each as a collector takes it over HTTP.
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3);
    let reports: Vec<VerifiedReport> = lines
        .iter()
        .map(|l| verify_carried(l.as_bytes()).unwrap())
        .collect();
    let sizes: Vec<usize> = reports.iter().map(|r| r.events().len()).collect();
    assert_eq!(sizes, [256, 256, 88]);
    let seqs: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.events().iter().map(|e| e.seq))
        .collect();
    assert_eq!(seqs, given[400..]);
    assert!(reports.iter().all(|r| r.dropped() == 400));
    assert_eq!(reports[0].device(), "02:00:00:00:00:01");
    assert_eq!(reports[0].events()[0].event, Event::failed("event 400"));
    // Signed by the device's key, as keygen prints it.
    let keygen = updater_with(&s, &["keygen", "--json"]).ok();
    let key: serde_json::Value = serde_json::from_str(keygen.stdout.trim()).unwrap();
    assert_eq!(reports[0].key(), key["public_key"].as_str().unwrap());
    // A flipped byte in the middle (inside the events) is refused.
    let bytes = lines[0].as_bytes().to_vec();
    let mut tampered = bytes.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert!(verify_carried(&tampered).is_err());
    let edited = lines[0].replace("event 450", "event 451");
    assert_eq!(
        verify_carried(edited.as_bytes()).unwrap_err(),
        ReportError::BadSignature
    );
    // The file is the events' copy now: the outbox is empty, a second export writes nothing.
    assert_eq!(outbox_files(&outbox_dir), 0);
    let again = s.device.tmp.path().join("again.json");
    let run = updater_with(&s, &["report", "--export", again.to_str().unwrap()]).ok();
    assert!(run.stdout.contains("nothing written"), "{run:#?}");
    assert!(!again.exists());
    // Numbering goes on after the export; the drop total is a running one.
    assert_eq!(
        outbox
            .append(Event::failed("later"), UtcTime::now())
            .unwrap(),
        given[999] + 1
    );
    assert_eq!(outbox.pending(10).unwrap().dropped, 400);
}

/// Reports reach the first collector that answers 2xx, after the work; each verifies with
/// the device's key; what was delivered leaves the outbox; a failed health check and its
/// rollback are reported.
/// A collector URL that redirects (as a web server does for a missing slash) is not a
/// delivery: ureq would follow it with a GET and no body, and a 200 from wherever it leads
/// would empty the outbox of events nobody received.
#[test]
fn a_redirect_is_no_delivery_and_the_events_stay() {
    let elsewhere = RecordingCollector::start(200);
    let redirecting = RecordingCollector::redirecting(&elsewhere.url());
    let toml = format!("\n[report]\nurls = [\"{}\"]\n", redirecting.url());
    let s = scene(&policy_for("1.0.0", ""), &toml);
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stderr
            .contains("reports not sent (kept for the next check)")
            && run.stderr.contains("HTTP 301"),
        "{run:#?}"
    );
    assert_eq!(redirecting.bodies().len(), 1);
    assert!(elsewhere.bodies().is_empty(), "the redirect was followed");
    let outbox_dir = s.device.tmp.path().join("outbox");
    // Checked, downloading, installed, inventory: all still waiting.
    assert!(outbox_files(&outbox_dir) >= 4, "events left the outbox");
}

#[test]
fn reports_reach_a_collector_and_leave_the_outbox() {
    let failing = RecordingCollector::start(500);
    let collector = RecordingCollector::start(200);
    let toml = format!(
        "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \"grep -q 1.0.0 current/app.bin\"]\n\
         timeout = \"5s\"\n[report]\nurls = [\"{}\", \"{}\"]\n",
        failing.url(),
        collector.url()
    );
    let s = scene(&policy_for("1.0.0", ""), &toml);
    apply(&s.device, &s.config).ok();
    let outbox_dir = s.device.tmp.path().join("outbox");
    assert_eq!(outbox_files(&outbox_dir), 0);
    assert_eq!(failing.bodies().len(), 1);
    let bodies = collector.bodies();
    assert_eq!(bodies.len(), 1);
    let first = verify_carried(&bodies[0]).unwrap();
    assert_eq!(
        event_kinds(&first),
        ["checked", "downloading", "installed", "inventory"]
    );
    assert_eq!(first.device(), "02:00:00:00:00:01");

    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    apply(&s.device, &s.config).fails_with(1, "release 2.0.0 failed its health check");
    assert_eq!(assert_current_complete(&s.device), "1.0.0");
    let bodies = collector.bodies();
    assert_eq!(bodies.len(), 2);
    let second = verify_carried(&bodies[1]).unwrap();
    assert_eq!(second.key(), first.key());
    assert_eq!(
        event_kinds(&second),
        [
            "checked",
            "downloading",
            "health_check_failed",
            "rolled_back",
            "inventory"
        ]
    );
    assert!(second.events()[0].seq > first.events().last().unwrap().seq);
    assert_eq!(outbox_files(&outbox_dir), 0);
}

/// A device offline for 1,000 events keeps them within its default bounds, then delivers
/// them all once the collector is back, in reports of at most MAX_EVENTS_PER_POST events,
/// every event once, in order.
#[test]
fn events_kept_while_the_collector_is_away_are_all_delivered_once_back() {
    let away = format!(
        "\n[report]\nurls = [\"http://127.0.0.1:{}/reports\"]\n",
        closed_port()
    );
    let s = scene(&policy_for("1.0.0", ""), &away);
    let outbox = device_outbox(&s);
    let given = append_failed(&outbox, 1000, "offline");
    apply(&s.device, &s.config).ok();
    let waiting = outbox.pending(usize::MAX).unwrap();
    assert_eq!(waiting.dropped, 0, "the default bounds dropped events");
    assert!(waiting.records.len() > 1000);
    let last = waiting.records.last().unwrap().seq;

    let collector = RecordingCollector::start(200);
    let config = std::fs::read_to_string(&s.config).unwrap();
    let back = config.replace(
        &away,
        &format!("\n[report]\nurls = [\"{}\"]\n", collector.url()),
    );
    std::fs::write(&s.config, back).unwrap();
    backoff_passed(&s.device.tmp.path().join("outbox"));
    apply(&s.device, &s.config).ok();
    let reports: Vec<VerifiedReport> = collector
        .bodies()
        .iter()
        .map(|b| verify_carried(b).unwrap())
        .collect();
    assert!(reports
        .iter()
        .all(|r| r.events().len() <= updater::limits::MAX_EVENTS_PER_POST && r.dropped() == 0));
    let seqs: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.events().iter().map(|e| e.seq))
        .collect();
    // Everything up to the second check's inventory, each once, in order.
    let expected: Vec<u64> = (given[0]..given[0] + seqs.len() as u64).collect();
    assert_eq!(seqs, expected);
    assert!(*seqs.last().unwrap() > last);
    assert_eq!(
        reports.len(),
        seqs.len().div_ceil(updater::limits::MAX_EVENTS_PER_POST)
    );
    assert_eq!(outbox_files(&s.device.tmp.path().join("outbox")), 0);
}

/// A collector that refuses a report for good (409: it will never take these bytes) does
/// not block the outbox: the events are dropped and counted, with one line saying so. One
/// that fails for now (503) keeps them.
#[test]
fn a_permanent_refusal_drops_the_report_and_a_passing_one_keeps_it() {
    let unavailable = RecordingCollector::start(503);
    let s = scene(
        &policy_for("1.0.0", ""),
        &format!("\n[report]\nurls = [\"{}\"]\n", unavailable.url()),
    );
    let run = apply(&s.device, &s.config).ok();
    assert!(run.stderr.contains("HTTP 503"), "{run:#?}");
    assert!(!run.stderr.contains("dropped"), "{run:#?}");
    let outbox_dir = s.device.tmp.path().join("outbox");
    assert_eq!(outbox_files(&outbox_dir), 8);
    assert_eq!(unavailable.bodies().len(), 1);

    let refusing = RecordingCollector::start(409);
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(
        &s.config,
        config.replace(&unavailable.url(), &refusing.url()),
    )
    .unwrap();
    backoff_passed(&s.device.tmp.path().join("outbox"));
    let run = apply(&s.device, &s.config).ok();
    let dropped: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.contains("dropped"))
        .collect();
    assert_eq!(dropped.len(), 1, "{run:#?}");
    assert!(
        dropped[0].contains("report events dropped: every collector refused their report for good")
            && dropped[0].contains("HTTP 409"),
        "{run:#?}"
    );
    assert_eq!(outbox_files(&outbox_dir), 0);
    let outbox = device_outbox(&s);
    let drops = outbox.pending(1).unwrap().dropped;
    assert!(drops >= 10, "{drops}");
    let bodies = refusing.bodies();
    let refused = verify_carried(&bodies[0]).unwrap();
    assert_eq!(refused.events().len() as u64, drops);

    // The next report carries the drop total.
    let taking = RecordingCollector::start(208);
    let config = std::fs::read_to_string(&s.config).unwrap();
    std::fs::write(&s.config, config.replace(&refusing.url(), &taking.url())).unwrap();
    apply(&s.device, &s.config).ok();
    let next = verify_carried(&taking.bodies()[0]).unwrap();
    assert_eq!(next.dropped(), drops);
    assert_eq!(outbox_files(&outbox_dir), 0, "a 208 is a delivery");
}

/// After a failed send the device waits (with jitter) before posting again; the events
/// are still recorded meanwhile; once the wait passed, it posts again.
#[test]
fn after_a_failed_send_the_next_waits_for_the_backoff() {
    let failing = RecordingCollector::start(503);
    let s = scene(
        &policy_for("1.0.0", ""),
        &format!("\n[report]\nurls = [\"{}\"]\n", failing.url()),
    );
    let run = apply(&s.device, &s.config).ok();
    assert!(run.stderr.contains("next try not before"), "{run:#?}");
    assert_eq!(failing.bodies().len(), 1);
    let outbox_dir = s.device.tmp.path().join("outbox");
    let after_first = outbox_files(&outbox_dir);
    apply(&s.device, &s.config).ok();
    assert_eq!(failing.bodies().len(), 1, "posted during the backoff");
    assert!(
        outbox_files(&outbox_dir) > after_first,
        "events not recorded"
    );
    backoff_passed(&s.device.tmp.path().join("outbox"));
    apply(&s.device, &s.config).ok();
    assert_eq!(failing.bodies().len(), 2);
}

/// A collector URL with credentials: no message shows them.
#[test]
fn failure_messages_never_show_url_credentials() {
    let port = closed_port();
    let s = scene(
        &policy_for("1.0.0", ""),
        &format!(
            "\n[report]\nurls = [\"http://fleet-user:s3cret-pass@127.0.0.1:{port}/reports\"]\n"
        ),
    );
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stderr
            .contains(&format!("http://127.0.0.1:{port}/reports")),
        "{run:#?}"
    );
    assert!(
        !run.stderr.contains("s3cret") && !run.stderr.contains("fleet-user"),
        "{run:#?}"
    );
    assert!(!run.stdout.contains("s3cret"), "{run:#?}");
}

/// A device whose key file was lost refuses to make a new one on its own (no collector
/// would know it) and says what to do; `keygen --replace` makes the new one.
#[test]
fn a_lost_device_key_is_refused_until_keygen_replace() {
    let s = scene(&policy_for("1.0.0", ""), "\n[report]\n");
    let key_file = s.device.tmp.path().join("device.key");
    let first = updater_with(&s, &["keygen", "--json"]).ok();
    let first: serde_json::Value = serde_json::from_str(first.stdout.trim()).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    let file = s.device.tmp.path().join("export.jsonl");
    append_failed(&device_outbox(&s), 1, "event");
    let before_export = e2e_tests::tree_state(s.device.tmp.path());
    let refused = updater_with(&s, &["report", "--export", file.to_str().unwrap()]);
    assert_ne!(refused.code, Some(0));
    assert!(
        refused.stderr.contains(&format!(
            "the device key {} is missing, but this device signed its reports with key {}",
            key_file.display(),
            first["public_key"].as_str().unwrap()
        )) && refused.stderr.contains("run `updater keygen --replace`"),
        "{refused:#?}"
    );
    assert_eq!(e2e_tests::tree_state(s.device.tmp.path()), before_export);
    assert!(!key_file.exists() && !file.exists());
    let replaced = updater_with(&s, &["keygen", "--replace", "--json"]).ok();
    let replaced: serde_json::Value = serde_json::from_str(replaced.stdout.trim()).unwrap();
    assert_ne!(replaced["public_key"], first["public_key"]);
    assert_eq!(replaced["replaced"], true);
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    updater_with(&s, &["report", "--export", file.to_str().unwrap()]).ok();
}
