//! The device's report key: one ed25519 key per device, in one file.
//!
//! Invariant: the private key file is created with mode 0600 under a temporary name
//! (`O_EXCL`), written and synced, then linked to its name without replacing anything: it
//! is never readable by others, not even for an instant, and an existing key is never
//! overwritten (only `replace`, for `updater keygen --replace`, swaps it, atomically).
//! A key is read only from a regular file, not through a symbolic link, owned by the
//! user reading it, with no group or other permission bits. A key once made is recorded
//! (its public half) in the outbox's counters, so a key file that goes missing is refused
//! rather than silently replaced by a new key no collector has enrolled. Key bytes never
//! reach a message: errors name only the file.

use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey};

use crate::report::outbox::{Outbox, OutboxError};

/// Why the device key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the device key {path}: {source}")]
    Read { path: PathBuf, source: crate::Error },
    #[error("{path} is not an ed25519 private key in PKCS#8 PEM")]
    NotKey { path: PathBuf },
    #[error("cannot create the device key {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the system's random generator failed: {0}")]
    Random(String),
    #[error("the device key {path} is a symbolic link; refused (use the key file itself)")]
    Symlink { path: PathBuf },
    #[error("the device key {path} is {kind}, not a regular file; refused")]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error("the device key {path} has mode {mode:o}: others than its owner may use it; refused (chmod 600 it)")]
    Permissions { path: PathBuf, mode: u32 },
    #[error("the device key {path} is owned by user {owner}, not by this user ({user}); refused")]
    Owner {
        path: PathBuf,
        owner: u32,
        user: u32,
    },
    #[error(
        "the device key {path} is missing, but this device signed its reports with key \
             {public}: a new key would not be enrolled; run `updater keygen --replace` and \
             enroll the new key with the collector (re-enroll the device)"
    )]
    Lost { path: PathBuf, public: String },
    #[error(transparent)]
    Outbox(#[from] OutboxError),
}

/// The device's signing key, as loaded from its file.
pub struct DeviceKey {
    signing: SigningKey,
}

impl std::fmt::Debug for DeviceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceKey({})", self.public_hex())
    }
}

impl DeviceKey {
    /// Reads the key at `path`: a regular file, not a symbolic link, owned by this user,
    /// mode 0600 or tighter.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let file = open_private(path)?;
        let read = |source: std::io::Error| KeyError::Read {
            path: path.to_owned(),
            source: crate::Error::io(path, source),
        };
        let limit = crate::limits::MAX_KEY_FILE_BYTES;
        let mut bytes = Vec::new();
        file.take(limit + 1).read_to_end(&mut bytes).map_err(read)?;
        let not_key = || KeyError::NotKey {
            path: path.to_owned(),
        };
        if bytes.len() as u64 > limit {
            return Err(not_key());
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| not_key())?;
        let signing = SigningKey::from_pkcs8_pem(text).map_err(|_| not_key())?;
        Ok(DeviceKey { signing })
    }

    /// Reads the key at `path`, or makes one there if there is none and `outbox` knows of
    /// no earlier key (a lost key is refused: [`KeyError::Lost`]). Returns the key and
    /// whether it was made now; the outbox records its public half.
    pub fn load_or_create(path: &Path, outbox: &Outbox) -> Result<(Self, bool), KeyError> {
        let known = outbox.known_key()?;
        let (key, created) = match std::fs::symlink_metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match known.clone() {
                Some(public) => {
                    return Err(KeyError::Lost {
                        path: path.to_owned(),
                        public,
                    })
                }
                None => match Self::create(path) {
                    Ok(key) => (key, true),
                    // Made meanwhile by another process: use that one.
                    Err(KeyError::Create { source, .. })
                        if source.kind() == std::io::ErrorKind::AlreadyExists =>
                    {
                        (Self::load(path)?, false)
                    }
                    Err(e) => return Err(e),
                },
            },
            _ => (Self::load(path)?, false),
        };
        if known.as_deref() != Some(key.public_hex().as_str()) {
            outbox.record_key(&key.public_hex())?;
        }
        Ok((key, created))
    }

    /// Makes a new key and puts it at `path` in one rename, replacing any key there, and
    /// records it in `outbox`: for a lost or leaked key. The device must be enrolled again.
    pub fn replace(path: &Path, outbox: &Outbox) -> Result<Self, KeyError> {
        let key = Self::generate()?;
        key.write(path, true)?;
        outbox.record_key(&key.public_hex())?;
        Ok(key)
    }

    /// Makes a new key at `path`; an existing file there is an `AlreadyExists` error.
    fn create(path: &Path) -> Result<Self, KeyError> {
        let key = Self::generate()?;
        key.write(path, false)?;
        Ok(key)
    }

    /// Writes the private key in PKCS#8 PEM to `path` (see [`write_private`]).
    fn write(&self, path: &Path, replace: bool) -> Result<(), KeyError> {
        let create = |source| KeyError::Create {
            path: path.to_owned(),
            source,
        };
        let pem = self
            .signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| create(std::io::Error::other(e.to_string())))?;
        write_private(path, pem.as_bytes(), replace).map_err(create)
    }

    /// A new key held in memory only: for simulated devices (benchmarks, tests) that sign
    /// reports without a file.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        Ok(DeviceKey {
            signing: SigningKey::from_bytes(&seed),
        })
    }

    /// The public key, 64 hex digits: what reports carry and collectors enroll.
    pub fn public_hex(&self) -> String {
        hex::encode(self.signing.verifying_key().as_bytes())
    }

    /// The ed25519 signature of `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> [u8; 64] {
        self.signing.sign(message).to_bytes()
    }
}

/// Opens the key file at `path` for reading if it is safe to trust: not a symbolic link
/// (`O_NOFOLLOW`, so none can be swapped in after a check), a regular file, owned by this
/// user, with no group or other permission bits (checked on the open handle).
fn open_private(path: &Path) -> Result<std::fs::File, KeyError> {
    let path_buf = || path.to_owned();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags((rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32)
        .open(path)
        .map_err(|source| match source.raw_os_error() {
            Some(code) if code == rustix::io::Errno::LOOP.raw_os_error() => {
                KeyError::Symlink { path: path_buf() }
            }
            _ => KeyError::Read {
                path: path_buf(),
                source: crate::Error::io(path, source),
            },
        })?;
    crate::fs::check_regular(&file).map_err(|kind| KeyError::NotRegular {
        path: path_buf(),
        kind,
    })?;
    let meta = file.metadata().map_err(|source| KeyError::Read {
        path: path_buf(),
        source: crate::Error::io(path, source),
    })?;
    if meta.mode() & 0o077 != 0 {
        return Err(KeyError::Permissions {
            path: path_buf(),
            mode: meta.mode() & 0o7777,
        });
    }
    let user = rustix::process::geteuid().as_raw();
    if meta.uid() != user {
        return Err(KeyError::Owner {
            path: path_buf(),
            owner: meta.uid(),
            user,
        });
    }
    Ok(file)
}

/// Writes `bytes` as the file `path`, mode 0600 from its creation: a temporary file made
/// with `O_EXCL` and mode 0600 beside it, synced, then linked to `path` (refused if `path`
/// exists, unless `replace`: then renamed over it in one step), and the folder synced.
fn write_private(path: &Path, bytes: &[u8], replace: bool) -> std::io::Result<()> {
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

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
