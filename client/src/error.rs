//! Everything that can make metadata or an artifact untrustworthy, said in words.

use std::path::PathBuf;

use crate::names::TargetName;

/// A refusal: the metadata or artifact must not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A refusal of the TUF core: signatures, versions, expiry, lengths and hashes.
    #[error(transparent)]
    Core(#[from] tuf_core::Error),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{} is {kind}, not a regular file: refused", .path.display())]
    NotRegularFile { path: PathBuf, kind: &'static str },
    #[error("{what} is larger than its limit of {limit} bytes")]
    TooLarge { what: String, limit: u64 },
    #[error("target {name}: {reason}")]
    Target { name: TargetName, reason: String },
    #[error("{} holds no trusted root.json: run `updater init ROOT` first", .dir.display())]
    NotInitialized { dir: PathBuf },
    #[error("this device already trusts root version {trusted}, newer than version {given}: it was kept (devices never go back to an older root; `updater init --force` replaces it)")]
    OlderRoot { trusted: u64, given: u64 },
    #[error("the device's trusted root {} is unreadable ({reason}): re-provision it with `updater init --force ROOT`", .path.display())]
    CorruptTrustedRoot { path: PathBuf, reason: String },
    #[error("this device already trusts a different root version {version}: it was kept (`updater init --force` replaces it)")]
    OtherRoot { version: u64 },
    /// A broken promise inside this program, never caused by input.
    #[error("internal error: {0}")]
    Internal(&'static str),
    #[error("target {name}: its search reaches the limit of {limit} delegated roles before the role that lists it, so a device would not find it")]
    SearchLimit { name: TargetName, limit: usize },
    /// A mirror answered that it has no such file (and none delivered it).
    #[error("{what}: not found on any mirror ({}){}", .failures.mirrors.join("; "), .failures.hint)]
    NotFound {
        what: String,
        failures: FetchFailures,
    },
    /// No mirror delivered the file, and none said it has none: each mirror once, with its
    /// attempts and its last failure.
    #[error("{what}: could not be fetched ({}){}", .failures.mirrors.join("; "), .failures.hint)]
    Fetch {
        what: String,
        failures: FetchFailures,
    },
}

/// Why no mirror delivered a file, as the fetch layer judged it (`fetch::mirrors`), kept
/// here in words and one verdict so that this base module needs none of its types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailures {
    /// Each mirror once: where the file was asked for, the attempts, the last failure.
    pub mirrors: Vec<String>,
    /// Whether every mirror only failed to answer or had no such file: nothing refused.
    pub unreached: bool,
    /// The next step, starting `: `, or empty.
    pub hint: String,
}

impl Error {
    /// Whether this failure is only that the file could not be fetched (no mirror reached,
    /// or none had it), with nothing refused: a device offline or pointed at the wrong URL,
    /// not bytes that failed verification. The device's exit code tells the two apart.
    pub fn could_not_fetch(&self) -> bool {
        match self {
            Error::NotFound { failures, .. } | Error::Fetch { failures, .. } => failures.unreached,
            _ => false,
        }
    }

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

impl<S> From<tuf_core::trusted::Refused<S>> for Error {
    fn from(refused: tuf_core::trusted::Refused<S>) -> Self {
        Error::Core(refused.error)
    }
}
