//! Where repository files come from: one small trait, with HTTP(S) and local folders behind
//! it. A transport only moves bytes; nothing it returns is trusted until the client has
//! checked it against verified metadata.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[cfg(test)]
use crate::names::percent_encode;

/// Why a file could not be fetched from one mirror.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchError {
    /// The mirror says the file does not exist (HTTP 404 or 403, or no such local file).
    NotFound,
    /// The file is larger than the caller allows; reading stopped at the limit.
    TooLarge { limit: u64 },
    /// The server answered with another HTTP status.
    Status(u16),
    /// Connecting, reading or a timeout failed.
    Io(String),
}

impl FetchError {
    /// Whether trying the same mirror again may help: server errors and broken connections,
    /// not a missing file or one that is too large.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            FetchError::Io(_) => true,
            FetchError::NotFound | FetchError::TooLarge { .. } => false,
        }
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NotFound => f.write_str("not found"),
            FetchError::TooLarge { limit } => write!(f, "larger than its limit of {limit} bytes"),
            FetchError::Status(code) => write!(f, "HTTP status {code}"),
            FetchError::Io(reason) => f.write_str(reason),
        }
    }
}

impl From<io::Error> for FetchError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                FetchError::Io(format!("timed out: {e}"))
            }
            _ => FetchError::Io(e.to_string()),
        }
    }
}

/// An open file on a mirror: a reader, the length the mirror announced for it, if any,
/// and the offset in the file of its first byte (non-zero only for a resumed download).
pub struct Body {
    pub reader: Box<dyn Read + Send>,
    pub announced_length: Option<u64>,
    pub start: u64,
}

impl Body {
    /// Reads the whole body, refusing it as soon as it passes `limit` bytes: an announced
    /// length over the limit is refused before reading, and reading never goes past
    /// `limit + 1` bytes whatever the server sends.
    pub fn read_limited(self, limit: u64) -> Result<Vec<u8>, FetchError> {
        if self.announced_length.is_some_and(|n| n > limit) {
            return Err(FetchError::TooLarge { limit });
        }
        let mut bytes = Vec::new();
        self.reader
            .take(limit.saturating_add(1))
            .read_to_end(&mut bytes)?;
        if bytes.len() as u64 > limit {
            return Err(FetchError::TooLarge { limit });
        }
        Ok(bytes)
    }
}

/// One mirror: fetches files by their path relative to the mirror's base.
pub trait Transport: Send + Sync {
    /// Opens `path` ('/'-separated, already percent-encoded where needed).
    fn open(&self, path: &str) -> Result<Body, FetchError>;

    /// Opens `path` from byte `offset` on, where the mirror can; the body's `start` says
    /// where it really starts (0 when the mirror sent the whole file).
    fn open_at(&self, path: &str, offset: u64) -> Result<Body, FetchError> {
        let _ = offset;
        self.open(path)
    }

    /// The mirror's base, for messages.
    fn base(&self) -> &str;
}

/// Settings for HTTP(S) mirrors.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Longest wait for any single read; a stalled server fails after this.
    pub read_timeout: Duration,
    /// A PEM file of extra CA certificates trusted beside the public web roots (for an
    /// intranet mirror). There is deliberately no way to turn verification off.
    pub extra_ca: Option<PathBuf>,
    /// Longest time for a whole request, body included (slow retrieval: a server that
    /// sends a byte just often enough to pass the read timeout). `None` for targets, whose
    /// size is the owner's choice; the read timeout still applies.
    pub total_timeout: Option<Duration>,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            extra_ca: None,
            total_timeout: None,
        }
    }
}

/// A mirror reached over HTTP or HTTPS.
pub struct HttpTransport {
    base: String,
    agent: ureq::Agent,
}

impl HttpTransport {
    /// A mirror at `base` (e.g. `https://updates.example.com/metadata`).
    pub fn new(base: &str, options: &HttpOptions) -> Result<Self, String> {
        let tls = tls_config(options.extra_ca.as_deref())?;
        let mut agent = ureq::AgentBuilder::new()
            .timeout_connect(options.connect_timeout)
            .timeout_read(options.read_timeout);
        if let Some(total) = options.total_timeout {
            agent = agent.timeout(total);
        }
        let agent = agent
            .tls_config(Arc::new(tls))
            // A mirror must not move a device from HTTPS to plain HTTP.
            .https_only(base.starts_with("https://"))
            .user_agent(concat!("updater/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(HttpTransport {
            base: base.trim_end_matches('/').to_string(),
            agent,
        })
    }
}

impl Transport for HttpTransport {
    fn open(&self, path: &str) -> Result<Body, FetchError> {
        let url = format!("{}/{}", self.base, path);
        match self.agent.get(&url).call() {
            Ok(response) => {
                let announced_length = response
                    .header("Content-Length")
                    .and_then(|v| v.trim().parse().ok());
                Ok(Body {
                    reader: Box::new(response.into_reader()),
                    announced_length,
                    start: 0,
                })
            }
            Err(e) => Err(http_error(e)),
        }
    }

    fn open_at(&self, path: &str, offset: u64) -> Result<Body, FetchError> {
        if offset == 0 {
            return self.open(path);
        }
        let url = format!("{}/{}", self.base, path);
        let response = self
            .agent
            .get(&url)
            .set("Range", &format!("bytes={offset}-"))
            .call()
            .map_err(http_error)?;
        let announced_length = response
            .header("Content-Length")
            .and_then(|v| v.trim().parse().ok());
        let start = if response.status() == 206 {
            // "bytes START-END/TOTAL": anything but the range asked for is not used.
            let range = response.header("Content-Range").unwrap_or_default();
            let start = range
                .strip_prefix("bytes ")
                .and_then(|r| r.split('-').next())
                .and_then(|n| n.parse::<u64>().ok());
            if start != Some(offset) {
                return Err(FetchError::Io(format!(
                    "asked for bytes from {offset}, the server sent {range:?}"
                )));
            }
            offset
        } else {
            0
        };
        Ok(Body {
            reader: Box::new(response.into_reader()),
            announced_length,
            start,
        })
    }

    fn base(&self) -> &str {
        &self.base
    }
}

fn http_error(e: ureq::Error) -> FetchError {
    match e {
        ureq::Error::Status(403 | 404, _) => FetchError::NotFound,
        ureq::Error::Status(code, _) => FetchError::Status(code),
        ureq::Error::Transport(t) => FetchError::Io(t.to_string()),
    }
}

/// Public web roots, plus the certificates in `extra_ca`.
fn tls_config(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read CA file {}: {e}", path.display()))?;
        let mut added = 0;
        for cert in certs {
            let cert =
                cert.map_err(|e| format!("CA file {} is not valid PEM: {e}", path.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("CA file {}: {e}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            return Err(format!("CA file {} holds no certificate", path.display()));
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

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

impl Transport for LocalTransport {
    fn open(&self, path: &str) -> Result<Body, FetchError> {
        let relative = percent_decode(path).ok_or(FetchError::NotFound)?;
        // Paths come from validated names, but a local mirror is a filesystem: refuse any
        // component that could leave the mirror's folder.
        let safe = relative
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".." && !c.contains('\0'));
        if !safe {
            return Err(FetchError::NotFound);
        }
        let full = self.root.join(&relative);
        // Non-blocking, so that a FIFO planted on the medium cannot hang the open; what is
        // not a regular file is treated as missing.
        let opened = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&full);
        match opened {
            Ok(file) => {
                let meta = file.metadata()?;
                if !meta.is_file() {
                    return Err(FetchError::NotFound);
                }
                Ok(Body {
                    reader: Box::new(file),
                    announced_length: Some(meta.len()),
                    start: 0,
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(FetchError::NotFound),
            Err(e) => Err(e.into()),
        }
    }

    fn open_at(&self, path: &str, offset: u64) -> Result<Body, FetchError> {
        use std::io::Seek;
        let mut body = self.open(path)?;
        let length = body.announced_length.unwrap_or(0);
        if offset == 0 || offset > length {
            return Ok(body);
        }
        let relative = percent_decode(path).ok_or(FetchError::NotFound)?;
        let mut file = File::options()
            .read(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(self.root.join(relative))?;
        if !file.metadata()?.is_file() {
            return Err(FetchError::NotFound);
        }
        file.seek(io::SeekFrom::Start(offset))?;
        body.reader = Box::new(file);
        body.announced_length = Some(length - offset);
        body.start = offset;
        Ok(body)
    }

    fn base(&self) -> &str {
        &self.base
    }
}

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
                crate::archive::ArchiveMirror::open(&archive, &inner).map_err(|e| e.to_string())?,
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
        if crate::archive::is_archive_name(name) && a.metadata().is_ok_and(|m| !m.is_dir()) {
            let inner = path.strip_prefix(a).ok()?.to_path_buf();
            Some((a.to_path_buf(), inner))
        } else {
            None
        }
    })
}

/// Reverses [`crate::names::percent_encode`]; `None` for malformed escapes or bytes that are not UTF-8.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_enforced_while_reading() {
        let body = Body {
            reader: Box::new(io::repeat(7)),
            announced_length: None,
            start: 0,
        };
        assert_eq!(
            body.read_limited(1000),
            Err(FetchError::TooLarge { limit: 1000 })
        );
        let body = Body {
            reader: Box::new(&b"abc"[..]),
            announced_length: Some(10_000),
            start: 0,
        };
        assert_eq!(
            body.read_limited(1000),
            Err(FetchError::TooLarge { limit: 1000 })
        );
    }

    #[test]
    fn local_mirror_stays_in_its_folder() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("m")).unwrap();
        std::fs::write(dir.path().join("secret"), b"x").unwrap();
        std::fs::write(dir.path().join("m/a b.json"), b"ok").unwrap();
        let mirror = LocalTransport::new(&dir.path().join("m"));
        for path in ["../secret", "%2E%2E/secret", "%2E%2E%2Fsecret", "/secret"] {
            assert_eq!(
                mirror.open(path).err(),
                Some(FetchError::NotFound),
                "{path}"
            );
        }
        let body = mirror.open(&percent_encode("a b.json", true)).unwrap();
        assert_eq!(body.read_limited(10).unwrap(), b"ok");
    }

    #[test]
    fn quoting_matches_python_tuf() {
        assert_eq!(
            percent_encode("../delegated role?#", false),
            "..%2Fdelegated%20role%3F%23"
        );
        assert_eq!(percent_encode("a/b c", true), "a/b%20c");
        assert_eq!(percent_decode("..%2Fx").as_deref(), Some("../x"));
    }
}
