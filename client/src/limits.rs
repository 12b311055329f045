//! Size limits for every metadata file read, so an endless or huge file cannot exhaust
//! memory. Generous for real repositories, small next to a device's memory.

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
/// Most delegated roles visited in one target search.
pub const MAX_DELEGATIONS: usize = 32;
