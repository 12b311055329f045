//! Which transport a configured location names: an `http(s)://` URL, a `file://` URL or a
//! path, and a path through an archive file (`site.tar.gz/metadata`) reads inside it.

use std::path::{Path, PathBuf};

use super::archive::{is_archive_name, ArchiveMirror};
use super::http::{HttpOptions, HttpTransport};
use super::local::LocalTransport;
use super::transport::Transport;

/// A transport for `location`: an `http://` or `https://` URL, a `file://` URL or a path.
pub fn for_location(location: &str, options: &HttpOptions) -> Result<Box<dyn Transport>, String> {
    if location.starts_with("http://") || location.starts_with("https://") {
        Ok(Box::new(HttpTransport::new(location, options)?))
    } else if location.contains("://") && !location.starts_with("file://") {
        Err(format!(
            "{location}: unsupported scheme (use http://, https://, file:// or a path)"
        ))
    } else {
        let path = Path::new(location.strip_prefix("file://").unwrap_or(location));
        match archive_prefix(path) {
            Some((archive, inner)) => Ok(Box::new(
                ArchiveMirror::open(&archive, &inner).map_err(|e| e.to_string())?,
            )),
            None => Ok(Box::new(LocalTransport::new(path))),
        }
    }
}

/// Splits `/media/usb/repo.tar.gz/metadata` into the archive file and the folder inside it.
fn archive_prefix(path: &Path) -> Option<(PathBuf, PathBuf)> {
    path.ancestors().find_map(|a| {
        let name = a.file_name()?.to_str()?;
        // Anything but a folder: a FIFO or device named as an archive is refused clearly
        // by the archive reader rather than read as a folder.
        if is_archive_name(name) && a.metadata().is_ok_and(|m| !m.is_dir()) {
            let inner = path.strip_prefix(a).ok()?.to_path_buf();
            Some((a.to_path_buf(), inner))
        } else {
            None
        }
    })
}
