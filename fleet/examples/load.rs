//! The load benchmark's devices (scripts/bench-fleet.sh runs it): many simulated devices,
//! each with its own ed25519 key, post signed reports to a running `fleet serve`.
//!
//! `load prepare DIR DEVICES REPORTS`: makes the keys, writes `DIR/enroll.txt` (for
//! `fleet enroll --file`) and `DIR/reports.jsonl`, every report signed beforehand so the
//! timed run spends no CPU on signing: report `r` is device `r % DEVICES`'s
//! `r / DEVICES`-th, four events each (checked, downloading, installed, inventory), so each
//! device's sequence numbers rise in file order.
//! `load send DIR URL CONNECTIONS`: posts every line over CONNECTIONS keep-alive connections
//! and prints reports/s, p50/p99 latency and the answers by status.
//! `load ping URL CONNECTIONS COUNT`: COUNT plain GETs of URL, the HTTP ceiling.
//! `load ask DB RELEASE`: times the per-release summary and the "not running" query.

use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use updater::conventions::Release;
use updater::datetime::UtcTime;
use updater::report::event::CheckAction;
use updater::report::{DeviceKey, Event, Record, SignedReport};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["prepare", dir, devices, reports] => {
            prepare(Path::new(dir), devices.parse()?, reports.parse()?)
        }
        ["send", dir, url, connections] => send(Path::new(dir), url, connections.parse()?),
        ["ask", db, release] => ask(db, release),
        ["ping", url, connections, count] => ping(url, connections.parse()?, count.parse()?),
        _ => Err("usage: load prepare DIR DEVICES REPORTS | load send DIR URL CONNECTIONS | load ask DB RELEASE".into()),
    }
}

fn events(n: u64, device: &str) -> Result<Vec<Event>> {
    let release = Release::new(if n.is_multiple_of(2) {
        "2.0.0"
    } else {
        "2.1.0"
    })?;
    Ok(vec![
        Event::Checked {
            action: CheckAction::Install,
            release: Some(release.clone()),
            wave: Some(1 + n % 2),
            bucket: Some((n % 10_000) as u32),
            eligible_at: None,
            reason: format!("{device} is in wave {}", 1 + n % 2),
        },
        Event::Downloading {
            release: release.clone(),
            done: 0,
            total: 48_000_000,
        },
        Event::Installed {
            release: release.clone(),
            from: Some(Release::new("1.0.0")?),
        },
        Event::Inventory {
            running: Some(release),
            platform: "armv7".into(),
            channel: "stable".into(),
            groups: vec!["lobby".into()],
            free_bytes: Some(2_000_000_000),
            updater_version: "0.1.0".into(),
        },
    ])
}

fn prepare(dir: &Path, devices: u64, reports: u64) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let started = Instant::now();
    let keys: Vec<DeviceKey> = (0..devices)
        .map(|_| DeviceKey::generate())
        .collect::<std::result::Result<_, _>>()?;
    let mut enroll = BufWriter::new(std::fs::File::create(dir.join("enroll.txt"))?);
    for (i, key) in keys.iter().enumerate() {
        writeln!(enroll, "device-{i:06} {}", key.public_hex())?;
    }
    enroll.flush()?;
    let mut out = BufWriter::new(std::fs::File::create(dir.join("reports.jsonl"))?);
    let time = UtcTime::now();
    for r in 0..reports {
        let (d, round) = (r % devices, r / devices);
        let device = format!("device-{d:06}");
        let records = events(round, &device)?
            .into_iter()
            .enumerate()
            .map(|(i, event)| Record {
                seq: round * 4 + i as u64 + 1,
                time,
                event,
            })
            .collect();
        let report = SignedReport::sign(&keys[d as usize], &device, records, 0)?;
        out.write_all(&report.to_bytes()?)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    println!(
        "prepared {devices} devices, {reports} signed reports in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn send(dir: &Path, url: &str, connections: usize) -> Result<()> {
    let file = std::fs::File::open(dir.join("reports.jsonl"))?;
    let lines = Arc::new(Mutex::new(BufReader::new(file).lines()));
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let (lines, url) = (lines.clone(), url.to_owned());
            std::thread::spawn(move || post_all(&lines, &url))
        })
        .collect();
    let mut latencies = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    for worker in workers {
        let (lat, st) = worker.join().map_err(|_| "a sender panicked")?;
        latencies.extend(lat);
        for (status, n) in st {
            *statuses.entry(status).or_insert(0u64) += n;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let at = |q: f64| {
        let i = ((latencies.len() as f64 * q) as usize).min(latencies.len().saturating_sub(1));
        latencies.get(i).copied().unwrap_or_default().as_secs_f64() * 1000.0
    };
    println!(
        "sent {} reports in {elapsed:.1} s: {:.0} reports/s, latency p50 {:.2} ms, p99 {:.2} ms; answers by status {statuses:?}",
        latencies.len(),
        latencies.len() as f64 / elapsed,
        at(0.50),
        at(0.99),
    );
    Ok(())
}

type Lines = Mutex<std::io::Lines<BufReader<std::fs::File>>>;

fn post_all(lines: &Lines, url: &str) -> (Vec<Duration>, Vec<(u16, u64)>) {
    let agent = ureq::AgentBuilder::new()
        .timeout(Duration::from_secs(60))
        .build();
    let mut latencies = Vec::new();
    let mut statuses = std::collections::BTreeMap::new();
    while let Some(Ok(line)) = lines.lock().ok().and_then(|mut l| l.next()) {
        let started = Instant::now();
        let posted = agent
            .post(url)
            .set("Content-Type", "application/json")
            .send_string(&line);
        let status = match posted {
            Ok(response) => response.status(),
            Err(ureq::Error::Status(code, _)) => code,
            Err(_) => 0,
        };
        latencies.push(started.elapsed());
        *statuses.entry(status).or_insert(0u64) += 1;
    }
    (latencies, statuses.into_iter().collect())
}

fn ping(url: &str, connections: u64, count: u64) -> Result<()> {
    let started = Instant::now();
    let workers: Vec<_> = (0..connections)
        .map(|_| {
            let agent = ureq::AgentBuilder::new()
                .timeout(Duration::from_secs(60))
                .build();
            let url = url.to_owned();
            std::thread::spawn(move || {
                (0..count / connections)
                    .filter(|_| agent.get(&url).call().is_ok_and(|r| r.status() == 200))
                    .count()
            })
        })
        .collect();
    let mut answered = 0;
    for worker in workers {
        answered += worker.join().map_err(|_| "a sender panicked")?;
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "{answered} GETs answered 200 in {elapsed:.1} s: {:.0} requests/s",
        answered as f64 / elapsed
    );
    Ok(())
}

fn ask(db: &str, release: &str) -> Result<()> {
    let mut db = fleet::db::Db::open(db)?;
    let now = UtcTime::now().unix();
    for _ in 0..3 {
        let started = Instant::now();
        let summary = fleet::query::summary(&mut db, release, now - 86_400)?;
        let summary_ms = started.elapsed().as_secs_f64() * 1000.0;
        let started = Instant::now();
        let filter = fleet::query::DeviceFilter {
            not_running: Some(release.to_owned()),
            ..Default::default()
        };
        let not_running = fleet::query::devices(&mut db, &filter)?;
        let query_ms = started.elapsed().as_secs_f64() * 1000.0;
        println!(
            "summary of {release} over {} devices: {summary_ms:.1} ms; devices not running it: {} listed in {query_ms:.1} ms",
            summary.total.devices,
            not_running.len()
        );
    }
    Ok(())
}
