//! Helpers for the end-to-end tests: the real binaries, real servers on 127.0.0.1, real
//! files on disk. Each test gets its own temporary folder.
//!
//! One module per kind of helper; everything is re-exported here, so a test file says
//! `use e2e_tests::*` (or names what it uses) without knowing the modules.

mod airgap;
pub mod ceremony;
mod collector;
mod demo_repo;
mod device;
mod device_reports;
mod encrypted_attack_scene;
mod encrypted_scene;
mod fleet;
mod fleet_device;
mod hash_bins;
mod install_scene;
mod measure;
mod metadata_files;
mod mistakes_world;
mod nginx;
mod python;
mod rollout_sim;
mod run;
mod s3;
mod server;
mod tmpfs;
mod tough_client;
mod tree_state;

pub use airgap::*;
pub use collector::*;
pub use demo_repo::*;
pub use device::*;
pub use device_reports::*;
pub use encrypted_attack_scene::*;
pub use encrypted_scene::*;
pub use fleet::*;
pub use fleet_device::*;
pub use hash_bins::*;
pub use install_scene::*;
pub use measure::*;
pub use metadata_files::*;
pub use mistakes_world::*;
pub use nginx::*;
pub use python::*;
pub use rollout_sim::*;
pub use run::*;
pub use s3::*;
pub use server::*;
pub use tmpfs::*;
pub use tough_client::*;
pub use tree_state::*;
