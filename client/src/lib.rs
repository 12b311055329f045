//! The device client and the TUF 1.0 core shared with the `repo` tool.
//!
//! Bytes from outside become typed values in one place each: [`verify::Unverified`] parses
//! and checks structure, [`verify::Verified`] exists only once signatures met a threshold,
//! and [`trusted::TrustedMetadata`] enforces the specification's order of updates.

pub mod archive;
pub mod artifact;
pub mod canonical;
pub mod client;
pub mod config;
pub mod conventions;
pub mod copy;
pub mod datetime;
pub mod decide;
pub mod error;
pub mod fs;
pub mod hash;
pub mod install;
pub mod key;
pub mod limits;
pub mod metadata;
pub mod mirrors;
pub mod name_budget;
pub mod names;
mod pattern;
pub mod period;
pub mod policy;
pub mod store;
pub mod transport;
pub mod trusted;
pub mod unpack;
pub mod verify;

pub use error::{Error, Result};
