//! The questions an admin asks, as typed answers: which devices, and how a release's
//! rollout stands. The CLI prints them, the HTTP API and the dashboard serve them.
//!
//! Invariant: every filter is a bound parameter; a device is "silent" when nothing it
//! reported happened after the given time, so the same question gives the same answer
//! from the CLI, the API and the page.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::db::{Db, DbError, Value};
use crate::state::State;
use crate::store::split_groups;

/// Which devices to list; every field narrows.
#[derive(Clone, Debug, Default)]
pub struct DeviceFilter {
    pub platform: Option<String>,
    pub group: Option<String>,
    pub channel: Option<String>,
    pub running: Option<String>,
    pub not_running: Option<String>,
    /// Devices with nothing reported after this time (unix seconds), or never.
    pub silent_since: Option<i64>,
    pub limit: Option<u64>,
}

impl DeviceFilter {
    /// The filter a query string's pairs name (the HTTP API's and the dashboard's); an
    /// unknown parameter or a bad time is an error.
    pub fn from_query(pairs: &[(String, String)]) -> Result<DeviceFilter, String> {
        let mut filter = DeviceFilter::default();
        for (key, value) in pairs {
            let value = value.clone();
            match key.as_str() {
                "platform" => filter.platform = Some(value),
                "group" => filter.group = Some(value),
                "channel" => filter.channel = Some(value),
                "running" => filter.running = Some(value),
                "not_running" => filter.not_running = Some(value),
                "silent_since" => filter.silent_since = Some(crate::parse_time(&value)?),
                "limit" => {
                    let limit = value
                        .parse()
                        .map_err(|_| format!("limit {value:?} is not a number"))?;
                    filter.limit = Some(limit);
                }
                "release" => {}
                other => return Err(format!("unknown filter {other:?}")),
            }
        }
        Ok(filter)
    }
}

/// One device as listed.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct DeviceRow {
    pub device: String,
    pub running: Option<String>,
    pub platform: Option<String>,
    pub groups: Vec<String>,
    pub channel: Option<String>,
    pub last_seen: Option<i64>,
    pub dropped: i64,
    pub free_bytes: Option<i64>,
    pub updater_version: Option<String>,
    pub last_failure: Option<String>,
}

/// The devices `filter` selects, by id.
pub fn devices(db: &mut Db, filter: &DeviceFilter) -> Result<Vec<DeviceRow>, DbError> {
    let mut sql = String::from(
        "SELECT id, running, platform, groups, channel, last_seen, dropped, free_bytes, \
         updater_version, last_failure FROM devices WHERE 1 = 1",
    );
    let mut params = Vec::new();
    let mut narrow = |clause: &str, value: Value| {
        params.push(value);
        sql.push_str(&clause.replace('?', &format!("${}", params.len())));
    };
    if let Some(v) = &filter.platform {
        narrow(" AND platform = ?", Value::text(v));
    }
    if let Some(v) = &filter.group {
        narrow(" AND groups LIKE ?", Value::text(format!("%,{v},%")));
    }
    if let Some(v) = &filter.channel {
        narrow(" AND channel = ?", Value::text(v));
    }
    if let Some(v) = &filter.running {
        narrow(" AND running = ?", Value::text(v));
    }
    if let Some(v) = &filter.not_running {
        narrow(" AND (running IS NULL OR running <> ?)", Value::text(v));
    }
    if let Some(t) = filter.silent_since {
        narrow(" AND (last_seen IS NULL OR last_seen <= ?)", Value::int(t));
    }
    if let Some(limit) = filter.limit {
        narrow(
            " ORDER BY id LIMIT ?",
            Value::int(i64::try_from(limit).unwrap_or(i64::MAX)),
        );
    } else {
        sql.push_str(" ORDER BY id");
    }
    let rows = db.query(&sql, &params)?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let text = |i: usize| r[i].as_text().map(str::to_owned);
            DeviceRow {
                device: text(0).unwrap_or_default(),
                running: text(1),
                platform: text(2),
                groups: split_groups(r[3].as_text().unwrap_or("")),
                channel: text(4),
                last_seen: r[5].as_int(),
                dropped: r[6].as_int().unwrap_or(0),
                free_bytes: r[7].as_int(),
                updater_version: text(8),
                last_failure: text(9),
            }
        })
        .collect())
}

/// How many devices stand where with one release.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Counts {
    /// Devices that reported anything about the release.
    pub devices: u64,
    pub waiting: u64,
    pub eligible: u64,
    pub downloading: u64,
    pub installed: u64,
    pub failed: u64,
    pub rolled_back: u64,
    /// Of those not done with it (waiting, eligible, downloading), the ones with nothing
    /// reported after the silence time.
    pub silent: u64,
}

impl Counts {
    /// The names of the counts, in the order of [`Counts::values`]: the columns of every
    /// table that shows them (the CLI's, the page's) and the keys of the JSON.
    pub const NAMES: [&'static str; 8] = [
        "devices",
        "waiting",
        "eligible",
        "downloading",
        "installed",
        "failed",
        "rolled_back",
        "silent",
    ];

    /// The counts, in the order of [`Counts::NAMES`].
    pub fn values(&self) -> [u64; 8] {
        [
            self.devices,
            self.waiting,
            self.eligible,
            self.downloading,
            self.installed,
            self.failed,
            self.rolled_back,
            self.silent,
        ]
    }

    fn add(&mut self, state: State, n: u64, silent: u64) {
        self.devices += n;
        match state {
            State::Waiting => self.waiting += n,
            State::Eligible => self.eligible += n,
            State::Downloading => self.downloading += n,
            State::Installed => self.installed += n,
            State::Failed => self.failed += n,
            State::RolledBack => self.rolled_back += n,
        }
        self.silent += silent;
    }
}

/// A release's rollout: in all, and per wave (devices with no wave, the early ones, under
/// `null`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub release: String,
    pub silent_since: i64,
    /// Enrolled devices not running the release.
    pub not_running: u64,
    pub total: Counts,
    pub waves: BTreeMap<String, Counts>,
}

/// The rollout of `release`; devices not done with it count as silent if nothing they
/// reported happened after `silent_since`.
pub fn summary(db: &mut Db, release: &str, silent_since: i64) -> Result<Summary, DbError> {
    let rows = db.query(
        "SELECT r.state, r.wave, COUNT(*), \
         COUNT(CASE WHEN r.state IN ('waiting', 'eligible', 'downloading') \
                     AND (d.last_seen IS NULL OR d.last_seen <= $1) THEN 1 END) \
         FROM rollout r JOIN devices d ON d.id = r.device \
         WHERE r.release = $2 GROUP BY r.state, r.wave",
        &[Value::int(silent_since), Value::text(release)],
    )?;
    let mut total = Counts::default();
    let mut waves: BTreeMap<String, Counts> = BTreeMap::new();
    for r in rows {
        let Some(state) = r[0].as_text().and_then(State::parse) else {
            continue;
        };
        let wave = r[1]
            .as_int()
            .map_or_else(|| "none".to_owned(), |w| w.to_string());
        let n = r[2].as_int().unwrap_or(0).unsigned_abs();
        let silent = r[3].as_int().unwrap_or(0).unsigned_abs();
        total.add(state, n, silent);
        waves.entry(wave).or_default().add(state, n, silent);
    }
    let not_running = db.query(
        "SELECT COUNT(*) FROM devices WHERE running IS NULL OR running <> $1",
        &[Value::text(release)],
    )?;
    Ok(Summary {
        release: release.to_owned(),
        silent_since,
        not_running: not_running
            .first()
            .and_then(|r| r[0].as_int())
            .unwrap_or(0)
            .unsigned_abs(),
        total,
        waves,
    })
}

/// One point of a release's rollout over time: devices that had reached each end by then.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Point {
    pub time: i64,
    pub checked: u64,
    pub installed: u64,
    pub failed: u64,
    pub rolled_back: u64,
}

/// The rollout of `release` over time: one point at each moment something changed, the
/// counts cumulative (a device that failed and rolled back counts in both).
pub fn timeline(db: &mut Db, release: &str) -> Result<Vec<Point>, DbError> {
    let rows = db.query(
        "SELECT checked_at, installed_at, failed_at, rolled_back_at FROM rollout WHERE release = $1",
        &[Value::text(release)],
    )?;
    let mut changes: BTreeMap<i64, [u64; 4]> = BTreeMap::new();
    for r in rows {
        for (i, at) in r.iter().enumerate() {
            if let Some(at) = at.as_int() {
                changes.entry(at).or_default()[i] += 1;
            }
        }
    }
    let mut sums = [0u64; 4];
    Ok(changes
        .into_iter()
        .map(|(time, added)| {
            for (sum, add) in sums.iter_mut().zip(added) {
                *sum += add;
            }
            Point {
                time,
                checked: sums[0],
                installed: sums[1],
                failed: sums[2],
                rolled_back: sums[3],
            }
        })
        .collect())
}

/// A device that failed a release, and why.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Failure {
    pub device: String,
    pub release: String,
    pub state: String,
    pub reason: Option<String>,
    pub at: i64,
}

/// The devices that failed or rolled back `release` (every release if `None`), newest first.
pub fn failures(db: &mut Db, release: Option<&str>, limit: u64) -> Result<Vec<Failure>, DbError> {
    let limit = Value::int(i64::try_from(limit).unwrap_or(i64::MAX));
    let base = "SELECT device, release, state, reason, updated_at FROM rollout \
                WHERE state IN ('failed', 'rolled_back')";
    let rows = match release {
        Some(release) => db.query(
            &format!("{base} AND release = $1 ORDER BY updated_at DESC, device LIMIT $2"),
            &[Value::text(release), limit],
        )?,
        None => db.query(
            &format!("{base} ORDER BY updated_at DESC, device LIMIT $1"),
            &[limit],
        )?,
    };
    Ok(rows
        .into_iter()
        .map(|r| Failure {
            device: r[0].as_text().unwrap_or_default().to_owned(),
            release: r[1].as_text().unwrap_or_default().to_owned(),
            state: r[2].as_text().unwrap_or_default().to_owned(),
            reason: r[3].as_text().map(str::to_owned),
            at: r[4].as_int().unwrap_or(0),
        })
        .collect())
}

/// The releases devices reported about, newest report first.
pub fn releases(db: &mut Db) -> Result<Vec<String>, DbError> {
    let rows = db.query(
        "SELECT release, MAX(updated_at) FROM rollout GROUP BY release ORDER BY MAX(updated_at) DESC, release",
        &[],
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|r| r[0].as_text().map(str::to_owned))
        .collect())
}

/// How many devices are enrolled.
pub fn enrolled(db: &mut Db) -> Result<u64, DbError> {
    let rows = db.query("SELECT COUNT(*) FROM devices", &[])?;
    Ok(rows
        .first()
        .and_then(|r| r[0].as_int())
        .unwrap_or(0)
        .unsigned_abs())
}
