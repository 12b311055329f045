//! Collectors that are down, silent or failing change nothing a device decides, installs or
//! schedules: the same checks with each of them and with no `[report]` section at all.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use e2e_tests::{
    assert_current_complete, backoff_passed, closed_port, event_kinds, outbox_files, policy_for,
    publish_policy, verify_carried, DemoRepo, Device, RecordingCollector, StaticServer,
};
use serde_json::Value;
use updater::datetime::UtcTime;

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
    // Each check may send: as if the backoff after the last failed send had passed.
    backoff_passed(&device.tmp.path().join("outbox"));
    let applied = run(&["apply", &at]);
    let status = serde_json::from_str(run(&["status", "--json"]).ok().stdout.trim()).unwrap();
    (plan, applied.code, applied.stdout, status)
}

/// The device id every device here uses.
const ID: &str = "02:00:00:00:00:01";

/// One device with no `[report]` section, and three reporting to a collector that is away.
struct AwayScene {
    configs: Vec<PathBuf>,
    collectors: [Away; 3],
    devices: Vec<Device>,
    plain_config: PathBuf,
    plain: Device,
    _server: StaticServer,
    repo: DemoRepo,
}

impl AwayScene {
    fn new() -> AwayScene {
        let repo = DemoRepo::with_policy(&policy_for("1.0.0", ""));
        let server = StaticServer::start(&repo.public());
        let plain = Device::trusting(&repo.root_json());
        let plain_config = plain.configure(ID, &server.url(), None, "");
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
                d.configure(ID, &server.url(), None, &toml)
            })
            .collect();
        AwayScene {
            configs,
            collectors,
            devices,
            plain_config,
            plain,
            _server: server,
            repo,
        }
    }

    /// One check at `now` by every device: the three with a collector away decide, print,
    /// install and schedule exactly as the plain one. Its action.
    fn check_all(&self, now: UtcTime) -> String {
        let without = one_check(&self.plain, &self.plain_config, now);
        // The three side by side: a silent collector holds each for its timeout.
        let with: Vec<_> = std::thread::scope(|scope| {
            let runs: Vec<_> = self
                .devices
                .iter()
                .zip(&self.configs)
                .map(|(d, c)| scope.spawn(move || one_check(d, c, now)))
                .collect();
            runs.into_iter().map(|r| r.join().unwrap()).collect()
        });
        let devices = with.iter().zip(&self.devices).zip(&self.collectors);
        for ((with, device), collector) in devices {
            assert_eq!(with, &without, "{} at {now}", collector.url());
            assert_eq!(device.running(), self.plain.running());
        }
        without.0["action"].as_str().unwrap().to_owned()
    }

    /// Every device runs a complete 2.0.0; the reporting ones keep every event in their
    /// outbox, the plain one has none.
    fn assert_installed_and_kept(&self) {
        assert_eq!(assert_current_complete(&self.plain), "2.0.0");
        for device in &self.devices {
            assert_eq!(assert_current_complete(device), "2.0.0");
            // Nothing was delivered: every event waits (three checks, two installs).
            assert!(outbox_files(&device.tmp.path().join("outbox")) >= 3 * 2 + 2 * 5);
        }
        assert!(!self.plain.tmp.path().join("outbox").exists());
    }

    /// Each collector was asked, and only after the install it would have heard of.
    fn assert_asked_after_install(&self) {
        let Away::Silent(silent) = &self.collectors[1] else {
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
        let Away::Failing(failing) = &self.collectors[2] else {
            unreachable!()
        };
        let bodies = failing.bodies();
        assert_eq!(bodies.len(), 3);
        let first = verify_carried(&bodies[0]).unwrap();
        assert_eq!(
            event_kinds(&first),
            ["checked", "downloading", "installed", "inventory"]
        );
    }
}

/// The checks, each at a time and with the policy published just before it (if any): an
/// install of 1.0.0, a wait for 2.0.0's wave, and its install once the wave starts.
fn steps() -> [(UtcTime, Option<String>); 3] {
    // In the future of the wall clock: reports are sent within the time left before the
    // next check, so the collectors are really asked.
    let t0 = UtcTime::from_unix(UtcTime::now().unix() / 60 * 60 + 3600).unwrap();
    let wave = t0.plus_seconds(1800);
    // No check jitter: the next check is then a function of the decision alone, and so
    // comparable between devices.
    [
        (t0, None),
        (
            t0.plus_seconds(600),
            Some(format!(
                "<policy>\n  <check every=\"6h\"/>\n  <channel name=\"stable\">\n    <target release=\"2.0.0\"><wave start=\"{wave}\" percent=\"100\"/></target>\n  </channel>\n</policy>\n"
            )),
        ),
        (wave, None),
    ]
}

/// A collector that is down, silent or answering 500 never changes what or when a device
/// installs: through an install, a wait for a wave and the install it waited for, each
/// device decides, prints, installs and schedules its next check exactly as a device with
/// no `[report]` section; the events wait in its outbox, and the install was complete
/// before the device first spoke to the collector.
#[test]
fn a_collector_down_slow_or_failing_changes_nothing_a_device_does() {
    let scene = AwayScene::new();
    let mut actions = Vec::new();
    for (now, policy) in steps() {
        if let Some(policy) = policy {
            publish_policy(&scene.repo, &policy);
        }
        actions.push(scene.check_all(now));
    }
    assert_eq!(actions, ["install", "wait", "install"]);
    scene.assert_installed_and_kept();
    scene.assert_asked_after_install();
}
