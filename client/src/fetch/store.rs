//! The device's trusted metadata on disk: one file per role under its unversioned name
//! (`root.json`, `timestamp.json`, a delegated role as its percent-encoded name), each
//! replaced atomically. What is here was verified before it was written, and is the
//! reference that refuses a replayed older file, across runs and reboots.
//!
//! Beside the bytes of a verified role, the store keeps the digest of the key set that
//! verified it, in an extended attribute set on the temporary file before the rename, so
//! the two are replaced together. Where the file system keeps no extended attributes the
//! digest is simply absent, and the stored role is verified by its signatures again.

use std::path::{Path, PathBuf};

use std::io::Read;

use crate::error::{Error, Result};
use crate::fs::{open_regular, read_bounded, write_atomic, write_atomic_with};
use crate::names::RoleName;
use crate::verify::KeySetDigest;

/// The extended attribute that holds the key set a stored role was verified with.
const KEY_SET_ATTRIBUTE: &str = "user.updater.verified-key-set";

/// A stored role: its bytes, and the key set they were verified with where it was kept.
pub struct StoredRole {
    pub bytes: Vec<u8>,
    pub verified_with: Option<KeySetDigest>,
}

/// The metadata folder.
#[derive(Debug, Clone)]
pub struct MetadataStore {
    dir: PathBuf,
}

impl MetadataStore {
    /// The store in `dir`, which must exist.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such folder"),
            ));
        }
        Ok(MetadataStore {
            dir: dir.to_path_buf(),
        })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where `role` is kept. The name is percent-encoded, so it is always one plain file
    /// name inside the folder, whatever the role is called.
    pub fn path(&self, role: &RoleName) -> PathBuf {
        self.dir.join(format!("{}.json", role.file_stem()))
    }

    /// The stored bytes of `role`, if any, at most `limit` bytes.
    pub fn read(&self, role: &RoleName, limit: u64) -> Result<Option<Vec<u8>>> {
        let path = self.path(role);
        match read_bounded(&path, limit) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Replaces the stored `role` with verified bytes.
    pub fn write(&self, role: &RoleName, bytes: &[u8]) -> Result<()> {
        let path = self.path(role);
        write_atomic(&path, bytes).map_err(|e| Error::io(path, e))
    }

    /// The stored bytes of `role` (at most `limit`) with the key set they were verified
    /// with, both read through one open file.
    pub fn read_verified(&self, role: &RoleName, limit: u64) -> Result<Option<StoredRole>> {
        let path = self.path(role);
        let file = match open_regular(&path) {
            Ok(file) => file,
            Err(Error::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                return Ok(None)
            }
            Err(e) => return Err(e),
        };
        let too_large = || Error::TooLarge {
            what: path.display().to_string(),
            limit,
        };
        if file.metadata().map_err(|e| Error::io(&path, e))?.len() > limit {
            return Err(too_large());
        }
        let mut digest = [0u8; 256];
        let verified_with = rustix::fs::fgetxattr(&file, KEY_SET_ATTRIBUTE, &mut digest[..])
            .ok()
            .and_then(|n| std::str::from_utf8(digest.get(..n)?).ok())
            .and_then(KeySetDigest::from_hex);
        let mut bytes = Vec::new();
        file.take(limit.saturating_add(1))
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&path, e))?;
        if bytes.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(Some(StoredRole {
            bytes,
            verified_with,
        }))
    }

    /// Replaces the stored `role` with bytes verified under `key_set`, and keeps the key
    /// set beside them. A file system without extended attributes keeps the bytes alone.
    pub fn write_verified(
        &self,
        role: &RoleName,
        bytes: &[u8],
        key_set: &KeySetDigest,
    ) -> Result<()> {
        let path = self.path(role);
        write_atomic_with(&path, bytes, |file| {
            // Not kept (no extended attributes here): the role is verified again next time.
            let _ = rustix::fs::fsetxattr(
                file,
                KEY_SET_ATTRIBUTE,
                key_set.to_hex().as_bytes(),
                rustix::fs::XattrFlags::empty(),
            );
        })
        .map_err(|e| Error::io(path, e))
    }

    /// Forgets `role` (after a key rotation made it unverifiable).
    pub fn remove(&self, role: &RoleName) -> Result<()> {
        let path = self.path(role);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Error::io(path, e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_role_name_stays_one_file_in_the_folder() {
        let dir = tempfile::tempdir().unwrap();
        let store = MetadataStore::open(dir.path()).unwrap();
        for name in ["../x", "/etc/passwd", "a/b", "..", "%2e%2e"] {
            let role = RoleName::new(name).unwrap();
            let path = store.path(&role);
            assert_eq!(path.parent(), Some(dir.path()), "{name}");
            store.write(&role, b"{}").unwrap();
        }
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 5);
    }
}
