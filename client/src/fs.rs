//! File reads with a size limit and writes that are atomic.
//!
//! Every local file the programs take (config, keys, roots, CA files, policy.xml) is read
//! through [`read_bounded`]: only a regular file is read, it is refused without blocking if
//! it is anything else (a FIFO, a device such as `/dev/zero`), and never more than its limit
//! plus one byte is read, however large the file is or grows.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use rustix::fs::{Mode, OFlags};

use crate::error::{Error, Result};

/// Reads all of `path`, refusing it once it passes `limit` bytes. Reading stops at the
/// limit: a huge or endless file costs at most `limit + 1` bytes of memory. Anything but a
/// regular file is refused at once (see [`open_regular`]).
pub fn read_bounded(path: &Path, limit: u64) -> Result<Vec<u8>> {
    let file = open_regular(path)?;
    let too_large = || Error::TooLarge {
        what: path.display().to_string(),
        limit,
    };
    // The size a regular file has now is known: refuse a large one before reading it.
    if file.metadata().map_err(|e| Error::io(path, e))?.len() > limit {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Opens `path` for reading if it is a regular file (following symbolic links, as a
/// command-line argument should). It is opened non-blocking, so that a FIFO without a
/// writer or a device cannot hang the open; its type is checked on the open handle (no
/// race with a rename), and only then is blocking I/O turned back on.
pub fn open_regular(path: &Path) -> Result<File> {
    let io = |e: rustix::io::Errno| Error::io(path, e.into());
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(io)?;
    check_regular(&fd).map_err(|kind| Error::NotRegularFile {
        path: path.to_owned(),
        kind,
    })?;
    let flags = rustix::fs::fcntl_getfl(&fd).map_err(io)?;
    rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK).map_err(io)?;
    Ok(File::from(fd))
}

/// `Ok` if `fd` is a regular file; otherwise what it is, in words.
pub(crate) fn check_regular(fd: impl rustix::fd::AsFd) -> std::result::Result<(), &'static str> {
    use rustix::fs::FileType;
    let stat = rustix::fs::fstat(fd).map_err(|_| "unreadable")?;
    match FileType::from_raw_mode(stat.st_mode) {
        FileType::RegularFile => Ok(()),
        FileType::Directory => Err("a directory"),
        FileType::Fifo => Err("a FIFO"),
        FileType::CharacterDevice => Err("a character device"),
        FileType::BlockDevice => Err("a block device"),
        FileType::Socket => Err("a socket"),
        FileType::Symlink => Err("a symbolic link"),
        FileType::Unknown => Err("not a regular file"),
    }
}

/// Writes `bytes` to `path` so that readers see the old file or the whole new one, never a
/// part: a temporary file in the same folder, fsync, rename, fsync of the folder.
///
/// The temporary file has an unpredictable name and is created with `O_EXCL` (by
/// `tempfile`), so a file or symlink planted beside `path` is never followed or
/// overwritten; on any failure it is removed.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, bytes, |_| {})
}

/// [`write_atomic`], calling `finish` on the temporary file before it takes the name, so
/// what `finish` adds (an extended attribute) is replaced together with the bytes.
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    finish: impl FnOnce(&File),
) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| std::io::Error::other("path has no file name"))?;
    // Dropping `tmp` on an early return removes the temporary file.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.to_string_lossy()))
        .suffix(".tmp")
        .tempfile_in(dir)?;
    tmp.write_all(bytes)?;
    finish(tmp.as_file());
    tmp.as_file().sync_all()?;
    tmp.persist(path).map_err(|e| e.error)?;
    sync_dir(dir)
}

/// Flushes a folder's entries (new names, renames) to disk.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn bounded_read_stops_at_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        fs::write(&path, vec![0u8; 101]).unwrap();
        assert!(matches!(
            read_bounded(&path, 100),
            Err(Error::TooLarge { limit: 100, .. })
        ));
        assert_eq!(read_bounded(&path, 101).unwrap().len(), 101);
    }

    #[test]
    fn bounded_read_refuses_fifos_and_devices_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        rustix::fs::mknodat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::FileType::Fifo,
            Mode::from_raw_mode(0o600),
            0,
        )
        .unwrap();
        for (path, kind) in [
            (fifo.as_path(), "a FIFO"),
            (Path::new("/dev/zero"), "a character device"),
            (dir.path(), "a directory"),
        ] {
            match read_bounded(path, 100) {
                Err(Error::NotRegularFile { kind: found, .. }) => assert_eq!(found, kind),
                other => panic!("{}: {other:?}", path.display()),
            }
        }
    }

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.json");
        write_atomic(&path, b"one").unwrap();
        write_atomic(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    /// An attacker who can write to the folder plants symlinks at every name the old code
    /// would have used (`.NAME.tmpPID`, for this and nearby pids) pointing at a file
    /// outside: the write lands at `path`, the outside file is untouched and the links
    /// stay links.
    #[test]
    fn atomic_write_does_not_follow_a_planted_temp_name() {
        let outside = tempfile::tempdir().unwrap();
        let victim = outside.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        let pid = std::process::id();
        for p in pid.saturating_sub(50)..pid + 50 {
            std::os::unix::fs::symlink(&victim, dir.path().join(format!(".state.json.tmp{p}")))
                .unwrap();
        }
        write_atomic(&path, b"new state").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new state");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
        for entry in fs::read_dir(dir.path()).unwrap() {
            let entry = entry.unwrap();
            if entry.file_name() != "state.json" {
                assert!(entry.file_type().unwrap().is_symlink(), "{entry:?}");
            }
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 101);
    }

    /// A write that cannot finish (the destination is a folder) leaves no temporary file.
    #[test]
    fn failed_atomic_write_removes_its_temp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), b"k").unwrap();
        assert!(write_atomic(&path, b"x").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["sub"]);
    }
}
