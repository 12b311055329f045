//! Free space and whole-filesystem flushes for the install folder.

use std::fs::File;
use std::io;
use std::path::Path;

/// Free bytes for an unprivileged writer on `dir`'s filesystem.
pub fn free_bytes(dir: &Path) -> io::Result<u64> {
    let stat = rustix::fs::statvfs(dir)?;
    Ok(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// Flushes the filesystem holding `dir` (all of a staged tree in one call).
pub(crate) fn sync_filesystem(dir: &Path) -> io::Result<()> {
    let handle = File::open(dir)?;
    Ok(rustix::fs::syncfs(&handle)?)
}
