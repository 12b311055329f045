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

use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey};

use crate::report::outbox::{Outbox, OutboxError};
use crate::secret_file::{read_secret, write_secret, SecretFileError};

/// What errors call this file.
const WHAT: &str = "the device key";

/// Why the device key could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Unreadable, or not a file only this user can use.
    #[error(transparent)]
    File(#[from] SecretFileError),
    #[error("{path} is not an ed25519 private key in PKCS#8 PEM")]
    NotKey { path: PathBuf },
    #[error("cannot create the device key {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the system's random generator failed: {0}")]
    Random(String),
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
        let bytes = read_secret(WHAT, path, crate::limits::MAX_KEY_FILE_BYTES)?;
        let not_key = || KeyError::NotKey {
            path: path.to_owned(),
        };
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

    /// Writes the private key in PKCS#8 PEM to `path` (see [`write_secret`]).
    fn write(&self, path: &Path, replace: bool) -> Result<(), KeyError> {
        let create = |source| KeyError::Create {
            path: path.to_owned(),
            source,
        };
        let pem = self
            .signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| create(std::io::Error::other(e.to_string())))?;
        write_secret(path, pem.as_bytes(), replace).map_err(create)
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

#[cfg(test)]
#[path = "key_tests.rs"]
mod tests;
