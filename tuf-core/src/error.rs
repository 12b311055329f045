//! Everything that makes metadata or an artifact's bytes untrustworthy, said in words.

use crate::datetime::UtcTime;
use crate::key::{KeyId, SignatureError};
use crate::metadata::Version;
use crate::names::{NameError, RoleName};

/// Why one signature was not counted towards a threshold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectedSignature {
    /// The key is not one of the role's keys.
    NotAuthorized(KeyId),
    /// The role lists the key id but no key with that id is given.
    MissingKey(KeyId),
    /// The same key (by id or by key material) already signed.
    Duplicate(KeyId),
    /// The signature does not verify.
    Invalid(KeyId, SignatureError),
}

impl std::fmt::Display for RejectedSignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RejectedSignature::NotAuthorized(k) => {
                write!(f, "key {} is not trusted for this role", k.short())
            }
            RejectedSignature::MissingKey(k) => write!(f, "key {} is not listed", k.short()),
            RejectedSignature::Duplicate(k) => {
                write!(f, "key {} signed more than once (counted once)", k.short())
            }
            RejectedSignature::Invalid(k, e) => write!(f, "key {}: {e}", k.short()),
        }
    }
}

fn list_rejected(rejected: &[RejectedSignature]) -> String {
    if rejected.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = rejected.iter().map(ToString::to_string).collect();
    format!(" ({})", parts.join("; "))
}

/// A refusal: the metadata or bytes must not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("{what} is not valid metadata: {reason}")]
    Malformed { what: String, reason: String },
    #[error("{what} is {found:?} metadata where {expected:?} was expected")]
    WrongType {
        what: String,
        expected: &'static str,
        found: String,
    },
    #[error("{what} uses specification version {found:?}; this client reads 1.x")]
    UnsupportedSpecVersion { what: String, found: String },
    #[error("{role}: {valid} of {threshold} required signatures are valid{}", list_rejected(.rejected))]
    ThresholdNotMet {
        role: RoleName,
        valid: u32,
        threshold: u32,
        rejected: Vec<RejectedSignature>,
    },
    #[error("{role}: version {new} is older than the trusted version {trusted} (rollback)")]
    Rollback {
        role: RoleName,
        trusted: Version,
        new: Version,
    },
    #[error("{role}: expected version {expected}, found {found}")]
    UnexpectedVersion {
        role: RoleName,
        expected: Version,
        found: Version,
    },
    #[error("{role}: version {version} is already trusted; nothing new")]
    EqualVersion { role: RoleName, version: Version },
    // Said by devices and by `repo verify`/`status` alike: either the repository was not
    // re-signed in time or the clock that checked is wrong, and only the reader can tell.
    #[error(
        "{role} expired at {expires} (checked at {now}): if that time is right, the \
         repository must be re-signed before anyone accepts it (`repo timestamp`, or \
         `repo sign`); if it is wrong, set this machine's clock"
    )]
    Expired {
        role: RoleName,
        expires: UtcTime,
        now: UtcTime,
    },
    #[error("{what}: length is {actual} bytes, metadata says {expected}")]
    LengthMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("{what}: {algorithm} digest is {actual}, metadata says {expected}")]
    HashMismatch {
        what: String,
        algorithm: String,
        expected: String,
        actual: String,
    },
    #[error("{what} lists no hash this client can check (needs sha512 or sha256)")]
    NoUsableHash { what: String },
    #[error("{listed_by} does not list {role}")]
    NotListed { listed_by: RoleName, role: RoleName },
    #[error("snapshot: {role} is missing or older than in the trusted snapshot")]
    SnapshotDropsRole { role: RoleName },
    #[error("timestamp: snapshot version {new} is older than the trusted {trusted} (rollback)")]
    SnapshotVersionRollback { trusted: Version, new: Version },
    #[error("delegations: more than {limit} roles to walk (visited {visited}, at least {left} more still to visit); the walk stops at its limit rather than give a partial answer")]
    DelegationLimit {
        limit: usize,
        visited: usize,
        left: usize,
    },
    #[error("{role}: role name {name:?} {reason}")]
    BadRoleName {
        role: RoleName,
        name: String,
        reason: NameError,
    },
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
