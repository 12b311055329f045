//! The device's report key: one ed25519 key per device, in one file.
//!
//! Invariant: the private key file is created with mode 0600 under a temporary name
//! (`O_EXCL`), written and synced, then linked to its name without replacing anything: it
//! is never readable by others, not even for an instant, and an existing key is never
//! overwritten. Key bytes never reach a message: errors name only the file.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey};

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
    /// Reads the key at `path`.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let bytes =
            crate::fs::read_bounded(path, crate::limits::MAX_KEY_FILE_BYTES).map_err(|source| {
                KeyError::Read {
                    path: path.to_owned(),
                    source,
                }
            })?;
        let not_key = || KeyError::NotKey {
            path: path.to_owned(),
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| not_key())?;
        let signing = SigningKey::from_pkcs8_pem(text).map_err(|_| not_key())?;
        Ok(DeviceKey { signing })
    }

    /// Reads the key at `path`, or makes one there if there is none. Returns the key and
    /// whether it was made now.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), KeyError> {
        match Self::create(path) {
            Ok(key) => Ok((key, true)),
            Err(KeyError::Create { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Ok((Self::load(path)?, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Makes a new key at `path`; an existing file there is an `AlreadyExists` error.
    fn create(path: &Path) -> Result<Self, KeyError> {
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed).map_err(|e| KeyError::Random(e.to_string()))?;
        let signing = SigningKey::from_bytes(&seed);
        let create = |source| KeyError::Create {
            path: path.to_owned(),
            source,
        };
        let pem = signing
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| create(std::io::Error::other(e.to_string())))?;
        write_private(path, pem.as_bytes()).map_err(create)?;
        Ok(DeviceKey { signing })
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

/// Writes `bytes` as a new file `path`, mode 0600 from its creation: a temporary file made
/// with `O_EXCL` and mode 0600 beside it, synced, then linked to `path` (refused if `path`
/// exists), and the folder synced.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
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
    tmp.persist_noclobber(path).map_err(|e| e.error)?;
    crate::fs::sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn made_once_private_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys/device.key");
        let (key, created) = DeviceKey::load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let (again, created) = DeviceKey::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(key.public_hex(), again.public_hex());
        assert_eq!(key.public_hex().len(), 64);
        // Only the key is left in its folder: no temporary file.
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        // The debug form shows the public half only.
        let seed_hex = hex::encode(key.signing.to_bytes());
        assert!(!format!("{key:?}").contains(&seed_hex));
    }

    #[test]
    fn a_file_that_is_not_a_key_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.key");
        std::fs::write(&path, b"not a key").unwrap();
        assert!(matches!(
            DeviceKey::load_or_create(&path),
            Err(KeyError::NotKey { .. })
        ));
        assert_eq!(std::fs::read(&path).unwrap(), b"not a key");
    }
}
