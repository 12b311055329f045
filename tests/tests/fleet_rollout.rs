//! Issue 14, acceptance 1: 50 real `updater` devices, one served repository, one `fleet
//! serve` (SQLite) on 127.0.0.1. They install 1.0.0, then go through a two-wave rollout of
//! 2.0.0 in which one device fails its health check (and rolls back by itself), one gets a
//! corrupt artifact from its mirror (and fails), and one is rolled back by hand. After each
//! phase the collector's `fleet summary --json` (in all and per wave), `fleet devices
//! --json` and `fleet failures --json` must equal what the devices themselves say they did
//! (`plan --json` before each check, `apply`'s exit, `status --json` after), exactly.

use std::path::PathBuf;

use e2e_tests::{
    assert_collector, check, corrupt_mirror, counts, each, fleet, two_wave_policy, DemoRepo,
    Device, FleetServer, Known, Sim, StaticServer,
};
use serde_json::{json, Value};
use tempfile::TempDir;
use updater::datetime::UtcTime;
use updater::rollout::decide::{bucket, eligible_at};
use updater::rollout::policy::{Release, Wave};

const DEVICES: usize = 50;
/// The first wave's share, in percent.
const FIRST_WAVE: u32 = 30;

/// What the devices install first: 1.0.0, to everyone.
const ONE: &str = r#"<policy>
  <channel name="stable">
    <target release="1.0.0"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
"#;

/// The policy's waves for 2.0.0: [`FIRST_WAVE`] % at t1, ramping to everyone at t2.
fn two_waves() -> [Wave; 2] {
    // The waves start in the device's future: `apply --now` moves the decision's clock, and
    // the reports are sent within the time left before the device's next wake-up (on the
    // wall clock), so a `--now` in the past would leave them unsent.
    let t1 = UtcTime::from_unix(UtcTime::now().unix() / 60 * 60 + 3600).unwrap();
    let t2 = t1.plus_seconds(7200);
    [
        Wave {
            start: t1,
            share: FIRST_WAVE * 100,
        },
        Wave {
            start: t2,
            share: 10_000,
        },
    ]
}

/// The devices that `planned` puts in `wave`.
fn in_wave(planned: &[usize], wave: usize) -> Vec<usize> {
    (0..DEVICES).filter(|&i| planned[i] == wave).collect()
}

/// The served repository, the collector, the devices and who fails how.
struct Scene {
    sims: Vec<Sim>,
    _collector: FleetServer,
    /// Each device's wave, from the bucket rule.
    planned: Vec<usize>,
    first: Vec<usize>,
    second: Vec<usize>,
    /// Fails its health check (wave 1).
    unhealthy: usize,
    /// Gets a corrupt artifact from its mirror (wave 2).
    corrupted: usize,
    /// Rolled back by hand after installing (wave 2).
    by_hand: usize,
    waves: [Wave; 2],
    db: String,
    server: StaticServer,
    repo: DemoRepo,
    work: TempDir,
}

impl Scene {
    fn new() -> Scene {
        let work = tempfile::tempdir().unwrap();
        let repo = DemoRepo::with_policy(ONE);
        let server = StaticServer::start(&repo.public());
        let db = work.path().join("fleet.db").display().to_string();
        let waves = two_waves();
        let two = Release::new("2.0.0").unwrap();
        let ids: Vec<String> = (0..DEVICES)
            .map(|i| format!("02:00:00:00:01:{i:02x}"))
            .collect();
        // The split the policy makes, from the bucket rule: wave 1 takes buckets below 30%.
        let planned: Vec<usize> = ids
            .iter()
            .map(|id| eligible_at(&waves, bucket("stable", &two, id)).unwrap().1)
            .collect();
        let (first, second) = (in_wave(&planned, 1), in_wave(&planned, 2));
        assert!(first.len() >= 2 && second.len() >= 3, "{planned:?}");
        let (unhealthy, corrupted, by_hand) = (first[0], second[0], second[1]);
        let collector = FleetServer::start(&db, &[]);
        let sims = Scene::devices(&ids, &server, &collector, unhealthy);
        Scene {
            sims,
            _collector: collector,
            planned,
            first,
            second,
            unhealthy,
            corrupted,
            by_hand,
            waves,
            db,
            server,
            repo,
            work,
        }
    }

    /// One configured device per id, reporting to `collector`; `unhealthy`'s health check
    /// fails on anything but 1.0.0.
    fn devices(
        ids: &[String],
        server: &StaticServer,
        collector: &FleetServer,
        unhealthy: usize,
    ) -> Vec<Sim> {
        let report = format!("\n[report]\nurls = [\"{}\"]\n", collector.reports_url());
        let health =
            "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \"grep -q 1.0.0 current/app.bin\"]\n\
                  timeout = \"5s\"\n";
        ids.iter()
            .enumerate()
            .map(|(i, id)| {
                let device = Device::new();
                let extra = format!("{}{report}", if i == unhealthy { health } else { "" });
                let config = device.configure(id, &server.url(), None, &extra);
                Sim {
                    id: id.clone(),
                    device,
                    config,
                }
            })
            .collect()
    }

    /// Every device trusts the root and makes its key; all are enrolled from one file of
    /// what `updater keygen --json` printed, with each device's id.
    fn enroll(&self) {
        let keys = each(&self.sims, |_, sim| {
            sim.device
                .updater(&["init".as_ref(), self.repo.root_json().as_os_str()])
                .ok();
            let mut key = sim.json(&["keygen", "--json"]);
            key["device"] = json!(sim.id);
            key.to_string()
        });
        let enrol_file = self.work.path().join("devices.jsonl");
        std::fs::write(&enrol_file, keys.join("\n")).unwrap();
        let enrolled = fleet(&[
            "enroll",
            "--db",
            &self.db,
            "--file",
            enrol_file.to_str().unwrap(),
            "--json",
        ])
        .ok();
        assert!(
            enrolled.stdout.contains(&format!("\"enrolled\":{DEVICES}")),
            "{enrolled:#?}"
        );
    }

    /// Phase 0: every device installs 1.0.0, and the collector counts them all.
    fn install_one(&self) {
        let installed = each(&self.sims, |_, sim| {
            sim.apply(None).ok();
            sim.json(&["status", "--json"])
        });
        assert!(installed.iter().all(|s| s["running"] == "1.0.0"));
        let one: Value = serde_json::from_str(
            &fleet(&["summary", "--db", &self.db, "1.0.0", "--json"])
                .ok()
                .stdout,
        )
        .unwrap();
        assert_eq!(one["total"]["installed"], json!(DEVICES), "{one:#}");
        assert_eq!(one["total"]["devices"], json!(DEVICES), "{one:#}");
    }

    /// 2.0.0 in two waves: 30% at t1, ramping to everyone at t2.
    fn publish_two(&self) {
        let (t1, t2) = (self.waves[0].start, self.waves[1].start);
        let policy = two_wave_policy(&t1.to_string(), FIRST_WAVE, &t2.to_string());
        e2e_tests::publish_policy(&self.repo, &policy);
    }

    /// Every device checks at `now`.
    fn phase(&self, known: &[Option<Known>], now: UtcTime) -> (Vec<Option<Known>>, Vec<Value>) {
        each(&self.sims, |i, sim| check(sim, now, known[i].clone()))
            .into_iter()
            .unzip()
    }

    /// Phase 1, at t1: the first wave installs (one fails its health check), the rest wait.
    fn first_wave(&self, known: &[Option<Known>]) -> (Vec<Option<Known>>, Vec<Value>) {
        let (known, status) = self.phase(known, self.waves[0].start);
        for (i, k) in known.iter().enumerate() {
            let k = k.as_ref().unwrap();
            // The devices decided as the bucket rule says.
            assert_eq!(k.wave, Some(self.planned[i] as u64), "{}", self.sims[i].id);
        }
        assert_eq!(known[self.unhealthy].as_ref().unwrap().state, "rolled_back");
        assert_collector(&self.db, &self.sims, &known, &status);
        (known, status)
    }

    /// Points the `corrupted` device at a mirror whose 2.0.0 is corrupt; the mirror's
    /// server, and the device's good config to put back.
    fn break_mirror(&self) -> (StaticServer, String) {
        let bad = corrupt_mirror(&self.repo, self.work.path());
        let bad_server = StaticServer::start(&bad);
        let config: &PathBuf = &self.sims[self.corrupted].config;
        let good_config = std::fs::read_to_string(config).unwrap();
        let targets = format!("targets = [\"{}/targets\"]", self.server.url());
        assert!(good_config.contains(&targets));
        std::fs::write(
            config,
            good_config.replace(
                &targets,
                &format!("targets = [\"{}/targets\"]", bad_server.url()),
            ),
        )
        .unwrap();
        (bad_server, good_config)
    }

    /// Phase 2, at t2: everyone is eligible; one device's mirror serves a corrupt 2.0.0.
    fn second_wave(&self, known: &[Option<Known>]) -> (Vec<Option<Known>>, Vec<Value>) {
        let (known, status) = self.phase(known, self.waves[1].start);
        assert_eq!(known[self.corrupted].as_ref().unwrap().state, "failed");
        assert_collector(&self.db, &self.sims, &known, &status);
        (known, status)
    }

    /// Phase 3: one device is rolled back by hand; the one whose mirror was bad gets a good
    /// one again and installs (a new attempt after a failure).
    fn aftermath(&self, known: &mut [Option<Known>], status: &mut [Value], good_config: String) {
        let by_hand = &self.sims[self.by_hand];
        let run = by_hand.updater(&["rollback"]).ok();
        assert!(run.stdout.contains("now running 1.0.0"), "{run:#?}");
        assert!(!run.stderr.contains("reports not sent"), "{run:#?}");
        status[self.by_hand] = by_hand.json(&["status", "--json"]);
        assert_eq!(status[self.by_hand]["running"], "1.0.0");
        known[self.by_hand].as_mut().unwrap().state = "rolled_back";
        let corrupted = &self.sims[self.corrupted];
        std::fs::write(&corrupted.config, good_config).unwrap();
        let now = self.waves[1].start;
        let (k, s) = check(corrupted, now, known[self.corrupted].clone());
        known[self.corrupted] = k;
        status[self.corrupted] = s;
        assert_eq!(known[self.corrupted].as_ref().unwrap().state, "installed");
        assert_collector(&self.db, &self.sims, known, status);
    }
}

#[test]
fn fifty_devices_through_a_two_wave_rollout_as_the_collector_sees_it() {
    let started = std::time::Instant::now();
    let scene = Scene::new();
    scene.enroll();
    scene.install_one();
    scene.publish_two();
    let (known, _) = scene.first_wave(&vec![None; DEVICES]);
    let (_bad_server, good_config) = scene.break_mirror();
    let (mut known, mut status) = scene.second_wave(&known);
    scene.aftermath(&mut known, &mut status, good_config);

    let tally = counts(known.iter().flatten());
    eprintln!(
        "fleet_rollout: {DEVICES} devices, wave 1: {}, wave 2: {}, final {tally}, in {:.1?}",
        scene.first.len(),
        scene.second.len(),
        started.elapsed()
    );
}
