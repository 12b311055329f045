//! The device side of the update system, in layers; each may use the ones above it only.
//!
//! - The TUF core (the `tuf-core` crate, re-exported below under the paths both programs
//!   use): bytes become [`verify::Unverified`] values, [`verify::Verified`] ones once a
//!   threshold of signatures holds, and [`trusted`] walks the specification's order of
//!   updates as a typestate. No I/O.
//! - [`conventions`]: what `repo` writes and the device reads (labels, release order,
//!   layout, artifact kinds, served names, the name budget, the policy's role), in one place.
//! - [`fetch`]: transports (HTTP(S), local folders, archives), mirror failover, and the
//!   store of trusted metadata. Moves bytes; trusts nothing.
//! - [`update`]: the TUF workflow over fetched bytes, and downloads checked as they arrive.
//! - [`decrypt`]: encrypted artifacts, decrypted only after their ciphertext matched the
//!   index, and used only once their plaintext matched it too; the device's identity.
//! - [`rollout`]: the signed policy and the pure decision of whether and when to move.
//! - [`install`]: staging, the confined extractor, the journal, switching and rollback.
//! - [`report`]: signed device reports (events, the outbox, the key); they only observe.
//! - [`config`], [`fs`], [`limits`], [`secret_file`]: the device's settings, file-system
//!   helpers shared by every layer, every size bound in one list, and private key files.
//! - [`cli_docs`]: shell completions and man pages of the three programs, from their clap
//!   definitions.
//!
//! The `updater` binary (`src/bin/updater/`) is a thin command layer over these.
//! `ARCHITECTURE.md` at the top of the repository draws the flow from a mirror to an
//! installed release.

pub mod cli_docs;
pub mod config;
pub mod conventions;
pub mod decrypt;
mod error;
pub mod fetch;
pub mod fs;
pub mod install;
pub mod limits;
pub mod report;
pub mod rollout;
pub mod secret_file;
pub mod update;

pub use error::{Error, Result};

// The TUF core, under the paths the rest of this crate and `repo` have always used.
pub use tuf_core::{canonical, datetime, digest, hash, key, metadata, names, trusted, verify};
