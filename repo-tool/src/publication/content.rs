//! A file's bytes on their way into the repository: written (or hard-linked) under a hidden,
//! unpredictable temporary name beside their destination, or compared with the file
//! already there. Nothing here gives a file its final name, and nothing here syncs: the
//! publication flushes each filesystem once, after every temporary file is written.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::error::{io_error, Result};

/// What a file's bytes are.
#[derive(Debug)]
pub(crate) enum Content {
    Bytes(Vec<u8>),
    /// The bytes of an existing file (a staged artifact), hard-linked: no copy, and the
    /// source stays where it is until the publication is complete.
    LinkOf(PathBuf),
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

/// `content` (to become `dest`) under a new, unpredictable name in `dir` (created `O_EXCL`),
/// not yet synced.
pub(super) fn write_temp(dest: &Path, content: &Content, dir: &Path) -> Result<TempPath> {
    match content {
        Content::Bytes(bytes) => {
            // Readable by all: `public/` is served by a web server that runs as another user
            // (a temporary file's own mode, 0600, would publish files nginx cannot read).
            let mut file = tempfile::Builder::new()
                .prefix(&temp_prefix(dest))
                .suffix(".tmp")
                .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .tempfile_in(dir)
                .map_err(io_error("creating a temporary file for", dest))?;
            file.write_all(bytes)
                // Set again, whatever the umask made of it at creation.
                .and_then(|()| {
                    file.as_file()
                        .set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644))
                })
                .map_err(io_error("writing", dest))?;
            Ok(file.into_temp_path())
        }
        Content::LinkOf(source) => {
            let tmp = link_temp(source, dir)?;
            std::fs::set_permissions(&tmp, std::os::unix::fs::PermissionsExt::from_mode(0o644))
                .map_err(io_error("setting the mode of", source))?;
            Ok(tmp)
        }
    }
}

/// A second, temporary name for `source` in `dir` (a hard link; it fails rather than
/// replace anything, and a name taken meanwhile is retried).
pub(super) fn link_temp(source: &Path, dir: &Path) -> Result<TempPath> {
    let file = tempfile::Builder::new()
        .prefix(&temp_prefix(source))
        .suffix(".tmp")
        .make_in(dir, |path| std::fs::hard_link(source, path))
        .map_err(io_error("linking", source))?;
    Ok(file.into_temp_path())
}

/// Whether the file at `dest` holds exactly `content`.
pub(super) fn same_content(dest: &Path, content: &Content) -> Result<bool> {
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
