//! Why a publication wrote nothing (or, for `Cleanup`, everything but a clean-up), with the
//! path and the file system call that failed.

use std::io;
use std::path::{Path, PathBuf};

/// Why a publication wrote nothing.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PublicationError {
    /// A versioned file exists with other bytes.
    #[error("{path} is already published with other bytes, and a published versioned file never changes; nothing was written")]
    WouldRewrite { path: PathBuf },
    /// A file system call failed; what was made is undone.
    #[error("{action} {path} (nothing was published; the repository is as it was)")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file system call failed and so did undoing it: the folder needs a look.
    #[error("{action} {path} failed, and undoing the publication failed at {undo_path}: {undo}")]
    Incomplete {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
        undo_path: PathBuf,
        undo: io::Error,
    },
    /// Everything was published, but a staged file it replaces could not be removed.
    #[error("published, but could not remove {path}")]
    Cleanup {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

pub(super) type Result<T> = std::result::Result<T, PublicationError>;

pub(super) fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> PublicationError {
    let path = path.to_owned();
    move |source| PublicationError::Io {
        action,
        path,
        source,
    }
}
