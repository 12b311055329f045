//! The dashboard in a real browser: `fleet serve` (SQLite, a two-wave policy for 2.0.0)
//! takes signed reports from 20 enrolled devices over HTTP on 127.0.0.1, then Debian's
//! headless `chromium` opens the page. Every number the page shows is read from the DOM
//! chromium built and compared with what the CLI answers from the database, and with what
//! the devices did; device text that looks like markup stays text. The screenshot is
//! written to the test's folder (and to `$FLEET_SCREENSHOT_OUT` when set, which is how
//! docs/fleet-dashboard.png is made).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e_tests::{fleet, run_bounded, two_wave_policy, workspace_root, FleetServer};
use serde_json::Value;
use updater::conventions::Release;
use updater::datetime::UtcTime;
use updater::report::event::CheckAction;
use updater::report::{DeviceKey, Event, Record, SignedReport};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
const COLUMNS: [&str; 8] = fleet::query::Counts::NAMES;
const SCRIPT_REASON: &str = "<script>alert('pwned')</script> health check exited 3";

fn release(name: &str) -> Release {
    Release::new(name).unwrap()
}

/// The policy: wave 1 (30 %) three days ago, ramping to wave 2 (100 %) tomorrow.
fn policy(now: i64) -> String {
    let at = |t: i64| UtcTime::from_unix(t).unwrap().to_string();
    two_wave_policy(&at(now - 3 * DAY), 30, &at(now + DAY))
}

fn checked(action: CheckAction, wave: u64, eligible_at: i64) -> Event {
    Event::Checked {
        action,
        release: Some(release("2.0.0")),
        wave: Some(wave),
        bucket: Some(1000 * wave as u32),
        eligible_at: UtcTime::from_unix(eligible_at),
        reason: format!("wave {wave}"),
    }
}

fn inventory(running: &str, platform: &str) -> Event {
    Event::Inventory {
        running: Some(release(running)),
        platform: platform.to_owned(),
        channel: "stable".into(),
        groups: vec!["kiosks".to_owned()],
        free_bytes: Some(1 << 30),
        updater_version: "0.1.0".to_owned(),
    }
}

fn downloading(done: u64) -> Event {
    Event::Downloading {
        release: release("2.0.0"),
        done,
        total: 1000,
    }
}

fn installed() -> Event {
    Event::Installed {
        release: release("2.0.0"),
        from: Some(release("1.0.0")),
    }
}

/// What each device did, as (time, event) pairs: the mix of states the page must show.
/// Devices done with the rollout still send an inventory now and then (so are not silent).
fn story(n: usize, start: i64, now: i64) -> Vec<(i64, Event)> {
    let mut events = rollout(n, start, now);
    if (1..=12).contains(&n) {
        let running = if n == 5 || n == 6 { "1.0.0" } else { "2.0.0" };
        events.push((now - 2 * HOUR, inventory(running, "x86_64")));
    }
    events
}

/// Device `n`'s first inventory, an hour before the rollout starts: 1.0.0, on a platform
/// that alternates between devices.
fn first_inventory(n: usize, start: i64) -> (i64, Event) {
    let platform = if n.is_multiple_of(2) {
        "x86_64"
    } else {
        "armv7"
    };
    (start - HOUR, inventory("1.0.0", platform))
}

/// Device `n`'s part in the rollout of 2.0.0, by the state it must end in.
fn rollout(n: usize, start: i64, now: i64) -> Vec<(i64, Event)> {
    let wave1 = start + 2 * HOUR + n as i64 * 600;
    let wave2 = now - DAY + n as i64 * 1800;
    let inv = first_inventory(n, start);
    match n {
        // Wave 1: installed.
        1..=4 => vec![
            inv,
            (wave1, checked(CheckAction::Install, 1, start)),
            (wave1 + 60, downloading(0)),
            (wave1 + 120, downloading(1000)),
            (wave1 + 300, installed()),
        ],
        // Wave 1: the health check failed, with markup in its reason.
        5 => vec![
            inv,
            (wave1, checked(CheckAction::Install, 1, start)),
            (wave1 + 60, downloading(1000)),
            (
                wave1 + 300,
                Event::health_check_failed(&release("2.0.0"), SCRIPT_REASON),
            ),
        ],
        // Wave 1: failed, then rolled back to 1.0.0.
        6 => vec![
            inv,
            (wave1, checked(CheckAction::Install, 1, start)),
            (wave1 + 60, downloading(1000)),
            (
                wave1 + 300,
                Event::health_check_failed(&release("2.0.0"), "app.bin: health check timed out"),
            ),
            (
                wave1 + 400,
                Event::RolledBack {
                    release: release("2.0.0"),
                    to: Some(release("1.0.0")),
                },
            ),
        ],
        // Wave 2: installed.
        7..=12 => vec![
            inv,
            (wave2, checked(CheckAction::Install, 2, wave2 - HOUR)),
            (wave2 + 60, downloading(1000)),
            (wave2 + 300, installed()),
        ],
        // Wave 2: downloading now, and eligible.
        13 => vec![
            inv,
            (now - HOUR, checked(CheckAction::Install, 2, now - 2 * HOUR)),
            (now - HOUR + 60, downloading(400)),
        ],
        14 => vec![(now - HOUR, checked(CheckAction::Install, 2, now - 2 * HOUR))],
        // Wave 2: waiting for the ramp.
        15..=17 => vec![
            inv,
            (
                now - 2 * HOUR,
                checked(CheckAction::Wait, 2, now + 12 * HOUR),
            ),
        ],
        // Silent: waited in wave 1 and said nothing since, two days ago.
        18 => vec![(now - 2 * DAY, checked(CheckAction::Wait, 1, now + 6 * HOUR))],
        // Only an inventory: not in the rollout yet.
        19 => vec![(now - HOUR, inventory("1.0.0", "x86_64"))],
        // Device 20 never reports.
        _ => Vec::new(),
    }
}

fn device_id(n: usize) -> String {
    format!("kiosk-{n:02}")
}

/// The text of the element with `id` in the DOM chromium dumped.
fn text_of<'a>(dom: &'a str, id: &str) -> &'a str {
    let open = format!("id=\"{id}\"");
    let at = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no element #{id} on the page"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap();
    rest[start..start + end].trim()
}

fn number(dom: &str, id: &str) -> u64 {
    let text = text_of(dom, id);
    text.parse()
        .unwrap_or_else(|_| panic!("#{id} shows {text:?}, not a number"))
}

/// The markup of the element `<tag id="id">…</tag>` (no nesting of the same tag).
fn element<'a>(dom: &'a str, tag: &str, id: &str) -> &'a str {
    let open = format!("<{tag} id=\"{id}\"");
    let at = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag} id={id}> on the page"));
    let close = format!("</{tag}>");
    let end = dom[at..].find(&close).unwrap() + close.len();
    &dom[at..at + end]
}

fn json(run: e2e_tests::Run) -> Value {
    serde_json::from_str(run.ok().stdout.trim()).unwrap()
}

/// Runs Debian's chromium, headless, killed with its whole process group after 60 s
/// (`timeout` signals the group it leads; chromium can hang).
fn chromium(profile: &Path, args: &[&str]) -> e2e_tests::Run {
    let profile = format!("--user-data-dir={}", profile.display());
    run_bounded(
        Command::new("timeout")
            .args(["-s", "KILL", "60", "chromium", "--headless", "--no-sandbox"])
            .args(["--disable-gpu", "--no-first-run", "--hide-scrollbars"])
            .arg(profile)
            .args(args),
        Duration::from_secs(90),
    )
}

fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// Enrolls 20 devices, each with its own key, and serves the collector with the policy.
fn enrolled_fleet(tmp: &Path, db: &str, now: i64) -> (FleetServer, Vec<DeviceKey>) {
    let policy_file = tmp.join("policy.xml");
    std::fs::write(&policy_file, policy(now)).unwrap();
    let mut keys = Vec::new();
    for n in 1..=20 {
        let key = DeviceKey::generate().unwrap();
        fleet(&["enroll", "--db", db, &device_id(n), &key.public_hex()]).ok();
        keys.push(key);
    }
    let server = FleetServer::start(db, &["--policy", policy_file.to_str().unwrap()]);
    (server, keys)
}

/// Each device posts what it did: one signed report, its events numbered from 1.
fn post_reports(server: &FleetServer, keys: &[DeviceKey], now: i64) {
    for (i, key) in keys.iter().enumerate() {
        let events: Vec<Record> = story(i + 1, now - 3 * DAY, now)
            .into_iter()
            .enumerate()
            .map(|(seq, (at, event))| Record {
                seq: seq as u64 + 1,
                time: UtcTime::from_unix(at).unwrap(),
                event,
            })
            .collect();
        if events.is_empty() {
            continue;
        }
        let body = SignedReport::sign(key, &device_id(i + 1), events, 0)
            .unwrap()
            .to_bytes()
            .unwrap();
        let answer = ureq::post(&server.reports_url())
            .set("Content-Type", "application/json")
            .send_bytes(&body)
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
}

/// What the CLI answers from the database.
struct Answers {
    summary: Value,
    devices: Value,
    failures: Value,
    silent: Vec<String>,
}

impl Answers {
    fn ask(db: &str, now: i64) -> Answers {
        let silent_since = (now - DAY).to_string();
        let silent = json(fleet(&[
            "devices",
            "--db",
            db,
            "--silent-since",
            &silent_since,
            "--json",
        ]));
        Answers {
            summary: json(fleet(&["summary", "--db", db, "2.0.0", "--json"])),
            devices: json(fleet(&["devices", "--db", db, "--json"])),
            failures: json(fleet(&[
                "failures",
                "--db",
                db,
                "--release",
                "2.0.0",
                "--json",
            ])),
            silent: silent["devices"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["device"].as_str().unwrap().to_owned())
                .collect(),
        }
    }

    /// The answers match what the devices did.
    fn match_the_story(&self) {
        let total = &self.summary["total"];
        let expected = [18, 4, 1, 1, 10, 1, 1, 1];
        for (column, n) in COLUMNS.iter().zip(expected) {
            assert_eq!(total[column], n, "{column}: {:#}", self.summary);
        }
        assert_eq!(self.summary["waves"]["1"]["installed"], 4);
        assert_eq!(self.summary["waves"]["2"]["installed"], 6);
        assert_eq!(self.summary["not_running"], 10);
        assert_eq!(self.devices["devices"].as_array().unwrap().len(), 20);
        assert_eq!(self.failures["failures"].as_array().unwrap().len(), 2);
        assert_eq!(self.silent, ["kiosk-18", "kiosk-20"]);
    }

    /// Every number the page shows is the database's.
    fn match_numbers(&self, dom: &str) {
        let summary = &self.summary;
        assert_eq!(text_of(dom, "release"), "2.0.0");
        assert_eq!(number(dom, "not-running"), summary["not_running"]);
        assert_eq!(
            number(dom, "enrolled") as usize,
            self.devices["devices"].as_array().unwrap().len()
        );
        let waves = summary["waves"].as_object().unwrap();
        for column in COLUMNS {
            let id = format!("count-{column}");
            assert_eq!(number(dom, &id), summary["total"][column], "{id}");
            for (wave, counts) in waves {
                let id = format!("wave-{wave}-{column}");
                assert_eq!(number(dom, &id), counts[column], "{id}");
            }
        }
        // Exactly the waves the database knows.
        assert_eq!(
            dom.matches("id=\"wave-").count(),
            waves.len() * COLUMNS.len()
        );
    }

    /// Every failure, device and silent device is listed, device text as text.
    fn match_tables(&self, dom: &str) {
        let table = element(dom, "table", "failures");
        let failures = self.failures["failures"].as_array().unwrap();
        assert_eq!(table.matches("<tr").count(), failures.len() + 1);
        for f in failures {
            assert!(table.contains(f["device"].as_str().unwrap()), "{table}");
        }
        assert!(table.contains("&lt;script&gt;alert('pwned')&lt;/script&gt; health check exited 3"));
        let table = element(dom, "table", "devices");
        let devices = self.devices["devices"].as_array().unwrap();
        assert_eq!(table.matches("<tr").count(), devices.len() + 1);
        for d in devices {
            assert!(table.contains(&format!(">{}<", d["device"].as_str().unwrap())));
        }
        let list = element(dom, "ul", "silent");
        assert_eq!(list.matches("<li").count(), self.silent.len(), "{list}");
        for id in &self.silent {
            assert!(list.contains(id.as_str()), "{list}");
        }
    }
}

/// Takes the screenshot, checks it is a PNG of the window's size, copies it where
/// `$FLEET_SCREENSHOT_OUT` says (relative to the workspace).
fn screenshot(tmp: &Path, profile: &Path, url: &str) {
    let shot = tmp.join("fleet-dashboard.png");
    let run = chromium(
        profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,1400",
            url,
        ],
    );
    assert_eq!(run.code, Some(0), "{run:#?}");
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(png_size(&png), (1200, 1400));
    assert!(
        (20_000..2_000_000).contains(&png.len()),
        "{} bytes",
        png.len()
    );
    if let Some(out) = std::env::var_os("FLEET_SCREENSHOT_OUT") {
        let out = workspace_root().join(PathBuf::from(out));
        std::fs::copy(&shot, &out).unwrap();
        eprintln!("screenshot: {}", out.display());
    }
}

#[test]
fn the_dashboard_shows_in_chromium_what_the_database_holds() {
    assert!(
        Command::new("chromium").arg("--version").output().is_ok(),
        "chromium is missing: run scripts/install-deps.sh (it installs Debian's chromium)"
    );
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("fleet.db");
    let db = db.to_str().unwrap();
    let now = UtcTime::now().unix();
    let (server, keys) = enrolled_fleet(tmp.path(), db, now);
    post_reports(&server, &keys, now);
    let answers = Answers::ask(db, now);
    answers.match_the_story();

    // The page, as chromium built it.
    let profile = tmp.path().join("chromium-profile");
    let dump = chromium(&profile, &["--dump-dom", &server.url]);
    assert_eq!(dump.code, Some(0), "{dump:#?}");
    let dom = dump.stdout;
    answers.match_numbers(&dom);
    answers.match_tables(&dom);
    assert!(
        dom.contains("id=\"planned\""),
        "the policy's ramp is not drawn"
    );
    // No script element came from device text (nor from anything else).
    assert!(!dom.to_ascii_lowercase().contains("<script"), "{dom}");
    screenshot(tmp.path(), &profile, &server.url);
}
