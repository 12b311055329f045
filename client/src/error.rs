//! Everything that can make metadata or an artifact untrustworthy, said in words.

use std::path::PathBuf;

use crate::fetch::mirrors::{MirrorFailure, Serves};
use crate::fetch::transport::FetchError;
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
    #[error("{what}: not found on any mirror ({}){}", listed(.failures), Serves::not_found_hint(*.serves))]
    NotFound {
        what: String,
        serves: Option<Serves>,
        failures: Vec<MirrorFailure>,
    },
    /// No mirror delivered the file, and none said it has none: each mirror once, with its
    /// attempts and its last failure.
    #[error("{what}: could not be fetched ({}){}", listed(.failures), fetch_hint(*.serves, .failures))]
    Fetch {
        what: String,
        serves: Option<Serves>,
        failures: Vec<MirrorFailure>,
    },
}

/// Each mirror's failure, `; `-separated.
fn listed(failures: &[MirrorFailure]) -> String {
    let words: Vec<String> = failures.iter().map(|f| f.to_string()).collect();
    words.join("; ")
}

/// The next step after a failed fetch, when every mirror only failed to answer.
fn fetch_hint(serves: Option<Serves>, failures: &[MirrorFailure]) -> String {
    if failures.iter().all(|f| unreached(&f.error)) {
        Serves::unreachable_hint(serves)
    } else {
        String::new()
    }
}

/// Whether a mirror's failure only says that it could not be reached or would not serve,
/// nothing about bytes it sent: the network, a server's trouble, a missing file, or the
/// mirror turning down this device's certificate (a slow mirror too: slowness is no proof
/// of an attack). A file larger than its limit, a local mirror's unsafe path, or resumed
/// bytes that did not match is a refusal of what the mirror offered.
fn unreached(error: &FetchError) -> bool {
    match error {
        FetchError::NotFound
        | FetchError::Status(_)
        | FetchError::TimedOut(_)
        | FetchError::Io(_)
        | FetchError::TooSlow { .. }
        | FetchError::ClientCertificate { .. } => true,
        FetchError::TooLarge { .. }
        | FetchError::Unsafe { .. }
        | FetchError::ResumedMismatch(_) => false,
    }
}

impl Error {
    /// Whether this failure is only that the file could not be fetched (no mirror reached,
    /// or none had it), with nothing refused: a device offline or pointed at the wrong URL,
    /// not bytes that failed verification. The device's exit code tells the two apart.
    pub fn could_not_fetch(&self) -> bool {
        match self {
            Error::NotFound { failures, .. } | Error::Fetch { failures, .. } => {
                failures.iter().all(|f| unreached(&f.error))
            }
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
