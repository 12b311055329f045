//! A fleet of real `updater` devices as the collector tests drive them: each device's
//! folders, config and id ([`Sim`]), what it did with 2.0.0 as its own outputs say
//! ([`Known`]), and the assertion that the collector's `fleet` answers equal exactly that.
//! The device's word is the reference: the collector's picture is compared with it, never
//! the other way round.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::{json, Value};
use updater::datetime::UtcTime;

use crate::{fleet, DemoRepo, Device, Run};

/// Devices driven at once (the machine has 2 cores; each run is mostly waiting on I/O).
const THREADS: usize = 6;

/// One simulated device: its folders, its config, its id.
pub struct Sim {
    pub id: String,
    pub device: Device,
    pub config: PathBuf,
}

impl Sim {
    pub fn updater(&self, args: &[&str]) -> Run {
        let mut all = vec!["--config", self.config.to_str().unwrap()];
        all.extend_from_slice(args);
        self.device.updater(&all)
    }

    pub fn json(&self, args: &[&str]) -> Value {
        let run = self.updater(args).ok();
        serde_json::from_str(run.stdout.trim()).unwrap()
    }

    /// `apply`, whose reports must have reached the collector.
    pub fn apply(&self, now: Option<UtcTime>) -> Run {
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
pub struct Known {
    pub state: &'static str,
    pub wave: Option<u64>,
}

/// `f` on every device (with its index), at most [`THREADS`] at once; the results in the devices' order.
pub fn each<T: Send>(sims: &[Sim], f: impl Fn(usize, &Sim) -> T + Sync) -> Vec<T> {
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
pub fn check(sim: &Sim, now: UtcTime, before: Option<Known>) -> (Option<Known>, Value) {
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
pub fn counts<'a>(known: impl Iterator<Item = &'a Known>) -> Value {
    let mut c: BTreeMap<&str, u64> = ::fleet::query::Counts::NAMES
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
pub fn assert_collector(db: &str, sims: &[Sim], known: &[Option<Known>], status: &[Value]) {
    assert_summary(db, known, status);
    assert_devices(db, sims, status);
    assert_failures(db, sims, known);
}

/// `fleet summary --json`: the counts in all and per wave, and how many do not run 2.0.0.
fn assert_summary(db: &str, known: &[Option<Known>], status: &[Value]) {
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
}

/// `fleet devices --json` (all, `--running 2.0.0`, `--not-running 2.0.0`): every device,
/// and what it runs.
fn assert_devices(db: &str, sims: &[Sim], status: &[Value]) {
    let running: BTreeMap<String, Value> = sims
        .iter()
        .zip(status)
        .map(|(sim, s)| (sim.id.clone(), s["running"].clone()))
        .collect();
    assert_eq!(listed(db, &[]), running);
    let on = |yes: bool| -> BTreeMap<String, Value> {
        running
            .iter()
            .filter(|(_, r)| (*r == "2.0.0") == yes)
            .map(|(d, r)| (d.clone(), r.clone()))
            .collect()
    };
    assert_eq!(listed(db, &["--running", "2.0.0"]), on(true));
    assert_eq!(listed(db, &["--not-running", "2.0.0"]), on(false));
}

/// What `fleet devices --json` with `filter` lists: each device and what it runs.
fn listed(db: &str, filter: &[&str]) -> BTreeMap<String, Value> {
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
}

/// `fleet failures --json`: who failed or rolled back 2.0.0.
fn assert_failures(db: &str, sims: &[Sim], known: &[Option<Known>]) {
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
pub fn corrupt_mirror(repo: &DemoRepo, into: &Path) -> PathBuf {
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
