//! The `repo` tool: builds and signs a static TUF repository offline.
//!
//! Each command is a module; `main.rs` only parses arguments and prints.

pub mod add;
pub mod archive_metadata;
pub mod catalogue;
pub mod encrypt;
pub mod export;
mod ingest;
pub mod init;
mod key_ref;
pub mod keys;
pub mod mirror;
mod parallel;
pub mod policy;
pub use updater::rollout::period;
mod progress;
pub mod prune;
mod publication;
pub mod publish;
mod published;
mod release_dir;
pub mod remove;
pub mod rotate;
pub mod sign;
pub mod signer;
pub mod status;
pub mod unfinished;
pub mod verify_repo;
pub mod workspace;
