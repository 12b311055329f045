//! Device reports: the device key (0600, never printed), the bounded outbox and its signed
//! export, reports sent after the work to a collector on 127.0.0.1, and a dead collector
//! that changes nothing a device installs.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use e2e_tests::{
    apply, assert_current_complete, closed_port, policy_for, publish_policy, scene,
    RecordingCollector, Scene,
};
use updater::datetime::UtcTime;
use updater::report::{parse, Event, Outbox, ReportError, VerifiedReport};

const MAX: usize = 1 << 26;

/// Parses and verifies `bytes` with the key they carry (as a collector that enrolled it).
fn verify(bytes: &[u8], max_len: usize) -> Result<VerifiedReport, ReportError> {
    let parsed = parse(bytes, max_len)?;
    let key = parsed.key().to_owned();
    parsed.verify(&key)
}

fn updater_with(s: &Scene, args: &[&str]) -> e2e_tests::Run {
    let mut all: Vec<&std::ffi::OsStr> = vec!["--config".as_ref(), s.config.as_os_str()];
    all.extend(args.iter().map(std::ffi::OsStr::new));
    s.device.updater(&all)
}

/// The kinds of the report's events, a run of `downloading` ones as one, after checking
/// that the run goes from nothing to every byte of the release.
fn kinds(report: &VerifiedReport) -> Vec<String> {
    let mut kinds: Vec<String> = Vec::new();
    let mut progress = Vec::new();
    for record in report.events() {
        let value = serde_json::to_value(&record.event).unwrap();
        let kind = value["kind"].as_str().unwrap().to_owned();
        if kind == "downloading" {
            let done = value["done"].as_u64().unwrap();
            progress.push((done, value["total"].as_u64().unwrap()));
        }
        if kind != "downloading" || kinds.last() != Some(&kind) {
            kinds.push(kind);
        }
    }
    if let (Some(first), Some(last)) = (progress.first(), progress.last()) {
        assert_eq!(first.0, 0);
        assert_eq!(last.0, last.1);
        assert!(progress.windows(2).all(|w| w[0].0 < w[1].0), "{progress:?}");
    }
    kinds
}

fn outbox_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name() != "counters.json")
                .count()
        })
        .unwrap_or(0)
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
    let s = scene(&policy_for("1.0.0", ""), "\n[report]\nmax_events = 100\n");
    let outbox_dir = s.device.tmp.path().join("outbox");
    // 1,000 events into an outbox of 100, through the library the updater uses.
    let outbox = Outbox::open(&outbox_dir, 100).unwrap();
    let time = UtcTime::from_unix(1_800_000_000).unwrap();
    for n in 0..1000 {
        outbox
            .append(Event::failed(&format!("event {n}")), time)
            .unwrap();
    }
    assert_eq!(outbox_files(&outbox_dir), 100);
    let file = s.device.tmp.path().join("carried/report.json");
    std::fs::create_dir(file.parent().unwrap()).unwrap();
    let run = updater_with(
        &s,
        &["report", "--export", file.to_str().unwrap(), "--json"],
    )
    .ok();
    let printed: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(printed["events"], 100);
    assert_eq!(printed["dropped"], 900);
    let bytes = std::fs::read(&file).unwrap();
    let report = verify(&bytes, MAX).unwrap();
    let seqs: Vec<u64> = report.events().iter().map(|r| r.seq).collect();
    assert_eq!(seqs, (900..1000).collect::<Vec<_>>());
    assert_eq!(report.dropped(), 900);
    assert_eq!(report.device(), "02:00:00:00:00:01");
    assert_eq!(report.events()[0].event, Event::failed("event 900"));
    assert_eq!(printed["id"], report.id());
    // Signed by the device's key, as keygen prints it.
    let keygen = updater_with(&s, &["keygen", "--json"]).ok();
    let key: serde_json::Value = serde_json::from_str(keygen.stdout.trim()).unwrap();
    assert_eq!(report.key(), key["public_key"].as_str().unwrap());
    // A flipped byte in the middle (inside the events) is refused.
    let mut tampered = bytes.clone();
    let at = tampered.len() / 2;
    tampered[at] ^= 0x01;
    assert!(verify(&tampered, MAX).is_err());
    let reason = "event 950";
    let edited = String::from_utf8(bytes.clone())
        .unwrap()
        .replace(reason, "event 951");
    assert_eq!(
        verify(edited.as_bytes(), MAX).unwrap_err(),
        ReportError::BadSignature
    );
    // The file is the events' copy now: the outbox is empty, a second export writes nothing.
    assert_eq!(outbox_files(&outbox_dir), 0);
    let again = s.device.tmp.path().join("again.json");
    let run = updater_with(&s, &["report", "--export", again.to_str().unwrap()]).ok();
    assert!(run.stdout.contains("nothing written"), "{run:#?}");
    assert!(!again.exists());
    // Numbering goes on after the export; the drop total is a running one.
    assert_eq!(outbox.append(Event::failed("later"), time).unwrap(), 1000);
    assert_eq!(outbox.pending(10).unwrap().dropped, 900);
}

/// A collector that nothing answers for: the device installs what it installs without
/// reports, says the same, exits the same; the events wait in the outbox.
#[test]
fn a_dead_collector_changes_nothing_an_install_does() {
    let plain = scene(&policy_for("1.0.0", ""), "");
    let dead = format!(
        "\n[report]\nurls = [\"http://127.0.0.1:{}/reports\"]\n",
        closed_port()
    );
    let reporting = scene(&policy_for("1.0.0", ""), &dead);
    let without = apply(&plain.device, &plain.config).ok();
    let with = apply(&reporting.device, &reporting.config).ok();
    assert_eq!(without.stdout, with.stdout);
    assert!(
        with.stdout.contains("installed 1.0.0, was nothing"),
        "{with:#?}"
    );
    assert_eq!(assert_current_complete(&plain.device), "1.0.0");
    assert_eq!(assert_current_complete(&reporting.device), "1.0.0");
    assert!(
        with.stderr
            .contains("reports not sent (kept for the next check)"),
        "{with:#?}"
    );
    // checked, downloading (at 0 and after each of the 4 artifacts), installed, inventory.
    assert_eq!(outbox_files(&reporting.device.tmp.path().join("outbox")), 8);
    assert!(!plain.device.tmp.path().join("outbox").exists());
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
    let first = verify(&bodies[0], MAX).unwrap();
    assert_eq!(
        kinds(&first),
        ["checked", "downloading", "installed", "inventory"]
    );
    assert_eq!(first.device(), "02:00:00:00:00:01");

    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    apply(&s.device, &s.config).fails_with(1, "release 2.0.0 failed its health check");
    assert_eq!(assert_current_complete(&s.device), "1.0.0");
    let bodies = collector.bodies();
    assert_eq!(bodies.len(), 2);
    let second = verify(&bodies[1], MAX).unwrap();
    assert_eq!(second.key(), first.key());
    assert_eq!(
        kinds(&second),
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

/// A device whose collector was away: what waited (1,200 events from before, then a
/// check's own) is delivered once the collector is back, in reports of at most MAX_EVENTS_PER_POST events,
/// every event once, in order.
#[test]
fn events_kept_while_the_collector_is_away_are_all_delivered_once_back() {
    let away = format!(
        "\n[report]\nurls = [\"http://127.0.0.1:{}/reports\"]\n",
        closed_port()
    );
    let s = scene(&policy_for("1.0.0", ""), &away);
    let outbox = Outbox::open(&s.device.tmp.path().join("outbox"), 10_000).unwrap();
    let time = UtcTime::from_unix(1_800_000_000).unwrap();
    for n in 0..1200 {
        outbox
            .append(Event::failed(&format!("offline {n}")), time)
            .unwrap();
    }
    apply(&s.device, &s.config).ok();
    let waiting = outbox.pending(usize::MAX).unwrap().records;
    let last = waiting.last().unwrap().seq;
    assert_eq!(waiting.len() as u64, last + 1);

    let collector = RecordingCollector::start(200);
    let config = std::fs::read_to_string(&s.config).unwrap();
    let back = config.replace(
        &away,
        &format!("\n[report]\nurls = [\"{}\"]\n", collector.url()),
    );
    std::fs::write(&s.config, back).unwrap();
    apply(&s.device, &s.config).ok();
    let reports: Vec<VerifiedReport> = collector
        .bodies()
        .iter()
        .map(|b| verify(b, MAX).unwrap())
        .collect();
    assert!(reports
        .iter()
        .all(|r| r.events().len() <= updater::limits::MAX_EVENTS_PER_POST));
    let seqs: Vec<u64> = reports
        .iter()
        .flat_map(|r| r.events().iter().map(|e| e.seq))
        .collect();
    // Everything up to the second check's inventory, each once, in order.
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>());
    assert!(seqs.len() as u64 > last + 1);
    assert_eq!(
        reports.len(),
        seqs.len().div_ceil(updater::limits::MAX_EVENTS_PER_POST)
    );
    assert_eq!(outbox_files(&s.device.tmp.path().join("outbox")), 0);
}

/// A collector that takes the connection and never answers: the install is the same as
/// without reports, and the events wait.
#[test]
fn a_silent_collector_changes_nothing_an_install_does() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/reports", silent.local_addr().unwrap());
    let s = scene(
        &policy_for("1.0.0", ""),
        &format!("\n[report]\nurls = [\"{url}\"]\n"),
    );
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout.contains("installed 1.0.0, was nothing"),
        "{run:#?}"
    );
    assert_eq!(assert_current_complete(&s.device), "1.0.0");
    assert!(run.stderr.contains("reports not sent"), "{run:#?}");
    assert_eq!(outbox_files(&s.device.tmp.path().join("outbox")), 8);
    drop(silent);
}
