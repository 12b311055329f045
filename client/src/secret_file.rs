//! The device's private key files (its report key, its decryption identity): read only
//! from a file only its owner can use, and written private from the first byte.
//!
//! Invariant: a secret is read only from a regular file reached without a symbolic link
//! (`O_NOFOLLOW`, checked on the open handle), owned by the user reading it, with no group
//! or other permission bits. It is written under a temporary name created `O_EXCL` with mode
//! 0600, synced, then linked to its name: never readable by others, not even for an
//! instant, and an existing file is replaced only when asked, in one rename. Errors name the
//! file and never hold its bytes.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Why a secret file could not be read. `what` names the secret ("the device key").
#[derive(Debug, thiserror::Error)]
pub enum SecretFileError {
    #[error("cannot read {what} {path}: {source}")]
    Read {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{what} {path} is a symbolic link; refused (use the key file itself)")]
    Symlink { what: &'static str, path: PathBuf },
    #[error("{what} {path} is {kind}, not a regular file; refused")]
    NotRegular {
        what: &'static str,
        path: PathBuf,
        kind: &'static str,
    },
    #[error(
        "{what} {path} has mode {mode:o}: others than its owner may use it; refused (chmod 600 it)"
    )]
    Permissions {
        what: &'static str,
        path: PathBuf,
        mode: u32,
    },
    #[error("{what} {path} is owned by user {owner}, not by this user ({user}); refused")]
    Owner {
        what: &'static str,
        path: PathBuf,
        owner: u32,
        user: u32,
    },
    #[error("{what} {path} is larger than {limit} bytes: not a key file")]
    TooLarge {
        what: &'static str,
        path: PathBuf,
        limit: u64,
    },
}

/// Reads the secret file at `path` (at most `limit` bytes) if it is safe to trust.
pub(crate) fn read_secret(
    what: &'static str,
    path: &Path,
    limit: u64,
) -> Result<Vec<u8>, SecretFileError> {
    let file = open_secret(what, path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| SecretFileError::Read {
            what,
            path: path.to_owned(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(SecretFileError::TooLarge {
            what,
            path: path.to_owned(),
            limit,
        });
    }
    Ok(bytes)
}

/// Opens the secret file at `path` for reading if it is safe to trust: not a symbolic link
/// (`O_NOFOLLOW`, so none can be swapped in after a check), a regular file, owned by this
/// user, with no group or other permission bits (checked on the open handle).
fn open_secret(what: &'static str, path: &Path) -> Result<std::fs::File, SecretFileError> {
    let path_buf = || path.to_owned();
    let read = |source| SecretFileError::Read {
        what,
        path: path_buf(),
        source,
    };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
                SecretFileError::Symlink {
                    what,
                    path: path_buf(),
                }
            }
            _ => read(source),
        })?;
    crate::fs::check_regular(&file).map_err(|kind| SecretFileError::NotRegular {
        what,
        path: path_buf(),
        kind,
    })?;
    let meta = file.metadata().map_err(read)?;
    if meta.mode() & 0o077 != 0 {
        return Err(SecretFileError::Permissions {
            what,
            path: path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    let user = rustix::process::geteuid().as_raw();
    if meta.uid() != user {
        return Err(SecretFileError::Owner {
            what,
            path: path_buf(),
            owner: meta.uid(),
            user,
        });
    }
    Ok(file)
}

/// Writes `bytes` as the file `path`, mode 0600 from its creation: a temporary file made
/// with `O_EXCL` and mode 0600 beside it, synced, then linked to `path` (refused with
/// `AlreadyExists` if `path` exists, unless `replace`: then renamed over it in one step),
/// and the folder synced.
pub(crate) fn write_secret(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".device-key.")
        .suffix(".tmp")
        .permissions(std::fs::Permissions::from_mode(0o600))
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    tmp.as_file().sync_all()?;
    if replace {
        tmp.persist(path).map_err(|e| e.error)?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| e.error)?;
    }
    crate::fs::sync_dir(dir)
}
