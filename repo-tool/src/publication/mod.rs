//! A publication: every file one `repo` command writes into the repository folder, made
//! visible all at once or not at all.
//!
//! Invariants:
//! - Nothing becomes visible until every new file is complete on disk: each is first
//!   written (or hard-linked) under an unpredictable temporary name beside its destination,
//!   then every filesystem written to is synced whole (one `syncfs` each, not an fsync per
//!   file and folder), and only then does any file take its name.
//! - Files then take their names in the order they were added (artifacts, then roles, then
//!   snapshot, then `timestamp.json`), so a reader that sees a file finds everything it
//!   points to.
//! - Once all names are given, they are synced the same way before the command reports
//!   success or removes what the publication replaces (a pending signature, staged
//!   artifacts now served).
//! - A failure at any point removes what was made and puts back what was replaced: the
//!   folder is byte for byte what it was.
//! - A versioned file (`N.<role>.json`, an artifact named by its hash) that exists is never
//!   rewritten: identical bytes are skipped, other bytes are refused before anything is
//!   written, and it is put in place with a hard link, which cannot replace a file that
//!   appeared meanwhile.

mod content;
mod error;
mod filesystems;
mod undo;

use std::io;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

pub(crate) use content::Content;
use content::{link_temp, same_content, write_temp};
pub(crate) use error::PublicationError;
use error::{io_error, Result};
use filesystems::Filesystems;
use undo::Undo;

#[derive(Debug)]
struct Entry {
    dest: PathBuf,
    content: Content,
    versioned: bool,
}

/// Files to write, in the order they become visible, and what to remove once they are.
#[derive(Debug, Default)]
pub(crate) struct Publication {
    entries: Vec<Entry>,
    remove_after: Vec<PathBuf>,
    empty_after: Vec<PathBuf>,
}

/// One entry on its way: its bytes, complete under a temporary name.
struct Prepared<'a> {
    entry: &'a Entry,
    tmp: TempPath,
}

impl Publication {
    /// An empty publication.
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// A file that, once published, never changes (`N.<role>.json`, a hashed artifact).
    pub(crate) fn versioned(&mut self, dest: impl Into<PathBuf>, content: Content) {
        self.entries.push(Entry {
            dest: dest.into(),
            content,
            versioned: true,
        });
    }

    /// A file replaced as a whole (`timestamp.json`, the staged index).
    pub(crate) fn replace(&mut self, dest: impl Into<PathBuf>, bytes: Vec<u8>) {
        self.entries.push(Entry {
            dest: dest.into(),
            content: Content::Bytes(bytes),
            versioned: false,
        });
    }

    /// A file removed once everything is published (a pending signature file).
    pub(crate) fn remove_after(&mut self, path: impl Into<PathBuf>) {
        self.remove_after.push(path.into());
    }

    /// A folder emptied once everything is published (staged artifacts now served).
    pub(crate) fn empty_after(&mut self, dir: impl Into<PathBuf>) {
        self.empty_after.push(dir.into());
    }

    /// Publishes everything, or nothing.
    pub(crate) fn commit(self) -> Result<()> {
        // Checked before anything is written.
        let mut todo = Vec::new();
        // The first entry for a name wins (a set: a release of 100,000 files makes 300,000).
        let mut seen = std::collections::HashSet::with_capacity(self.entries.len());
        for entry in &self.entries {
            if !seen.insert(entry.dest.as_path()) {
                continue;
            }
            if entry.versioned && exists(&entry.dest)? {
                if same_content(&entry.dest, &entry.content)? {
                    continue;
                }
                return Err(PublicationError::WouldRewrite {
                    path: entry.dest.clone(),
                });
            }
            todo.push(entry);
        }

        let mut undo = Undo::default();
        let result = place_all(&todo, &mut undo);
        match result {
            Ok(()) => {}
            Err(e) => {
                return Err(match (e, undo.run()) {
                    (e, Ok(())) => e,
                    (
                        PublicationError::Io {
                            action,
                            path,
                            source,
                        },
                        Err((undo_path, undo)),
                    ) => PublicationError::Incomplete {
                        action,
                        path,
                        source,
                        undo_path,
                        undo,
                    },
                    (e, Err(_)) => e,
                })
            }
        }
        // The old copies of replaced files go now: the publication stands.
        drop(undo);
        for path in &self.remove_after {
            match std::fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(PublicationError::Cleanup {
                        path: path.clone(),
                        source: e,
                    })
                }
                _ => {}
            }
        }
        for dir in &self.empty_after {
            empty_folder(dir).map_err(|source| PublicationError::Cleanup {
                path: dir.clone(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Writes every entry under a temporary name, syncs, then gives each its name in order,
/// and syncs again.
fn place_all(todo: &[&Entry], undo: &mut Undo) -> Result<()> {
    let mut dirs: Vec<&Path> = todo.iter().map(|e| parent(&e.dest)).collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        create_dirs(dir, undo)?;
    }
    // Opened before anything is written, so that a write the disk failed to take is
    // reported by the sync (a new folder is on its parent's filesystem: these cover them).
    let filesystems = Filesystems::holding(dirs.iter().copied())?;
    let mut prepared = Vec::with_capacity(todo.len());
    for entry in todo {
        prepared.push(Prepared {
            entry,
            tmp: write_temp(&entry.dest, &entry.content, parent(&entry.dest))?,
        });
    }
    // Every byte and folder on disk before any name appears.
    filesystems.sync()?;
    for Prepared { entry, tmp } in prepared {
        let dest = &entry.dest;
        if entry.versioned {
            // A hard link never replaces a file: one that appeared meanwhile is kept.
            std::fs::hard_link(&tmp, dest).map_err(io_error("placing", dest))?;
            undo.placed.push(dest.clone());
            tmp.close()
                .map_err(io_error("removing the temporary name of", dest))?;
        } else {
            let old = if exists(dest)? {
                Some(link_temp(dest, parent(dest))?)
            } else {
                None
            };
            std::fs::rename(&tmp, dest).map_err(io_error("placing", dest))?;
            let _ = tmp.keep();
            match old {
                Some(old) => undo.replaced.push((dest.clone(), old)),
                None => undo.placed.push(dest.clone()),
            }
        }
    }
    // Every name on disk before the old copies go and the command reports success.
    filesystems.sync()
}

fn parent(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn exists(path: &Path) -> Result<bool> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(io_error("reading", path)(e)),
    }
}

/// Creates `dir` and its missing parents, noting each for the undo.
fn create_dirs(dir: &Path, undo: &mut Undo) -> Result<()> {
    let mut missing = Vec::new();
    let mut at = dir;
    while !exists(at)? {
        missing.push(at.to_owned());
        match at.parent() {
            Some(p) if !p.as_os_str().is_empty() => at = p,
            _ => break,
        }
    }
    for d in missing.into_iter().rev() {
        std::fs::create_dir(&d).map_err(io_error("creating", &d))?;
        undo.created_dirs.push(d.clone());
        // Searchable by a web server running as another user, whatever the umask.
        std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .map_err(io_error("setting the mode of", &d))?;
    }
    Ok(())
}

/// Removes everything inside `dir`, keeping `dir`.
fn empty_folder(dir: &Path) -> io::Result<()> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<_> = walkdir::WalkDir::new(dir)
            .sort_by_file_name()
            .into_iter()
            .map(|e| {
                let e = e.unwrap();
                let bytes = if e.file_type().is_file() {
                    std::fs::read(e.path()).unwrap()
                } else {
                    Vec::new()
                };
                (e.path().display().to_string(), bytes)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn published_files_are_readable_by_a_server_running_as_another_user() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut publication = Publication::new();
        publication.versioned(
            dir.path().join("1.targets.json"),
            Content::Bytes(b"t".to_vec()),
        );
        publication.replace(dir.path().join("timestamp.json"), b"ts".to_vec());
        publication.commit().unwrap();
        for name in ["1.targets.json", "timestamp.json"] {
            let mode = std::fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644, "{name}");
        }
    }

    #[test]
    fn identical_versioned_file_is_skipped_and_other_bytes_refused() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("metadata");
        std::fs::create_dir(&meta).unwrap();
        std::fs::write(meta.join("3.snapshot.json"), b"first").unwrap();
        std::fs::write(meta.join("timestamp.json"), b"old").unwrap();

        let mut same = Publication::new();
        same.versioned(
            meta.join("3.snapshot.json"),
            Content::Bytes(b"first".to_vec()),
        );
        same.replace(meta.join("timestamp.json"), b"new".to_vec());
        same.commit().unwrap();
        assert_eq!(std::fs::read(meta.join("timestamp.json")).unwrap(), b"new");

        let before = listing(dir.path());
        let mut other = Publication::new();
        other.versioned(meta.join("4.targets.json"), Content::Bytes(b"t".to_vec()));
        other.versioned(
            meta.join("3.snapshot.json"),
            Content::Bytes(b"second".to_vec()),
        );
        other.replace(meta.join("timestamp.json"), b"newer".to_vec());
        let err = other.commit().unwrap_err();
        assert!(
            matches!(&err, PublicationError::WouldRewrite { path } if *path == meta.join("3.snapshot.json")),
            "{err:?}"
        );
        assert_eq!(before, listing(dir.path()));
    }

    #[test]
    fn names_as_long_as_a_file_name_can_be_publish() {
        let dir = tempfile::tempdir().unwrap();
        // 255 bytes, a multi-byte character across the cut of the temporary name.
        let long = format!("{}{}", "a".repeat(240), "ж".repeat(7));
        assert_eq!(long.len(), 254);
        let source = dir.path().join(format!("{long}b"));
        std::fs::write(&source, b"x").unwrap();
        let mut publication = Publication::new();
        publication.versioned(dir.path().join(format!("{long}c")), Content::LinkOf(source));
        publication.replace(dir.path().join(format!("{long}d")), b"y".to_vec());
        publication.commit().unwrap();
        publication = Publication::new();
        publication.replace(dir.path().join(format!("{long}d")), b"z".to_vec());
        publication.commit().unwrap();
        assert_eq!(
            std::fs::read(dir.path().join(format!("{long}c"))).unwrap(),
            b"x"
        );
        assert_eq!(
            std::fs::read(dir.path().join(format!("{long}d"))).unwrap(),
            b"z"
        );
    }

    #[test]
    fn a_failure_midway_puts_everything_back() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("metadata");
        std::fs::create_dir(&meta).unwrap();
        std::fs::write(meta.join("timestamp.json"), b"old").unwrap();
        let staged = dir.path().join("staged");
        std::fs::create_dir(&staged).unwrap();
        std::fs::write(staged.join("a"), b"artifact").unwrap();
        let before = listing(dir.path());

        let mut p = Publication::new();
        p.versioned(
            dir.path().join("targets/deep/x.a"),
            Content::LinkOf(staged.join("a")),
        );
        p.replace(meta.join("timestamp.json"), b"new".to_vec());
        // A destination whose folder is a file: it fails after the others were written.
        p.versioned(
            meta.join("timestamp.json/9.x.json"),
            Content::Bytes(b"x".to_vec()),
        );
        p.remove_after(staged.join("a"));
        assert!(matches!(p.commit(), Err(PublicationError::Io { .. })));
        assert_eq!(before, listing(dir.path()));
    }
}
