//! A publication: every file one `repo` command writes into the repository folder, made
//! visible all at once or not at all.
//!
//! Invariants:
//! - Nothing becomes visible until every new file is complete on disk: each is first
//!   written (or hard-linked) under an unpredictable temporary name beside its destination,
//!   and synced, with its folder.
//! - Files then take their names in the order they were added (artifacts, then roles, then
//!   snapshot, then `timestamp.json`), so a reader that sees a file finds everything it
//!   points to.
//! - A failure at any point removes what was made and puts back what was replaced: the
//!   folder is byte for byte what it was.
//! - A versioned file (`N.<role>.json`, an artifact named by its hash) that exists is never
//!   rewritten: identical bytes are skipped, other bytes are refused before anything is
//!   written, and it is put in place with a hard link, which cannot replace a file that
//!   appeared meanwhile.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

/// Why a publication wrote nothing.
#[derive(Debug, thiserror::Error)]
pub enum PublicationError {
    /// A versioned file exists with other bytes.
    #[error("{path} is already published with other bytes, and a published versioned file never changes; nothing was written")]
    WouldRewrite { path: PathBuf },
    /// A file system call failed; what was made is undone.
    #[error("{action} {path} (nothing was published; the repository is as it was)")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A file system call failed and so did undoing it: the folder needs a look.
    #[error("{action} {path} failed, and undoing the publication failed at {undo_path}: {undo}")]
    Incomplete {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
        undo_path: PathBuf,
        undo: io::Error,
    },
    /// Everything was published, but a staged file it replaces could not be removed.
    #[error("published, but could not remove {path}")]
    Cleanup {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

type Result<T> = std::result::Result<T, PublicationError>;

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> PublicationError {
    let path = path.to_owned();
    move |source| PublicationError::Io {
        action,
        path,
        source,
    }
}

/// What a file's bytes are.
#[derive(Debug)]
pub enum Content {
    Bytes(Vec<u8>),
    /// The bytes of an existing file (a staged artifact), hard-linked: no copy, and the
    /// source stays where it is until the publication is complete.
    LinkOf(PathBuf),
}

#[derive(Debug)]
struct Entry {
    dest: PathBuf,
    content: Content,
    versioned: bool,
}

/// Files to write, in the order they become visible, and what to remove once they are.
#[derive(Debug, Default)]
pub struct Publication {
    entries: Vec<Entry>,
    remove_after: Vec<PathBuf>,
    empty_after: Vec<PathBuf>,
}

/// One entry on its way: its bytes, complete and synced under a temporary name.
struct Prepared<'a> {
    entry: &'a Entry,
    tmp: TempPath,
}

/// What a commit has done so far, to undo it.
#[derive(Default)]
struct Undo {
    created_dirs: Vec<PathBuf>,
    /// Destinations that did not exist before.
    placed: Vec<PathBuf>,
    /// (destination, the old file kept under a temporary name).
    replaced: Vec<(PathBuf, TempPath)>,
}

impl Undo {
    /// Puts everything back, newest first; the first failure is returned with its path.
    fn run(self) -> std::result::Result<(), (PathBuf, io::Error)> {
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

impl Publication {
    /// An empty publication.
    pub fn new() -> Self {
        Self::default()
    }

    /// A file that, once published, never changes (`N.<role>.json`, a hashed artifact).
    pub fn versioned(&mut self, dest: impl Into<PathBuf>, content: Content) {
        self.entries.push(Entry {
            dest: dest.into(),
            content,
            versioned: true,
        });
    }

    /// A file replaced as a whole (`timestamp.json`, the staged index).
    pub fn replace(&mut self, dest: impl Into<PathBuf>, bytes: Vec<u8>) {
        self.entries.push(Entry {
            dest: dest.into(),
            content: Content::Bytes(bytes),
            versioned: false,
        });
    }

    /// A file removed once everything is published (a pending signature file).
    pub fn remove_after(&mut self, path: impl Into<PathBuf>) {
        self.remove_after.push(path.into());
    }

    /// A folder emptied once everything is published (staged artifacts now served).
    pub fn empty_after(&mut self, dir: impl Into<PathBuf>) {
        self.empty_after.push(dir.into());
    }

    /// Publishes everything, or nothing.
    pub fn commit(self) -> Result<()> {
        // Checked before anything is written.
        let mut todo = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if self.entries[..i].iter().any(|e| e.dest == entry.dest) {
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

/// Writes every entry under a temporary name, syncs, then gives each its name in order.
fn place_all(todo: &[&Entry], undo: &mut Undo) -> Result<()> {
    let mut prepared = Vec::with_capacity(todo.len());
    for entry in todo {
        let dir = parent(&entry.dest);
        create_dirs(dir, undo)?;
        prepared.push(Prepared {
            entry,
            tmp: write_temp(entry, dir)?,
        });
    }
    let mut dirs: Vec<&Path> = todo.iter().map(|e| parent(&e.dest)).collect();
    dirs.sort();
    dirs.dedup();
    for dir in &dirs {
        sync_dir(dir)?;
    }
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
    for dir in &dirs {
        sync_dir(dir)?;
    }
    for dir in &undo.created_dirs {
        sync_dir(parent(dir))?;
    }
    Ok(())
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
        undo.created_dirs.push(d);
    }
    Ok(())
}

/// `.NAME.`: temporary files are hidden and say what they will become. NAME is cut so that
/// the temporary name (with tempfile's 6 random characters and `.tmp`) still fits in one
/// file name when NAME itself takes all of it.
fn temp_prefix(dest: &Path) -> String {
    const ROOM: usize =
        updater::conventions::name_budget::NAME_MAX - ".".len() - ".".len() - 6 - ".tmp".len();
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut cut = name.len().min(ROOM);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!(".{}.", &name[..cut])
}

/// The entry's bytes under a new, unpredictable name in `dir` (created `O_EXCL`), synced.
fn write_temp(entry: &Entry, dir: &Path) -> Result<TempPath> {
    match &entry.content {
        Content::Bytes(bytes) => {
            let mut file = tempfile::Builder::new()
                .prefix(&temp_prefix(&entry.dest))
                .suffix(".tmp")
                .tempfile_in(dir)
                .map_err(io_error("creating a temporary file for", &entry.dest))?;
            file.write_all(bytes)
                .and_then(|()| file.as_file().sync_all())
                .map_err(io_error("writing", &entry.dest))?;
            Ok(file.into_temp_path())
        }
        Content::LinkOf(source) => {
            let tmp = link_temp(source, dir)?;
            File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io_error("syncing", source))?;
            Ok(tmp)
        }
    }
}

/// A second, temporary name for `source` in `dir` (a hard link; it fails rather than
/// replace anything, and a name taken meanwhile is retried).
fn link_temp(source: &Path, dir: &Path) -> Result<TempPath> {
    let file = tempfile::Builder::new()
        .prefix(&temp_prefix(source))
        .suffix(".tmp")
        .make_in(dir, |path| std::fs::hard_link(source, path))
        .map_err(io_error("linking", source))?;
    Ok(file.into_temp_path())
}

/// Whether the file at `dest` holds exactly `content`.
fn same_content(dest: &Path, content: &Content) -> Result<bool> {
    let meta = std::fs::symlink_metadata(dest).map_err(io_error("reading", dest))?;
    if !meta.is_file() {
        return Ok(false);
    }
    match content {
        Content::Bytes(bytes) => {
            if meta.len() != bytes.len() as u64 {
                return Ok(false);
            }
            let on_disk = std::fs::read(dest).map_err(io_error("reading", dest))?;
            Ok(on_disk == *bytes)
        }
        Content::LinkOf(source) => {
            let theirs = std::fs::metadata(source).map_err(io_error("reading", source))?;
            if (theirs.dev(), theirs.ino()) == (meta.dev(), meta.ino()) {
                return Ok(true);
            }
            if theirs.len() != meta.len() {
                return Ok(false);
            }
            same_bytes(source, dest).map_err(io_error("comparing", dest))
        }
    }
}

fn same_bytes(a: &Path, b: &Path) -> io::Result<bool> {
    let (mut a, mut b) = (File::open(a)?, File::open(b)?);
    let (mut x, mut y) = (vec![0u8; 64 * 1024], vec![0u8; 64 * 1024]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(b.read(&mut y[..1])? == 0);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    updater::fs::sync_dir(dir).map_err(io_error("syncing the folder", dir))
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
