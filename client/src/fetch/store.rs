//! The device's trusted metadata on disk: one file per role under its unversioned name
//! (`root.json`, `timestamp.json`, a delegated role as its percent-encoded name), each
//! replaced atomically. What is here was verified before it was written, and is the
//! reference that refuses a replayed older file, across runs and reboots.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fs::{read_bounded, write_atomic};
use crate::names::RoleName;

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
