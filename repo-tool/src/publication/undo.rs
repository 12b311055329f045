//! What a publication's commit has done so far, so that a failure can put the folder back
//! byte for byte: folders created, files placed, and the old copies of files replaced.

use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

/// What a commit has done so far, to undo it.
#[derive(Default)]
pub(super) struct Undo {
    pub(super) created_dirs: Vec<PathBuf>,
    /// Destinations that did not exist before.
    pub(super) placed: Vec<PathBuf>,
    /// (destination, the old file kept under a temporary name).
    pub(super) replaced: Vec<(PathBuf, TempPath)>,
}

impl Undo {
    /// Puts everything back, newest first; the first failure is returned with its path.
    pub(super) fn run(self) -> std::result::Result<(), (PathBuf, io::Error)> {
        let mut first = None;
        let mut note = |path: &Path, r: io::Result<()>| {
            if let Err(e) = r {
                if first.is_none() {
                    first = Some((path.to_owned(), e));
                }
            }
        };
        for (dest, old) in self.replaced.into_iter().rev() {
            let r = std::fs::rename(&old, &dest);
            note(&dest, r);
            // The name `old` had is gone now (renamed) or still there: either way not ours.
            let _ = old.keep();
        }
        for dest in self.placed.iter().rev() {
            note(dest, std::fs::remove_file(dest));
        }
        for dir in self.created_dirs.iter().rev() {
            note(dir, std::fs::remove_dir(dir));
        }
        match first {
            Some(f) => Err(f),
            None => Ok(()),
        }
    }
}
