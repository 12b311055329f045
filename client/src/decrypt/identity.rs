//! The device's decryption identity: one X25519 key per device, in an age identity file
//! (what `age-keygen` writes, so `age -d -i FILE` reads it too).
//!
//! Invariant: the file is private from its first byte and read only when only its owner can
//! use it ([`crate::secret_file`]); the secret never reaches a message or a debug form,
//! only the public recipient (`age1…`) is ever printed. An existing identity is never
//! replaced: a device that lost it gets a new one only by `updater keygen --replace`, and
//! releases must then be encrypted to the new recipient.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use age::secrecy::ExposeSecret;

use crate::secret_file::{read_secret, write_secret, SecretFileError};

/// What errors call this file.
const WHAT: &str = "the device identity";

/// Why the identity could not be read or made.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error(transparent)]
    File(#[from] SecretFileError),
    #[error("this device has no decryption identity at {path}: run `updater keygen` to make one, then have the release admins add its recipient (`updater id`) to the release's recipients file")]
    Missing { path: PathBuf },
    #[error("{path} is not an age identity file (one line AGE-SECRET-KEY-1…, comments starting with #): {reason}")]
    NotIdentity { path: PathBuf, reason: &'static str },
    #[error("cannot create the device identity {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The device's X25519 identity, as loaded from its file.
pub struct DeviceIdentity {
    secret: age::x25519::Identity,
}

impl std::fmt::Debug for DeviceIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DeviceIdentity({})", self.recipient())
    }
}

impl DeviceIdentity {
    /// Reads the identity at `path`: a regular file only this user can use, holding exactly
    /// one X25519 secret key line.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let bytes = match read_secret(WHAT, path, crate::limits::MAX_KEY_FILE_BYTES) {
            Err(SecretFileError::Read { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Err(IdentityError::Missing {
                    path: path.to_owned(),
                })
            }
            other => other?,
        };
        let refused = |reason| IdentityError::NotIdentity {
            path: path.to_owned(),
            reason,
        };
        let text = std::str::from_utf8(&bytes).map_err(|_| refused("not UTF-8"))?;
        let mut keys = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'));
        let line = keys.next().ok_or_else(|| refused("no key line"))?;
        if keys.next().is_some() {
            return Err(refused("more than one key line"));
        }
        let secret = age::x25519::Identity::from_str(line)
            .map_err(|_| refused("the key line is not an X25519 secret key"))?;
        Ok(DeviceIdentity { secret })
    }

    /// Reads the identity at `path`, or makes one there if there is none. Returns it and
    /// whether it was made now.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), IdentityError> {
        match Self::load(path) {
            Err(IdentityError::Missing { .. }) => {}
            other => return other.map(|identity| (identity, false)),
        }
        let identity = DeviceIdentity {
            secret: age::x25519::Identity::generate(),
        };
        match identity.write(path, false) {
            Ok(()) => Ok((identity, true)),
            // Made meanwhile by another process: use that one.
            Err(IdentityError::Create { source, .. })
                if source.kind() == std::io::ErrorKind::AlreadyExists =>
            {
                Ok((Self::load(path)?, false))
            }
            Err(e) => Err(e),
        }
    }

    /// Makes a new identity and puts it at `path` in one rename, replacing any there: for a
    /// lost or leaked one. Releases must be encrypted to the new recipient.
    pub fn replace(path: &Path) -> Result<Self, IdentityError> {
        let identity = DeviceIdentity {
            secret: age::x25519::Identity::generate(),
        };
        identity.write(path, true)?;
        Ok(identity)
    }

    /// The public recipient (`age1…`): what a recipients file lists for this device.
    pub fn recipient(&self) -> String {
        self.secret.to_public().to_string()
    }

    /// The age identity, for decrypting.
    pub(crate) fn age(&self) -> &age::x25519::Identity {
        &self.secret
    }

    /// Writes the identity file as `age-keygen` does: two comment lines, then the key.
    fn write(&self, path: &Path, replace: bool) -> Result<(), IdentityError> {
        let secret = self.secret.to_string();
        let text = format!(
            "# the updater's device identity: decrypts artifacts encrypted to it\n\
             # public key: {}\n{}\n",
            self.recipient(),
            secret.expose_secret()
        );
        write_secret(path, text.as_bytes(), replace).map_err(|source| IdentityError::Create {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn made_once_private_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ids/device.identity");
        let missing = DeviceIdentity::load(&path).unwrap_err();
        assert!(
            matches!(missing, IdentityError::Missing { .. }),
            "{missing}"
        );
        let (identity, created) = DeviceIdentity::load_or_create(&path).unwrap();
        assert!(created);
        assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
        let (again, created) = DeviceIdentity::load_or_create(&path).unwrap();
        assert!(!created);
        assert_eq!(identity.recipient(), again.recipient());
        assert!(identity.recipient().starts_with("age1"));
        let secret = identity.secret.to_string().expose_secret().to_owned();
        assert!(std::fs::read_to_string(&path).unwrap().contains(&secret));
        assert!(!format!("{identity:?}").contains(&secret));
    }

    #[test]
    fn a_file_that_is_not_one_identity_is_refused_and_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.identity");
        let one = age::x25519::Identity::generate();
        let two = age::x25519::Identity::generate();
        let line = |i: &age::x25519::Identity| i.to_string().expose_secret().to_owned();
        for (text, reason) in [
            ("# nothing\n".to_owned(), "no key line"),
            (format!("{}\n{}\n", line(&one), line(&two)), "more than one"),
            ("AGE-SECRET-KEY-1XYZ\n".to_owned(), "not an X25519"),
        ] {
            std::fs::write(&path, &text).unwrap();
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
                .unwrap();
            let refused = DeviceIdentity::load_or_create(&path)
                .unwrap_err()
                .to_string();
            assert!(refused.contains(reason), "{refused}");
            assert_eq!(std::fs::read_to_string(&path).unwrap(), text);
        }
    }
}
