//! The TUF core: what a repository's metadata says and whether to believe it, with no I/O.
//!
//! Canonical JSON, the metadata model, keys and signature thresholds, digests and the checks
//! of bytes against listed lengths and hashes, path patterns, the delegation search, and the
//! trusted-metadata set that walks the specification's client workflow in order. Fetching,
//! storing and installing live in the `updater` crate; this crate only ever sees bytes and a
//! reference time.

#![forbid(unsafe_code)]

pub mod canonical;
pub mod datetime;
pub mod delegation;
pub mod digest;
mod error;
pub mod hash;
pub mod key;
pub mod metadata;
pub mod names;
mod pattern;
pub mod trusted;
pub mod verify;

pub use error::{Error, RejectedSignature, Result};
