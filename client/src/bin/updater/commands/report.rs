//! `updater report --export FILE`: the whole outbox as one signed report in FILE, for
//! sites without a network path to a collector.
//!
//! Invariant: events leave the outbox only after FILE holds them, written atomically
//! (temp file, fsync, rename): a kill at any point leaves them in the outbox, in FILE, or
//! both (the report's id then lets a collector store them once), never in neither.

use std::path::Path;

use anyhow::{Context, Result};
use updater::report::{DeviceKey, Outbox, SignedReport};

use crate::cli::Settings;

pub(crate) fn export(settings: &Settings, file: &Path, json: bool) -> Result<()> {
    let config = settings
        .config
        .as_ref()
        .context("report needs the device's --config")?;
    let outbox = Outbox::open(&config.report_outbox_path(), config.report().max_events)?;
    let pending = outbox.pending(usize::MAX)?;
    if pending.records.is_empty() {
        if json {
            println!("{}", serde_json::json!({"file": null, "events": 0}));
        } else {
            println!("no events waiting; nothing written");
        }
        return Ok(());
    }
    let (key, _) = DeviceKey::load_or_create(&config.report_key_path())?;
    let device = config.device_id().map_err(anyhow::Error::msg)?;
    let (first, last) = (
        pending.records[0].seq,
        pending.records[pending.records.len() - 1].seq,
    );
    let report = SignedReport::sign(&key, &device, pending.records, pending.dropped)?;
    updater::fs::write_atomic(file, &report.to_bytes()?)
        .with_context(|| format!("writing {}", file.display()))?;
    outbox.delivered(report.last_seq())?;
    if json {
        let value = serde_json::json!({
            "file": file.display().to_string(),
            "id": report.id(),
            "events": report.event_count(),
            "first_seq": first,
            "last_seq": last,
            "dropped": report.dropped(),
        });
        println!("{value}");
    } else {
        println!(
            "exported {} events (seq {first} to {last}, {} dropped before them) to {}, report {}",
            report.event_count(),
            report.dropped(),
            file.display(),
            report.id()
        );
    }
    Ok(())
}
