//! Device reports: what a device did, as signed events a collector can verify.
//!
//! Invariant: reports only observe. Nothing here is read back by the decision or the
//! installer, and every failure here (a full disk, a dead collector) is the caller's to log
//! and ignore: a report never changes what or when a device installs.
//!
//! - [`key`]: the device's own ed25519 key, its private half 0600 from the first byte.
//! - [`event`]: what happened ([`Event`]), numbered per device ([`Record`]).
//! - [`outbox`]: the bounded on-disk queue of records waiting to be delivered.
//! - [`format`](mod@format): the signed report (the wire format), signing it, and [`parse`]
//!   then [`ParsedReport::verify`] to check one.
//! - [`send`]: posting the outbox to the configured collectors.

mod counters;
pub mod event;
pub mod format;
pub mod key;
pub mod outbox;
pub mod send;

pub use event::{Event, Record};
pub use format::{parse, ParsedReport, ReportError, SignedReport, VerifiedReport};
pub use key::{DeviceKey, KeyError};
pub use outbox::{Bounds, Outbox, OutboxError};
