//! The collector's rules over the database: enrolment, the enrolled key of a device, and
//! taking verified reports.
//!
//! Invariant: a report is taken whole or not at all, in one transaction with the others of
//! its batch: its id once (a report seen before is a duplicate and changes nothing), its
//! events once by (device, sequence number), and only if its first sequence number is above
//! every one the device sent before (a replay of an older report changes nothing). Only a
//! [`VerifiedReport`] can be taken, and it must still be signed by the key enrolled now.

use std::collections::{BTreeMap, BTreeSet};

use updater::report::VerifiedReport;

use crate::db::{Db, DbError, Value};
use crate::state::{Device, DeviceView, Rollout, State};

/// A device to enroll: its id and its report key (64 hex digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Enrollment {
    pub device: String,
    pub key: String,
}

/// Why an enrolment was refused.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    #[error(
        "device {device}: key must be 64 hex digits (the `public_key` `updater keygen` prints)"
    )]
    BadKey { device: String },
    #[error("device id must be 1 to 256 bytes without control characters: {0:?}")]
    BadDevice(String),
    #[error("device {device} is enrolled with another key; --replace to change it")]
    OtherKey { device: String },
    #[error(transparent)]
    Db(#[from] DbError),
}

/// What became of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Taken {
    /// Stored, with the number of its events that were new.
    Stored { events: u64 },
    /// This report id was stored before: nothing changed.
    Duplicate,
    /// Its sequence numbers are not above those the device sent before: a replay.
    Replay { last_seq: i64 },
    /// The device is not enrolled (any more), or under another key.
    NotEnrolled,
    /// A number past what the database holds.
    OutOfRange,
}

/// Enrolls `devices` in one transaction: all or none. A device enrolled with the same key
/// is left as it is; with another key it is refused unless `replace`.
pub fn enroll(
    db: &mut Db,
    devices: &[Enrollment],
    replace: bool,
    now: i64,
) -> Result<usize, EnrollError> {
    for e in devices {
        e.check()?;
    }
    db.transaction(|db| {
        let mut added = 0;
        for e in devices {
            let key = e.key.to_ascii_lowercase();
            match enrolled_key(db, &e.device)? {
                Some(existing) if existing == key => {}
                Some(_) if !replace => {
                    return Err(EnrollError::OtherKey {
                        device: e.device.clone(),
                    })
                }
                Some(_) => {
                    // A new key is a new device history: numbering starts again with it.
                    db.execute(
                        "UPDATE devices SET key = $1, last_seq = NULL WHERE id = $2",
                        &[Value::text(key), Value::text(&e.device)],
                    )?;
                    added += 1;
                }
                None => {
                    db.execute(
                        "INSERT INTO devices (id, key, enrolled_at) VALUES ($1, $2, $3)",
                        &[Value::text(&e.device), Value::text(key), Value::int(now)],
                    )?;
                    added += 1;
                }
            }
        }
        Ok(added)
    })
}

impl Enrollment {
    /// Whether the device id and the key have the form enrolment takes ([`enroll`] checks
    /// every one before it writes any).
    pub fn check(&self) -> Result<(), EnrollError> {
        let device = &self.device;
        if device.is_empty() || device.len() > 256 || device.chars().any(char::is_control) {
            return Err(EnrollError::BadDevice(device.clone()));
        }
        if self.key.len() != 64 || !self.key.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(EnrollError::BadKey {
                device: device.clone(),
            });
        }
        Ok(())
    }
}

/// The key enrolled for `device`, lower-case hex, if it is enrolled.
pub fn enrolled_key(db: &mut Db, device: &str) -> Result<Option<String>, DbError> {
    let rows = db.query(
        "SELECT key FROM devices WHERE id = $1",
        &[Value::text(device)],
    )?;
    Ok(rows.first().and_then(|r| r[0].as_text()).map(str::to_owned))
}

/// Takes `reports` in one transaction, received at `now`; one outcome per report, in order.
pub fn take(db: &mut Db, reports: &[VerifiedReport], now: i64) -> Result<Vec<Taken>, DbError> {
    db.transaction(|db| reports.iter().map(|r| take_one(db, r, now)).collect())
}

fn take_one(db: &mut Db, report: &VerifiedReport, now: i64) -> Result<Taken, DbError> {
    let seqs: Option<Vec<i64>> = report
        .events()
        .iter()
        .map(|r| i64::try_from(r.seq).ok())
        .collect();
    let (Some(seqs), Ok(dropped)) = (seqs, i64::try_from(report.dropped())) else {
        return Ok(Taken::OutOfRange);
    };
    let (first, last) = (seqs[0], seqs[seqs.len() - 1]);
    if !db
        .query(
            "SELECT 1 FROM reports WHERE id = $1",
            &[Value::text(report.id())],
        )?
        .is_empty()
    {
        return Ok(Taken::Duplicate);
    }
    let Some((key, mut view)) = load_device(db, report.device())? else {
        return Ok(Taken::NotEnrolled);
    };
    if key != report.key() {
        return Ok(Taken::NotEnrolled);
    }
    if let Some(last_seq) = view.device.last_seq.filter(|&l| first <= l) {
        return Ok(Taken::Replay { last_seq });
    }
    db.execute(
        "INSERT INTO reports (id, device, received_at, first_seq, last_seq, events, dropped)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            Value::text(report.id()),
            Value::text(report.device()),
            Value::int(now),
            Value::int(first),
            Value::int(last),
            Value::int(seqs.len() as i64),
            Value::int(dropped),
        ],
    )?;
    let mut stored = 0;
    for (record, seq) in report.events().iter().zip(&seqs) {
        stored += insert_event(db, report.device(), *seq, record)?;
        view.apply(record);
    }
    view.device.last_seq = Some(last);
    view.device.dropped = view.device.dropped.max(dropped);
    // A device clock ahead of ours does not make it look alive for longer.
    view.device.last_seen = view.device.last_seen.map(|seen| seen.min(now));
    save_device(db, report.device(), &view)?;
    Ok(Taken::Stored { events: stored })
}

fn insert_event(
    db: &mut Db,
    device: &str,
    seq: i64,
    record: &updater::report::Record,
) -> Result<u64, DbError> {
    let body = serde_json::to_string(&record.event).unwrap_or_default();
    let kind = serde_json::to_value(&record.event)
        .ok()
        .and_then(|v| v["kind"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let release = event_release(&record.event);
    db.execute(
        "INSERT INTO events (device, seq, time, kind, release, body) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (device, seq) DO NOTHING",
        &[
            Value::text(device),
            Value::int(seq),
            Value::int(record.time.unix()),
            Value::text(kind),
            Value::Text(release),
            Value::text(body),
        ],
    )
}

fn event_release(event: &updater::report::Event) -> Option<String> {
    use updater::report::Event;
    match event {
        Event::Checked { release, .. } => release.as_ref().map(|r| r.as_str().to_owned()),
        Event::Downloading { release, .. }
        | Event::Installed { release, .. }
        | Event::HealthCheckFailed { release, .. }
        | Event::RolledBack { release, .. } => Some(release.as_str().to_owned()),
        Event::Inventory { running, .. } => running.as_ref().map(|r| r.as_str().to_owned()),
        Event::Failed { .. } | Event::Recovered { .. } => None,
    }
}

const DEVICE_COLUMNS: &str =
    "key, last_seen, last_seq, dropped, running, platform, groups, channel, \
     free_bytes, updater_version, last_failure, last_failure_at";

fn load_device(db: &mut Db, device: &str) -> Result<Option<(String, DeviceView)>, DbError> {
    let rows = db.query(
        &format!("SELECT {DEVICE_COLUMNS} FROM devices WHERE id = $1"),
        &[Value::text(device)],
    )?;
    let Some(r) = rows.first() else {
        return Ok(None);
    };
    let text = |i: usize| r[i].as_text().map(str::to_owned);
    let device_row = Device {
        last_seen: r[1].as_int(),
        last_seq: r[2].as_int(),
        dropped: r[3].as_int().unwrap_or(0),
        running: text(4),
        platform: text(5),
        groups: split_groups(r[6].as_text().unwrap_or("")),
        channel: text(7),
        free_bytes: r[8].as_int(),
        updater_version: text(9),
        last_failure: text(10),
        last_failure_at: r[11].as_int(),
    };
    let mut rollout = BTreeMap::new();
    for r in db.query(
        "SELECT release, state, wave, bucket, eligible_at, reason, checked_at, installed_at, \
         failed_at, rolled_back_at, updated_at FROM rollout WHERE device = $1",
        &[Value::text(device)],
    )? {
        let (Some(release), Some(state)) = (r[0].as_text(), r[1].as_text().and_then(State::parse))
        else {
            continue;
        };
        rollout.insert(
            release.to_owned(),
            Rollout {
                state,
                wave: r[2].as_int(),
                bucket: r[3].as_int(),
                eligible_at: r[4].as_int(),
                reason: r[5].as_text().map(str::to_owned),
                checked_at: r[6].as_int(),
                installed_at: r[7].as_int(),
                failed_at: r[8].as_int(),
                rolled_back_at: r[9].as_int(),
                updated_at: r[10].as_int().unwrap_or(0),
            },
        );
    }
    let key = r[0].as_text().unwrap_or_default().to_owned();
    Ok(Some((
        key,
        DeviceView {
            device: device_row,
            rollout,
            changed: BTreeSet::new(),
        },
    )))
}

fn save_device(db: &mut Db, id: &str, view: &DeviceView) -> Result<(), DbError> {
    let d = &view.device;
    let text = |v: &Option<String>| Value::Text(v.clone());
    db.execute(
        "UPDATE devices SET last_seen = $1, last_seq = $2, dropped = $3, running = $4, platform = $5, \
         groups = $6, channel = $7, free_bytes = $8, updater_version = $9, last_failure = $10, \
         last_failure_at = $11 WHERE id = $12",
        &[
            Value::Int(d.last_seen),
            Value::Int(d.last_seq),
            Value::int(d.dropped),
            text(&d.running),
            text(&d.platform),
            Value::text(join_groups(&d.groups)),
            text(&d.channel),
            Value::Int(d.free_bytes),
            text(&d.updater_version),
            text(&d.last_failure),
            Value::Int(d.last_failure_at),
            Value::text(id),
        ],
    )?;
    for release in &view.changed {
        let Some(row) = view.rollout.get(release) else {
            continue;
        };
        db.execute(
            "INSERT INTO rollout (device, release, state, wave, bucket, eligible_at, reason, checked_at, \
             installed_at, failed_at, rolled_back_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
             ON CONFLICT (device, release) DO UPDATE SET state = excluded.state, wave = excluded.wave, \
             bucket = excluded.bucket, eligible_at = excluded.eligible_at, reason = excluded.reason, \
             checked_at = excluded.checked_at, installed_at = excluded.installed_at, \
             failed_at = excluded.failed_at, rolled_back_at = excluded.rolled_back_at, \
             updated_at = excluded.updated_at",
            &[
                Value::text(id),
                Value::text(release),
                Value::text(row.state.as_str()),
                Value::Int(row.wave),
                Value::Int(row.bucket),
                Value::Int(row.eligible_at),
                text(&row.reason),
                Value::Int(row.checked_at),
                Value::Int(row.installed_at),
                Value::Int(row.failed_at),
                Value::Int(row.rolled_back_at),
                Value::int(row.updated_at),
            ],
        )?;
    }
    Ok(())
}

/// Groups as stored: `,a,b,`, so a group is found with `LIKE '%,a,%'`.
fn join_groups(groups: &[String]) -> String {
    if groups.is_empty() {
        return String::new();
    }
    format!(",{},", groups.join(","))
}

pub(crate) fn split_groups(stored: &str) -> Vec<String> {
    stored
        .split(',')
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
