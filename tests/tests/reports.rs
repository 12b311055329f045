//! Device reports: the device key (0600, never printed), the bounded outbox and its signed
//! export, reports sent after the work to a collector on 127.0.0.1, and collectors that are
//! down, silent or failing, which change nothing a device decides, installs or schedules.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use e2e_tests::{
    apply, assert_current_complete, closed_port, policy_for, publish_policy, scene, DemoRepo,
    Device, RecordingCollector, Scene, StaticServer,
};
use serde_json::Value;
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

/// A collector that is down, or slow, or failing, as a test sets it up.
enum Away {
    /// Its port is closed.
    Down(u16),
    /// It takes the connection and never answers; at each connection it notes what the
    /// device ran at that moment.
    Silent(SilentCollector),
    /// It answers 500 to everything.
    Failing(RecordingCollector),
}

impl Away {
    fn url(&self) -> String {
        match self {
            Away::Down(port) => format!("http://127.0.0.1:{port}/reports"),
            Away::Silent(c) => c.url.clone(),
            Away::Failing(c) => c.url(),
        }
    }
}

/// A listener that accepts and never answers, keeping each connection open.
struct SilentCollector {
    url: String,
    /// What `install/current` pointed at when each connection came in.
    seen: Arc<Mutex<Vec<Option<PathBuf>>>>,
}

impl SilentCollector {
    fn start(install: PathBuf) -> SilentCollector {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/reports", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let noted = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut open = Vec::new();
            for stream in listener.incoming().flatten() {
                noted
                    .lock()
                    .unwrap()
                    .push(std::fs::read_link(install.join("current")).ok());
                open.push(stream);
            }
        });
        SilentCollector { url, seen }
    }
}

/// What a device decided and did in one check at `now`: `plan --json`, `apply`'s exit and
/// output, `status --json` (its last and next check included) and the release it runs.
fn one_check(device: &Device, config: &Path, now: UtcTime) -> (Value, Option<i32>, String, Value) {
    let at = format!("--now={now}");
    let run = |args: &[&str]| {
        let mut all = vec!["--config", config.to_str().unwrap()];
        all.extend_from_slice(args);
        device.updater(&all)
    };
    let plan = serde_json::from_str(run(&["plan", "--json", &at]).ok().stdout.trim()).unwrap();
    let applied = run(&["apply", &at]);
    let status = serde_json::from_str(run(&["status", "--json"]).ok().stdout.trim()).unwrap();
    (plan, applied.code, applied.stdout, status)
}

/// A collector that is down, silent or answering 500 never changes what or when a device
/// installs: through an install, a wait for a wave and the install it waited for, each
/// device decides, prints, installs and schedules its next check exactly as a device with
/// no `[report]` section; the events wait in its outbox, and the install was complete
/// before the device first spoke to the collector.
#[test]
fn a_collector_down_slow_or_failing_changes_nothing_a_device_does() {
    let repo = DemoRepo::with_policy(&policy_for("1.0.0", ""));
    let server = StaticServer::start(&repo.public());
    let id = "02:00:00:00:00:01";
    let plain = Device::trusting(&repo.root_json());
    let plain_config = plain.configure(id, &server.url(), None, "");
    let devices: Vec<Device> = (0..3)
        .map(|_| Device::trusting(&repo.root_json()))
        .collect();
    let collectors = [
        Away::Down(closed_port()),
        Away::Silent(SilentCollector::start(devices[1].install_dir())),
        Away::Failing(RecordingCollector::start(500)),
    ];
    let configs: Vec<PathBuf> = devices
        .iter()
        .zip(&collectors)
        .map(|(d, c)| {
            let toml = format!("\n[report]\nurls = [\"{}\"]\n", c.url());
            d.configure(id, &server.url(), None, &toml)
        })
        .collect();

    // In the future of the wall clock: reports are sent within the time left before the
    // next check, so the collectors are really asked.
    let t0 = UtcTime::from_unix(UtcTime::now().unix() / 60 * 60 + 3600).unwrap();
    let wave = t0.plus_seconds(1800);
    // No check jitter: the next check is then a function of the decision alone, and so
    // comparable between devices.
    let steps = [
        (t0, None),
        (
            t0.plus_seconds(600),
            Some(format!(
                "<policy>\n  <check every=\"6h\"/>\n  <channel name=\"stable\">\n    <target release=\"2.0.0\"><wave start=\"{wave}\" percent=\"100\"/></target>\n  </channel>\n</policy>\n"
            )),
        ),
        (wave, None),
    ];
    let mut actions = Vec::new();
    for (now, policy) in steps {
        if let Some(policy) = policy {
            publish_policy(&repo, &policy);
        }
        let without = one_check(&plain, &plain_config, now);
        // The three side by side: a silent collector holds each for its timeout.
        let with: Vec<_> = std::thread::scope(|scope| {
            let runs: Vec<_> = devices
                .iter()
                .zip(&configs)
                .map(|(d, c)| scope.spawn(move || one_check(d, c, now)))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        for ((with, device), collector) in with.iter().zip(&devices).zip(&collectors) {
            assert_eq!(with, &without, "{} at {now}", collector.url());
            assert_eq!(device.running(), plain.running());
        }
        actions.push(without.0["action"].as_str().unwrap().to_owned());
    }
    assert_eq!(actions, ["install", "wait", "install"]);
    assert_eq!(assert_current_complete(&plain), "2.0.0");
    for device in &devices {
        assert_eq!(assert_current_complete(device), "2.0.0");
        // Nothing was delivered: every event waits (three checks, two installs).
        assert!(outbox_files(&device.tmp.path().join("outbox")) >= 3 * 2 + 2 * 5);
    }
    assert!(!plain.tmp.path().join("outbox").exists());

    // Each collector was asked, and only after the install it would have heard of.
    let Away::Silent(silent) = &collectors[1] else {
        unreachable!()
    };
    let seen = silent.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3, "one connection a check");
    for (at, release) in seen.iter().zip(["1.0.0", "1.0.0", "2.0.0"]) {
        assert_eq!(
            at.as_deref(),
            Some(Path::new(&format!("releases/{release}")))
        );
    }
    let Away::Failing(failing) = &collectors[2] else {
        unreachable!()
    };
    let bodies = failing.bodies();
    assert_eq!(bodies.len(), 3);
    let first = verify(&bodies[0], MAX).unwrap();
    assert_eq!(
        kinds(&first),
        ["checked", "downloading", "installed", "inventory"]
    );
}
