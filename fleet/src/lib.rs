//! `fleet`: the collector of signed device reports.
//!
//! Layers, each importing only those above it:
//! - [`db`]: SQLite or PostgreSQL behind one interface, and the schema's migrations.
//! - [`state`]: what a device's events mean for its state (pure).
//! - [`store`]: enrolment and taking verified reports (the collector's rules).
//! - [`query`]: the admin's questions.
//! - [`collector`]: one report body from bytes to an answer (parse, enrolled key, verify,
//!   the batching writer).
//! - [`dashboard`] and [`http`]: the page and the HTTP service.
//!
//! Invariant: reports only observe. Nothing here reaches a device, so nothing a collector
//! stores can change what or when a device installs; only the signed policy does.

pub mod collector;
pub mod dashboard;
pub mod db;
pub mod http;
pub mod query;
mod state;
pub mod store;

/// Reads a time given on the command line or in a query: RFC 3339 UTC
/// (`2026-11-24T08:00:00Z`) or unix seconds.
pub fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(seconds) = text.parse::<i64>() {
        return Ok(seconds);
    }
    updater::datetime::UtcTime::parse(text)
        .map(|t| t.unix())
        .map_err(|e| {
            format!("{text:?} is neither unix seconds nor a time like 2026-11-24T08:00:00Z: {e}")
        })
}
