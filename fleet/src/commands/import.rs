//! `fleet import FILE`: the reports an air-gapped device exported, taken exactly as if the
//! device had posted them (same checks, same store), one line at a time.
//!
//! Exit code 0 when every report was stored or was already; 1 when any was refused (each
//! refusal is printed with its line): the others are stored all the same.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, Result};
use fleet::collector::Collector;
use updater::limits::MAX_REPORT_BYTES;

use crate::DbArg;

pub fn run(db: &DbArg, file: &Path, json: bool) -> Result<()> {
    let collector = Collector::start(&db.db)?;
    let opened =
        std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
    let mut reader = BufReader::new(opened);
    let (mut stored, mut duplicate, mut events) = (0u64, 0u64, 0u64);
    let mut refused = Vec::new();
    let mut line = Vec::new();
    for n in 1.. {
        line.clear();
        // One byte past the bound tells a line too long from one just at it.
        let read = (&mut reader)
            .take(MAX_REPORT_BYTES as u64 + 2)
            .read_until(b'\n', &mut line)
            .with_context(|| format!("reading {}", file.display()))?;
        if read == 0 {
            break;
        }
        if line.last() != Some(&b'\n') && read > MAX_REPORT_BYTES {
            refused.push(format!("line {n}: longer than a report ({MAX_REPORT_BYTES} bytes); the rest of the file is not read"));
            break;
        }
        let body = line.trim_ascii();
        if body.is_empty() {
            continue;
        }
        let answer = collector.submit(body);
        match answer.body["outcome"].as_str() {
            Some("stored") => {
                stored += 1;
                events += answer.body["events"].as_u64().unwrap_or(0);
            }
            Some("duplicate") => duplicate += 1,
            _ => refused.push(format!("line {n}: HTTP {} {}", answer.status, answer.body)),
        }
    }
    if json {
        println!(
            "{}",
            serde_json::json!({"stored": stored, "events": events, "duplicate": duplicate, "refused": refused})
        );
    } else {
        println!(
            "stored {stored} reports ({events} new events), {duplicate} already stored, {} refused",
            refused.len()
        );
        for r in &refused {
            eprintln!("fleet: refused {r}");
        }
    }
    if refused.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{} reports of {} refused", refused.len(), file.display())
    }
}
