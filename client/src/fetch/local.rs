//! A mirror in a local folder. It serves only regular files beneath its folder, as the kernel
//! resolves them, never through a symbolic link, and never hangs on a FIFO planted there.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags, ResolveFlags};

use super::transport::{percent_decode, Body, FetchError, Transport};

/// A mirror in a local folder: a mounted USB stick, an unpacked archive, a `file://` URL.
pub struct LocalTransport {
    base: String,
    root: PathBuf,
}

impl LocalTransport {
    /// A mirror rooted at `root`.
    pub fn new(root: &Path) -> Self {
        LocalTransport {
            base: root.display().to_string(),
            root: root.to_path_buf(),
        }
    }
}

impl LocalTransport {
    /// Opens `path` beneath the mirror's folder: the kernel resolves it there and refuses
    /// symbolic links (`RESOLVE_NO_SYMLINKS`, which also holds `/proc` magic links off) and
    /// any way out (`RESOLVE_BENEATH`). Opened non-blocking, so that a FIFO planted on the
    /// medium cannot hang the open; only a regular file is served, then read blocking.
    fn open_confined(&self, path: &str) -> Result<File, FetchError> {
        let relative = percent_decode(path).ok_or(FetchError::NotFound)?;
        // Names come validated; the kernel holds the line, this only keeps messages plain.
        let plain = relative
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
        if !plain {
            return Err(FetchError::NotFound);
        }
        let shown = format!("{}/{relative}", self.base);
        let refuse = |reason| FetchError::Unsafe {
            path: shown.clone(),
            reason,
        };
        let root = match rustix::fs::open(
            &self.root,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(root) => root,
            Err(rustix::io::Errno::NOENT) => return Err(FetchError::NotFound),
            Err(e) => return Err(io::Error::from(e).into()),
        };
        let opened = rustix::fs::openat2(
            &root,
            relative.as_str(),
            OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
        );
        let fd = match opened {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) | Err(rustix::io::Errno::NOTDIR) => {
                return Err(FetchError::NotFound)
            }
            Err(rustix::io::Errno::LOOP) => return Err(refuse("a symbolic link is on its path")),
            Err(rustix::io::Errno::XDEV) => return Err(refuse("it leads out of the mirror")),
            Err(e) => return Err(io::Error::from(e).into()),
        };
        crate::fs::check_regular(&fd).map_err(|kind| FetchError::Unsafe {
            path: shown.clone(),
            reason: kind,
        })?;
        let flags = rustix::fs::fcntl_getfl(&fd).map_err(io::Error::from)?;
        rustix::fs::fcntl_setfl(&fd, flags - OFlags::NONBLOCK).map_err(io::Error::from)?;
        Ok(File::from(fd))
    }
}

impl Transport for LocalTransport {
    fn open(&self, path: &str) -> Result<Body, FetchError> {
        let file = self.open_confined(path)?;
        let length = file.metadata()?.len();
        Ok(Body {
            reader: Box::new(file),
            announced_length: Some(length),
            start: 0,
        })
    }

    fn open_at(&self, path: &str, offset: u64) -> Result<Body, FetchError> {
        use std::io::Seek;
        let mut file = self.open_confined(path)?;
        let length = file.metadata()?.len();
        if offset == 0 || offset > length {
            return Ok(Body {
                reader: Box::new(file),
                announced_length: Some(length),
                start: 0,
            });
        }
        file.seek(io::SeekFrom::Start(offset))?;
        Ok(Body {
            reader: Box::new(file),
            announced_length: Some(length - offset),
            start: offset,
        })
    }

    fn base(&self) -> &str {
        &self.base
    }
}
