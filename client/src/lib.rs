//! The device client and the TUF 1.0 core shared with the `repo` tool.
//!
//! Bytes from outside become typed values in one place each: [`verify::Unverified`] parses
//! and checks structure, [`verify::Verified`] exists only once signatures met a threshold,
//! and [`trusted::TrustedMetadata`] enforces the specification's order of updates.

pub mod config;
pub mod conventions;
pub mod error;
pub mod fetch;
pub mod fs;
pub mod install;
pub mod limits;
pub mod rollout;
pub mod update;

pub use error::{Error, Result};

// The TUF core, under the paths the rest of this crate and `repo` have always used.
pub use tuf_core::{canonical, datetime, digest, hash, key, metadata, names, trusted, verify};
