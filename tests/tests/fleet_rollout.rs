//! Issue 14, acceptance 1: 50 real `updater` devices, one served repository, one `fleet
//! serve` (SQLite) on 127.0.0.1. They install 1.0.0, then go through a two-wave rollout of
//! 2.0.0 in which one device fails its health check (and rolls back by itself), one gets a
//! corrupt artifact from its mirror (and fails), and one is rolled back by hand. After each
//! phase the collector's `fleet summary --json` (in all and per wave), `fleet devices
//! --json` and `fleet failures --json` must equal what the devices themselves say they did
//! (`plan --json` before each check, `apply`'s exit, `status --json` after), exactly.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use e2e_tests::{fleet, DemoRepo, Device, FleetServer, Run, StaticServer};
use serde_json::{json, Value};
use updater::datetime::UtcTime;
use updater::rollout::decide::{bucket, eligible_at};
use updater::rollout::policy::{Release, Wave};

const DEVICES: usize = 50;
/// Devices driven at once (the machine has 2 cores; each run is mostly waiting on I/O).
const THREADS: usize = 6;
/// The first wave's share, in percent.
const FIRST_WAVE: u32 = 30;

/// One simulated device: its folders, its config, its id.
struct Sim {
    id: String,
    device: Device,
    config: PathBuf,
}

impl Sim {
    fn updater(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.device.updater(&all)
    }

    fn json(&self, args: &[&str]) -> Value {
        let run = self.updater(args).ok();
        serde_json::from_str(run.stdout.trim()).unwrap()
    }

    /// `apply`, whose reports must have reached the collector.
    fn apply(&self, now: Option<UtcTime>) -> Run {
        let now = now.map(|t| format!("--now={t}"));
        let mut args = vec!["apply"];
        args.extend(now.as_deref());
        let run = self.updater(&args);
        assert!(
            !run.stderr.contains("reports not sent") && !run.stderr.contains("not recorded"),
            "{}: {run:#?}",
            self.id
        );
        run
    }
}

/// What a device did with 2.0.0, as its own outputs tell it.
#[derive(Clone, Debug, PartialEq)]
struct Known {
    state: &'static str,
    wave: Option<u64>,
}

/// `f` on every device (with its index), at most [`THREADS`] at once; the results in the devices' order.
fn each<T: Send>(sims: &[Sim], f: impl Fn(usize, &Sim) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, T)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        let Some(sim) = sims.get(i) else {
                            return done;
                        };
                        done.push((i, f(i, sim)));
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, t)| t).collect()
}

/// One check at `now`: the decision `plan --json` announces, the `apply` that follows, and
/// the device's `status --json` after it; folded into what it did with 2.0.0 so far.
fn check(sim: &Sim, now: UtcTime, before: Option<Known>) -> (Option<Known>, Value) {
    let plan = sim.json(&["plan", "--json", &format!("--now={now}")]);
    let applied = sim.apply(Some(now));
    let status = sim.json(&["status", "--json"]);
    let wave = plan["wave"].as_u64();
    let known = match plan["action"].as_str().unwrap() {
        "stay" => before,
        "wait" => {
            assert_eq!(applied.code, Some(0), "{applied:#?}");
            Some(Known {
                state: "waiting",
                wave,
            })
        }
        "install" => {
            let state = if status["running"] == "2.0.0" {
                assert_eq!(applied.code, Some(0), "{applied:#?}");
                "installed"
            } else if status["failed"]["release"] == "2.0.0" {
                // Its trial failed: it runs what it ran before and will not retry.
                assert_eq!(status["running"], "1.0.0");
                "rolled_back"
            } else {
                assert_ne!(applied.code, Some(0), "{applied:#?}");
                assert_eq!(status["running"], "1.0.0");
                "failed"
            };
            Some(Known { state, wave })
        }
        other => panic!("unknown action {other}"),
    };
    (known, status)
}

/// The summary's counts for `known` devices, as `fleet summary --json` words them. Every
/// device has just reported, so none is silent.
fn counts<'a>(known: impl Iterator<Item = &'a Known>) -> Value {
    let mut c: BTreeMap<&str, u64> = [
        "devices",
        "waiting",
        "eligible",
        "downloading",
        "installed",
        "failed",
        "rolled_back",
        "silent",
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect();
    for k in known {
        *c.get_mut("devices").unwrap() += 1;
        *c.get_mut(k.state).unwrap() += 1;
    }
    json!(c)
}

/// Asserts that the collector's picture of 2.0.0 equals what the devices did and run.
fn assert_collector(db: &str, sims: &[Sim], known: &[Option<Known>], status: &[Value]) {
    let summary: Value = serde_json::from_str(
        &fleet(&["summary", "--db", db, "2.0.0", "--json"])
            .ok()
            .stdout,
    )
    .unwrap();
    let all: Vec<&Known> = known.iter().flatten().collect();
    let mut waves: BTreeMap<String, Vec<&Known>> = BTreeMap::new();
    for k in &all {
        let wave = k.wave.map_or("none".to_owned(), |w| w.to_string());
        waves.entry(wave).or_default().push(k);
    }
    let waves: serde_json::Map<String, Value> = waves
        .into_iter()
        .map(|(w, ks)| (w, counts(ks.into_iter())))
        .collect();
    let not_running = status.iter().filter(|s| s["running"] != "2.0.0").count();
    assert_eq!(
        (
            &summary["total"],
            &summary["waves"],
            &summary["not_running"]
        ),
        (
            &counts(all.into_iter()),
            &Value::Object(waves),
            &json!(not_running)
        ),
        "{summary:#}"
    );

    // Every device, and what it runs.
    let listed = |filter: &[&str]| -> BTreeMap<String, Value> {
        let mut args = vec!["devices", "--db", db, "--json"];
        args.extend_from_slice(filter);
        let out: Value = serde_json::from_str(&fleet(&args).ok().stdout).unwrap();
        out["devices"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                (
                    d["device"].as_str().unwrap().to_owned(),
                    d["running"].clone(),
                )
            })
            .collect()
    };
    let running: BTreeMap<String, Value> = sims
        .iter()
        .zip(status)
        .map(|(sim, s)| (sim.id.clone(), s["running"].clone()))
        .collect();
    assert_eq!(listed(&[]), running);
    let on = |yes: bool| -> BTreeMap<String, Value> {
        running
            .iter()
            .filter(|(_, r)| (*r == "2.0.0") == yes)
            .map(|(d, r)| (d.clone(), r.clone()))
            .collect()
    };
    assert_eq!(listed(&["--running", "2.0.0"]), on(true));
    assert_eq!(listed(&["--not-running", "2.0.0"]), on(false));

    // The failures: who failed or rolled back 2.0.0.
    let out: Value = serde_json::from_str(
        &fleet(&["failures", "--db", db, "--release", "2.0.0", "--json"])
            .ok()
            .stdout,
    )
    .unwrap();
    let failures: BTreeMap<String, String> = out["failures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["device"].as_str().unwrap().to_owned(),
                f["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = sims
        .iter()
        .zip(known)
        .filter_map(|(sim, k)| {
            k.as_ref()
                .filter(|k| matches!(k.state, "failed" | "rolled_back"))
                .map(|k| (sim.id.clone(), k.state.to_owned()))
        })
        .collect();
    assert_eq!(failures, expected);
}

/// A copy of the served repository whose 2.0.0 artifacts are corrupt (a mirror gone bad):
/// the signed metadata and the policy are intact, every 2.0.0 file fails its hashes.
fn corrupt_mirror(repo: &DemoRepo, into: &Path) -> PathBuf {
    let copy = into.join("corrupt");
    let status = std::process::Command::new("cp")
        .arg("-r")
        .arg(repo.public())
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    // Every stored copy (one per hash the repository names files by).
    let mut corrupted = 0;
    let mut folders = vec![copy.join("targets")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap().flatten() {
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                folders.push(path);
            } else if path.to_str().unwrap().contains("/2.0.0/") {
                let mut bytes = std::fs::read(&path).unwrap();
                bytes[0] ^= 0xff;
                std::fs::write(&path, bytes).unwrap();
                corrupted += 1;
            }
        }
    }
    assert!(corrupted > 0);
    copy
}

#[test]
fn fifty_devices_through_a_two_wave_rollout_as_the_collector_sees_it() {
    let started = std::time::Instant::now();
    let work = tempfile::tempdir().unwrap();
    let one = r#"<policy>
  <channel name="stable">
    <target release="1.0.0"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
"#;
    let repo = DemoRepo::with_policy(one);
    let server = StaticServer::start(&repo.public());
    let db = work.path().join("fleet.db").display().to_string();

    // The waves start in the device's future: `apply --now` moves the decision's clock, and
    // the reports are sent within the time left before the device's next wake-up (on the
    // wall clock), so a `--now` in the past would leave them unsent.
    let t1 = UtcTime::from_unix(UtcTime::now().unix() / 60 * 60 + 3600).unwrap();
    let t2 = t1.plus_seconds(7200);
    let waves = [
        Wave {
            start: t1,
            share: FIRST_WAVE * 100,
        },
        Wave {
            start: t2,
            share: 10_000,
        },
    ];
    let two = Release::new("2.0.0").unwrap();
    let ids: Vec<String> = (0..DEVICES)
        .map(|i| format!("02:00:00:00:01:{i:02x}"))
        .collect();
    // The split the policy makes, from the bucket rule: wave 1 takes buckets below 30%.
    let planned: Vec<usize> = ids
        .iter()
        .map(|id| eligible_at(&waves, bucket("stable", &two, id)).unwrap().1)
        .collect();
    let first: Vec<usize> = (0..DEVICES).filter(|&i| planned[i] == 1).collect();
    let second: Vec<usize> = (0..DEVICES).filter(|&i| planned[i] == 2).collect();
    assert!(first.len() >= 2 && second.len() >= 3, "{planned:?}");
    // Who fails how: its health check (wave 1), a corrupt artifact (wave 2), a rollback by
    // hand after installing (wave 2).
    let (unhealthy, corrupted, by_hand) = (first[0], second[0], second[1]);

    let collector = FleetServer::start(&db, &[]);
    let report = format!("\n[report]\nurls = [\"{}\"]\n", collector.reports_url());
    let health =
        "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \"grep -q 1.0.0 current/app.bin\"]\n\
                  timeout = \"5s\"\n";
    let sims: Vec<Sim> = ids
        .iter()
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
        .collect();
    let keys = each(&sims, |_, sim| {
        sim.device
            .updater(&["init".as_ref(), repo.root_json().as_os_str()])
            .ok();
        let mut key = sim.json(&["keygen", "--json"]);
        key["device"] = json!(sim.id);
        key.to_string()
    });
    // Enrolled from one file of what `updater keygen --json` printed, with each device's id.
    let enrol_file = work.path().join("devices.jsonl");
    std::fs::write(&enrol_file, keys.join("\n")).unwrap();
    let enrolled = fleet(&[
        "enroll",
        "--db",
        &db,
        "--file",
        enrol_file.to_str().unwrap(),
        "--json",
    ])
    .ok();
    assert!(
        enrolled.stdout.contains(&format!("\"enrolled\":{DEVICES}")),
        "{enrolled:#?}"
    );

    // Phase 0: every device installs 1.0.0.
    let installed = each(&sims, |_, sim| {
        sim.apply(None).ok();
        sim.json(&["status", "--json"])
    });
    assert!(installed.iter().all(|s| s["running"] == "1.0.0"));
    let one: Value = serde_json::from_str(
        &fleet(&["summary", "--db", &db, "1.0.0", "--json"])
            .ok()
            .stdout,
    )
    .unwrap();
    assert_eq!(one["total"]["installed"], json!(DEVICES), "{one:#}");
    assert_eq!(one["total"]["devices"], json!(DEVICES), "{one:#}");

    // 2.0.0 in two waves: 30% at t1, ramping to everyone at t2.
    let policy = format!(
        r#"<policy>
  <channel name="stable">
    <target release="2.0.0">
      <wave start="{t1}" percent="{FIRST_WAVE}"/>
      <wave start="{t2}" percent="100"/>
    </target>
  </channel>
</policy>
"#
    );
    e2e_tests::publish_policy(&repo, &policy);
    let mut known: Vec<Option<Known>> = vec![None; DEVICES];

    // Phase 1, at t1: the first wave installs (one fails its health check), the rest wait.
    let phase = |known: &[Option<Known>], now: UtcTime| -> (Vec<Option<Known>>, Vec<Value>) {
        each(&sims, |i, sim| check(sim, now, known[i].clone()))
            .into_iter()
            .unzip()
    };
    let (after, status) = phase(&known, t1);
    known = after;
    for (i, k) in known.iter().enumerate() {
        let k = k.as_ref().unwrap();
        // The devices decided as the bucket rule says.
        assert_eq!(k.wave, Some(planned[i] as u64), "{}", ids[i]);
    }
    assert_eq!(known[unhealthy].as_ref().unwrap().state, "rolled_back");
    assert_collector(&db, &sims, &known, &status);

    // Phase 2, at t2: everyone is eligible; one device's mirror serves a corrupt 2.0.0.
    let bad = corrupt_mirror(&repo, work.path());
    let bad_server = StaticServer::start(&bad);
    let good_config = std::fs::read_to_string(&sims[corrupted].config).unwrap();
    let targets = format!("targets = [\"{}/targets\"]", server.url());
    assert!(good_config.contains(&targets));
    std::fs::write(
        &sims[corrupted].config,
        good_config.replace(
            &targets,
            &format!("targets = [\"{}/targets\"]", bad_server.url()),
        ),
    )
    .unwrap();
    let (after, status) = phase(&known, t2);
    known = after;
    assert_eq!(known[corrupted].as_ref().unwrap().state, "failed");
    assert_collector(&db, &sims, &known, &status);

    // Phase 3: one device is rolled back by hand; the one whose mirror was bad gets a good
    // one again and installs (a new attempt after a failure).
    let mut status = status;
    let run = sims[by_hand].updater(&["rollback"]).ok();
    assert!(run.stdout.contains("now running 1.0.0"), "{run:#?}");
    assert!(!run.stderr.contains("reports not sent"), "{run:#?}");
    status[by_hand] = sims[by_hand].json(&["status", "--json"]);
    assert_eq!(status[by_hand]["running"], "1.0.0");
    known[by_hand].as_mut().unwrap().state = "rolled_back";
    std::fs::write(&sims[corrupted].config, good_config).unwrap();
    let (k, s) = check(&sims[corrupted], t2, known[corrupted].clone());
    known[corrupted] = k;
    status[corrupted] = s;
    assert_eq!(known[corrupted].as_ref().unwrap().state, "installed");
    assert_collector(&db, &sims, &known, &status);

    let tally = counts(known.iter().flatten());
    eprintln!(
        "fleet_rollout: {DEVICES} devices, wave 1: {}, wave 2: {}, final {tally}, in {:.1?}",
        first.len(),
        second.len(),
        started.elapsed()
    );
}
