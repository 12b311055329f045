//! `updater report --export FILE`: the whole outbox as signed reports in FILE, one per
//! line (JSON lines), for sites without a network path to a collector (`fleet import FILE`).
//!
//! Invariant: each line is a report a collector would take over HTTP: at most
//! `MAX_EVENTS_PER_POST` events and `MAX_REPORT_BYTES` bytes. Events leave the outbox only
//! after FILE holds them, written atomically (temp file, fsync, rename): a kill at any
//! point leaves them in the outbox, in FILE, or both (collectors key events by device key
//! and sequence number, so they store them once), never in neither.

use std::path::Path;

use anyhow::{bail, Context, Result};
use updater::limits::{MAX_EVENTS_PER_POST, MAX_REPORT_BYTES};
use updater::report::{DeviceKey, Outbox, SignedReport};

use crate::cli::Settings;

pub(crate) fn export(settings: &Settings, file: &Path, json: bool) -> Result<()> {
    let config = settings
        .config
        .as_ref()
        .context("report needs the device's --config")?;
    let outbox = Outbox::open(&config.report_outbox_path(), config.report_bounds())?;
    let pending = outbox.pending(usize::MAX)?;
    let (Some(first), Some(last)) = (pending.records.first(), pending.records.last()) else {
        if json {
            println!(
                "{}",
                serde_json::json!({"file": null, "reports": 0, "events": 0})
            );
        } else {
            println!("no events waiting; nothing written");
        }
        return Ok(());
    };
    let (first, last) = (first.seq, last.seq);
    let (key, _) = DeviceKey::load_or_create(&config.report_key_path(), &outbox)?;
    let device = config.device_id().map_err(anyhow::Error::msg)?;
    let events = pending.records.len();
    let mut lines = Vec::new();
    let mut reports = 0usize;
    for chunk in pending.records.chunks(MAX_EVENTS_PER_POST) {
        let report = SignedReport::sign(&key, &device, chunk.to_vec(), pending.dropped)?;
        let bytes = report.to_bytes()?;
        if bytes.len() > MAX_REPORT_BYTES {
            // Cannot happen: each event file is bounded so that a full report fits.
            bail!(
                "a report of {} bytes is past the {MAX_REPORT_BYTES} limit",
                bytes.len()
            );
        }
        lines.extend_from_slice(&bytes);
        lines.push(b'\n');
        reports += 1;
    }
    updater::fs::write_atomic(file, &lines)
        .with_context(|| format!("writing {}", file.display()))?;
    outbox.delivered(last)?;
    if json {
        let value = serde_json::json!({
            "file": file.display().to_string(),
            "reports": reports,
            "events": events,
            "first_seq": first,
            "last_seq": last,
            "dropped": pending.dropped,
        });
        println!("{value}");
    } else {
        println!(
            "exported {events} events in {reports} reports (seq {first} to {last}, {} \
             dropped in all) to {}",
            pending.dropped,
            file.display(),
        );
    }
    Ok(())
}
