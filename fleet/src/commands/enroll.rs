//! `fleet enroll`: devices and their report keys, one on the command line or many from a
//! file, in one transaction.
//!
//! A file holds one device a line: `DEVICE KEY`, or a JSON object with `device` and
//! `public_key` (or `key`); blank lines and lines starting with `#` are skipped. A line
//! that is neither, or whose id or key is malformed, is an error naming its number, and
//! nothing is enrolled.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Args;
use fleet::db::Db;
use fleet::store::{enroll, Enrollment};

use crate::DbArg;

/// Largest enrolment file read.
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

#[derive(Args)]
pub struct EnrollArgs {
    #[command(flatten)]
    db: DbArg,
    /// The device id (as the device's config names it).
    #[arg(requires = "key", conflicts_with = "file")]
    device: Option<String>,
    /// Its report key: the 64 hex digits `updater keygen` prints.
    key: Option<String>,
    /// A file of devices to enroll instead.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Replace the key of a device already enrolled with another (a device whose key was
    /// lost and made anew); its sequence numbering starts again.
    #[arg(long)]
    replace: bool,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &EnrollArgs) -> Result<()> {
    let devices = match (&args.device, &args.key, &args.file) {
        (Some(device), Some(key), None) => vec![Enrollment {
            device: device.clone(),
            key: key.clone(),
        }],
        (None, None, Some(file)) => read_file(file)?,
        _ => bail!("give DEVICE KEY, or --file FILE"),
    };
    let mut db = Db::open(&args.db.db)?;
    let now = updater::datetime::UtcTime::now().unix();
    let added = enroll(&mut db, &devices, args.replace, now)?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({"devices": devices.len(), "enrolled": added, "unchanged": devices.len() - added})
        );
    } else {
        println!(
            "enrolled {added} devices ({} already enrolled with the same key)",
            devices.len() - added
        );
    }
    Ok(())
}

fn read_file(path: &std::path::Path) -> Result<Vec<Enrollment>> {
    let bytes = updater::fs::read_bounded(path, MAX_FILE_BYTES)?;
    let text =
        String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
    let mut devices = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let parsed = if line.starts_with('{') {
            from_json(line)
        } else {
            let mut words = line.split_whitespace();
            match (words.next(), words.next(), words.next()) {
                (Some(device), Some(key), None) => Some(Enrollment {
                    device: device.to_owned(),
                    key: key.to_owned(),
                }),
                _ => None,
            }
        };
        let Some(enrollment) = parsed else {
            bail!(
                "{} line {}: expected `DEVICE KEY` or a JSON object with device and public_key",
                path.display(),
                n + 1
            );
        };
        // A bad id or key is named by its line too, like a line of the wrong shape.
        enrollment
            .check()
            .with_context(|| format!("{} line {}", path.display(), n + 1))?;
        devices.push(enrollment);
    }
    if devices.is_empty() {
        bail!("{} lists no device", path.display());
    }
    Ok(devices)
}

fn from_json(line: &str) -> Option<Enrollment> {
    let value: serde_json::Value = serde_json::from_str(line).ok()?;
    let key = value
        .get("public_key")
        .or_else(|| value.get("key"))?
        .as_str()?;
    Some(Enrollment {
        device: value.get("device")?.as_str()?.to_owned(),
        key: key.to_owned(),
    })
}
