//! The schema and its migrations, the same text for SQLite and PostgreSQL.
//!
//! Invariant: migrations only ever get appended; each runs once, in its own transaction
//! with the version bump, so a database is always at one whole version. A database newer
//! than this build is refused rather than written with an older idea of the tables.

use super::{Db, DbError, Value};

/// Each entry moves the schema one version up (version = index + 1).
const MIGRATIONS: &[&str] = &[
    // 1: devices, the reports taken, their events, and each device's state per release.
    "CREATE TABLE devices (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        enrolled_at BIGINT NOT NULL,
        last_seen BIGINT,
        last_seq BIGINT,
        dropped BIGINT NOT NULL DEFAULT 0,
        running TEXT,
        platform TEXT,
        groups TEXT NOT NULL DEFAULT '',
        channel TEXT,
        free_bytes BIGINT,
        updater_version TEXT,
        last_failure TEXT,
        last_failure_at BIGINT
    );
    CREATE INDEX devices_running ON devices (running);
    CREATE INDEX devices_last_seen ON devices (last_seen);
    CREATE TABLE reports (
        id TEXT PRIMARY KEY,
        device TEXT NOT NULL,
        received_at BIGINT NOT NULL,
        first_seq BIGINT NOT NULL,
        last_seq BIGINT NOT NULL,
        events BIGINT NOT NULL,
        dropped BIGINT NOT NULL
    );
    CREATE TABLE events (
        device TEXT NOT NULL,
        seq BIGINT NOT NULL,
        time BIGINT NOT NULL,
        kind TEXT NOT NULL,
        release TEXT,
        body TEXT NOT NULL,
        PRIMARY KEY (device, seq)
    );
    CREATE TABLE rollout (
        device TEXT NOT NULL,
        release TEXT NOT NULL,
        state TEXT NOT NULL,
        wave BIGINT,
        bucket BIGINT,
        eligible_at BIGINT,
        reason TEXT,
        checked_at BIGINT,
        installed_at BIGINT,
        failed_at BIGINT,
        rolled_back_at BIGINT,
        updated_at BIGINT NOT NULL,
        PRIMARY KEY (device, release)
    );
    CREATE INDEX rollout_release ON rollout (release, state);",
];

/// The newest schema version this build knows.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

pub(super) fn migrate(db: &mut Db) -> Result<(), DbError> {
    db.batch("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")?;
    loop {
        let done = db.transaction(|db| -> Result<bool, DbError> {
            let rows = db.query("SELECT version FROM schema_version", &[])?;
            let found = rows.first().and_then(|r| r[0].as_int()).unwrap_or(0);
            if found > VERSION {
                return Err(DbError::NewerSchema {
                    found,
                    known: VERSION,
                });
            }
            let Some(migration) = MIGRATIONS.get(found as usize) else {
                return Ok(true);
            };
            db.batch(migration)?;
            if rows.is_empty() {
                db.execute(
                    "INSERT INTO schema_version (version) VALUES ($1)",
                    &[Value::int(found + 1)],
                )?;
            } else {
                db.execute(
                    "UPDATE schema_version SET version = $1",
                    &[Value::int(found + 1)],
                )?;
            }
            Ok(false)
        })?;
        if done {
            return Ok(());
        }
    }
}
