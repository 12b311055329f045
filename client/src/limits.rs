//! Size limits for every file read whole, from a mirror or from the local disk, so an
//! endless or huge file cannot exhaust memory; both programs use these. Generous for real
//! repositories and settings, small next to a device's memory.

/// Largest `root.json` accepted.
pub const MAX_ROOT_BYTES: u64 = 512 * 1024;
/// Largest `timestamp.json` accepted.
pub const MAX_TIMESTAMP_BYTES: u64 = 16 * 1024;
/// Largest `snapshot.json` accepted when timestamp does not give its length.
pub const MAX_SNAPSHOT_BYTES: u64 = 2 * 1024 * 1024;
/// Largest targets role accepted when snapshot does not give its length.
pub const MAX_TARGETS_BYTES: u64 = 32 * 1024 * 1024;
/// Most root versions walked in one update (the specification's cap on the N+1 chain).
pub const MAX_ROOT_ROTATIONS: u64 = 256;
/// Most roles visited in one delegation walk; the walker in `tuf-core` holds it.
pub use tuf_core::delegation::MAX_DELEGATIONS;
/// Largest `policy.xml` accepted (signed, or a draft given to `repo`).
pub const MAX_POLICY_BYTES: u64 = 1024 * 1024;
/// Largest configuration file read: the device's TOML, `repo.toml`, `repo init --config`.
pub const MAX_CONFIG_BYTES: u64 = 64 * 1024;
/// Largest key file read (a PEM private or public key).
pub const MAX_KEY_FILE_BYTES: u64 = 64 * 1024;
/// Largest PEM file of extra CA certificates (`--ca-file`): room for a few hundred.
pub(crate) const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;
/// Largest passphrase file read.
pub const MAX_PASSPHRASE_FILE_BYTES: u64 = 4 * 1024;
