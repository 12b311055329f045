//! The filesystems a publication writes to, each flushed whole with one `syncfs(2)`.
//!
//! Invariant: every folder a publication writes into is on one of the filesystems held
//! here (one open folder per distinct device), so [`Filesystems::sync`] makes durable
//! everything written, created or renamed in those folders before it was called. One call
//! per filesystem replaces an fsync per file and per folder: signing 2,000 artifacts makes
//! the same two calls per filesystem as signing one.

use std::os::fd::OwnedFd;
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use super::error::{io_error, Result};

/// One open folder on each distinct filesystem a publication writes to.
pub(super) struct Filesystems {
    /// (device, a folder on it, the folder's path for messages).
    held: Vec<(u64, OwnedFd, std::path::PathBuf)>,
}

impl Filesystems {
    /// The filesystems holding `dirs` (which exist), each opened once.
    pub(super) fn holding<'a>(dirs: impl IntoIterator<Item = &'a Path>) -> Result<Self> {
        let mut held: Vec<(u64, OwnedFd, std::path::PathBuf)> = Vec::new();
        for dir in dirs {
            let fd = rustix::fs::open(
                dir,
                OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
                Mode::empty(),
            )
            .map_err(|e| io_error("opening the folder", dir)(e.into()))?;
            // The device of the folder opened, not of a path looked at again later.
            let dev = rustix::fs::fstat(&fd)
                .map_err(|e| io_error("reading", dir)(e.into()))?
                .st_dev;
            if !held.iter().any(|(d, _, _)| *d == dev) {
                held.push((dev, fd, dir.to_owned()));
            }
        }
        Ok(Self { held })
    }

    /// Flushes each filesystem to disk: file bytes, new folders and names alike. A write
    /// that failed to reach the disk since [`Filesystems::holding`] opened it is reported
    /// here (Linux 5.8 and later), so it is opened before the publication writes anything.
    pub(super) fn sync(&self) -> Result<()> {
        for (_, fd, dir) in &self.held {
            rustix::fs::syncfs(fd)
                .map_err(|e| io_error("syncing the filesystem of", dir)(e.into()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_filesystem_is_held_once() {
        let disk = tempfile::tempdir().unwrap();
        let (a, b) = (disk.path().join("a"), disk.path().join("a/b"));
        std::fs::create_dir_all(&b).unwrap();
        let one = Filesystems::holding([a.as_path(), b.as_path(), disk.path()]).unwrap();
        assert_eq!(one.held.len(), 1);
        one.sync().unwrap();

        // /dev/shm is a tmpfs, another filesystem than the temporary folder's.
        let shm = Path::new("/dev/shm");
        let dev = |p: &Path| rustix::fs::stat(p).unwrap().st_dev;
        assert_ne!(
            dev(shm),
            dev(disk.path()),
            "the test needs /dev/shm on a filesystem of its own"
        );
        let two = Filesystems::holding([a.as_path(), shm, b.as_path()]).unwrap();
        assert_eq!(two.held.len(), 2);
        two.sync().unwrap();
    }
}
