//! A device's reports as the tests look at them: verified as a collector that enrolled the
//! key they carry would, their event kinds, the outbox's records, and the backoff.

use std::collections::BTreeSet;
use std::path::Path;

use updater::datetime::UtcTime;
use updater::report::{parse, Event, Outbox, ReportError, VerifiedReport};

use crate::install_scene::Scene;

/// Largest report body the tests read.
pub const MAX_TEST_REPORT: usize = 1 << 26;

/// Parses and verifies `bytes` with the key they carry (as a collector that enrolled it).
pub fn verify_carried(bytes: &[u8]) -> Result<VerifiedReport, ReportError> {
    let parsed = parse(bytes, MAX_TEST_REPORT)?;
    let key = parsed.key().to_owned();
    parsed.verify(&key)
}

/// The kinds of the report's events, a run of `downloading` ones as one, after checking
/// that the run goes from nothing to every byte of the release.
pub fn event_kinds(report: &VerifiedReport) -> Vec<String> {
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

/// The record files waiting in the outbox `dir`, by sequence number (none if it is missing).
pub fn waiting_seqs(dir: &Path) -> BTreeSet<u64> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let digits = name.strip_suffix(".json")?;
            (digits.len() == 20).then(|| digits.parse().ok()).flatten()
        })
        .collect()
}

/// How many records wait in the outbox `dir`.
pub fn outbox_files(dir: &Path) -> usize {
    waiting_seqs(dir).len()
}

/// The device's outbox as `[report]` in its config bounds it.
pub fn device_outbox(s: &Scene) -> Outbox {
    let config = updater::config::Config::load(&s.config).unwrap();
    Outbox::open(&config.report_outbox_path(), config.report_bounds()).unwrap()
}

/// `n` events appended through the library the updater uses; their sequence numbers.
pub fn append_failed(outbox: &Outbox, n: usize, what: &str) -> Vec<u64> {
    let time = UtcTime::from_unix(1_800_000_000).unwrap();
    (0..n)
        .map(|i| {
            outbox
                .append(Event::failed(&format!("{what} {i}")), time)
                .unwrap()
        })
        .collect()
}

/// Lets the device with outbox `dir` send again now, as if the backoff after a failed send
/// had passed (no-op before any failure).
pub fn backoff_passed(dir: &Path) {
    let path = dir.join("counters.json");
    let Ok(bytes) = std::fs::read(&path) else {
        return;
    };
    let mut counters: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    if counters["retry_after"].is_string() {
        counters["retry_after"] = "2000-01-01T00:00:00Z".into();
        std::fs::write(&path, counters.to_string()).unwrap();
    }
}
