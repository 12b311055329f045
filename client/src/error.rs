//! Everything that can make metadata or an artifact untrustworthy, said in words.

use std::path::PathBuf;

use crate::datetime::UtcTime;
use crate::key::{KeyId, SignatureError};
use crate::metadata::Version;
use crate::names::{NameError, RoleName, TargetName};

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

/// A refusal: the metadata or artifact must not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is {kind}, not a regular file: refused", .path.display())]
    NotRegularFile { path: PathBuf, kind: &'static str },
    #[error("{what} is larger than its limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },
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
    #[error("{role} expired at {expires} (checked at {now})")]
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
    #[error("{role}: role name {name:?} {reason}")]
    BadRoleName {
        role: RoleName,
        name: String,
        reason: NameError,
    },
    #[error("target {name}: {reason}")]
    Target { name: TargetName, reason: String },
    #[error("{} holds no trusted root.json: run `updater init ROOT` first", .dir.display())]
    NotInitialized { dir: PathBuf },
    #[error("this device already trusts root version {trusted}, newer than version {given}: it was kept (devices never go back to an older root; `updater init --force` replaces it)")]
    OlderRoot { trusted: u64, given: u64 },
    #[error("this device already trusts a different root version {version}: it was kept (`updater init --force` replaces it)")]
    OtherRoot { version: u64 },
    #[error("{what}: not found on any mirror")]
    NotFound { what: String },
    #[error("{what}: could not be fetched ({})", .failures.join("; "))]
    Fetch { what: String, failures: Vec<String> },
    #[error("{0}")]
    Order(&'static str),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// Result with this crate's error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
