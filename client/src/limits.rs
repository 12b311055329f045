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
/// Most roles visited in the search for one target (python-tuf's `max_delegations`); past
/// it the target is not found. The walker in `tuf-core` holds it.
pub use tuf_core::delegation::MAX_DELEGATIONS;
/// Most roles a walk over everything visits (`updater targets`, `repo verify`, `repo
/// mirror`); past it the command fails naming the limit. The walker in `tuf-core` holds it.
pub use tuf_core::delegation::MAX_LISTED_ROLES;
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
/// Largest file of the report outbox read (one event, or its counters); an event's free
/// text is cut to [`MAX_EVENT_TEXT_BYTES`] when it is made, so real ones are far smaller.
pub(crate) const MAX_EVENT_FILE_BYTES: u64 = 16 * 1024;
/// Longest free text (a failure's reason) an event carries, in bytes.
pub(crate) const MAX_EVENT_TEXT_BYTES: usize = 2 * 1024;
/// Most events in one report a device posts: a collector needs accept no more per request.
pub const MAX_EVENTS_PER_POST: usize = 256;
/// Largest signed report a device writes and a collector reads, in bytes: a full report of
/// the largest events, with room for its envelope. Both sides take it from here.
pub const MAX_REPORT_BYTES: usize = MAX_EVENTS_PER_POST * MAX_EVENT_FILE_BYTES as usize + 64 * 1024;

/// The listing limit in force: [`MAX_LISTED_ROLES`]. Builds with the `fault-injection`
/// feature (the e2e tests') take a lower one from `UPDATER_TEST_MAX_LISTED_ROLES`, so a
/// test can walk past it without building ten thousand roles; a release build has no such
/// knob for its environment to turn.
/// The largest targets role (top-level or delegated) a device reads, in bytes: the one
/// place both programs take it from (`repo sign` refuses to publish a larger role). Builds
/// with the `fault-injection` feature take a lower one from `UPDATER_TEST_MAX_TARGETS_BYTES`,
/// so a test can pass it without writing 32 MiB.
pub fn targets_bytes_limit() -> u64 {
    #[cfg(feature = "fault-injection")]
    if let Some(limit) = std::env::var("UPDATER_TEST_MAX_TARGETS_BYTES")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return limit.min(MAX_TARGETS_BYTES);
    }
    MAX_TARGETS_BYTES
}

pub fn listed_roles_limit() -> usize {
    #[cfg(feature = "fault-injection")]
    if let Some(limit) = std::env::var("UPDATER_TEST_MAX_LISTED_ROLES")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
    {
        return limit.min(MAX_LISTED_ROLES);
    }
    MAX_LISTED_ROLES
}

/// Most recipients a release is encrypted to (`repo add --encrypt-to`): a device tries its
/// identity on each stanza of an age header, an X25519 exchange each.
pub const MAX_RECIPIENTS: u64 = 10_000;
/// Largest age header a device reads before decrypting: room for [`MAX_RECIPIENTS`] X25519
/// stanzas of 98 bytes each, and the header's first and last lines.
pub const MAX_AGE_HEADER_BYTES: u64 = 1024 * 1024;
