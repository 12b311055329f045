//! Where repository files come from: one small trait, with HTTP(S) and local folders behind
//! it. A transport only moves bytes; nothing it returns is trusted until the client has
//! checked it against verified metadata.
//!
//! Every HTTP transfer is watched: no single read waits longer than the read timeout (the
//! reply's first byte included), and a body that arrives slower than the speed floor over a
//! whole window is abandoned. A local mirror serves only regular files beneath its folder,
//! as the kernel resolves them, never through a symbolic link.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags, ResolveFlags};

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
    /// No reply in time: a read waited longer than the read timeout, or the whole request
    /// took longer than its total.
    TimedOut(String),
    /// Connecting or reading failed, or the bytes could not be used as a resumed part.
    Io(String),
    /// The body arrived slower than the speed floor over a whole window: abandoned.
    TooSlow {
        url: String,
        /// Bytes received in the window that was judged.
        received: u64,
        /// How long that window lasted.
        elapsed: Duration,
        floor: SpeedFloor,
    },
    /// A local mirror's file that is not served: it leads through a symbolic link or out
    /// of the mirror's folder, or is not a regular file. Nothing of it was read.
    Unsafe { path: String, reason: &'static str },
}

impl FetchError {
    /// Whether trying the same mirror again may help: server errors and broken connections,
    /// not a missing file or one that is too large.
    pub fn is_transient(&self) -> bool {
        match self {
            FetchError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            FetchError::Io(_) | FetchError::TimedOut(_) => true,
            // A slow mirror already had a whole window to prove itself; asking it again
            // would multiply the time a hostile one holds the device. The bytes that did
            // arrive are kept, and the next mirror resumes from them.
            FetchError::NotFound
            | FetchError::TooLarge { .. }
            | FetchError::TooSlow { .. }
            | FetchError::Unsafe { .. } => false,
        }
    }

    /// The mirror location the error names itself, if it does.
    pub fn location(&self) -> Option<&str> {
        match self {
            FetchError::TooSlow { url, .. } => Some(url),
            FetchError::Unsafe { path, .. } => Some(path),
            _ => None,
        }
    }
}

impl std::error::Error for FetchError {}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::NotFound => f.write_str("not found"),
            FetchError::TooLarge { limit } => write!(f, "larger than its limit of {limit} bytes"),
            FetchError::Status(code) => write!(f, "HTTP status {code}"),
            FetchError::TimedOut(reason) => write!(f, "timed out: {reason}"),
            FetchError::Io(reason) => f.write_str(reason),
            FetchError::TooSlow {
                url,
                received,
                elapsed,
                floor,
            } => {
                let seconds = elapsed.as_secs_f64();
                write!(
                    f,
                    "{url}: abandoned: {received} bytes in {seconds:.1} s ({:.1} bytes/s), \
                     below the floor of {} bytes/s over {} s",
                    *received as f64 / seconds.max(0.001),
                    floor.bytes_per_second,
                    floor.window.as_secs()
                )
            }
            FetchError::Unsafe { path, reason } => write!(f, "{path}: refused: {reason}"),
        }
    }
}

impl From<io::Error> for FetchError {
    fn from(e: io::Error) -> Self {
        // A watched reader carries its typed verdict inside the I/O error.
        if let Some(verdict) = e.get_ref().and_then(|e| e.downcast_ref::<FetchError>()) {
            return verdict.clone();
        }
        match e.kind() {
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
                FetchError::TimedOut(e.to_string())
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
    /// Longest time for a whole request, body included, checked before each read of the
    /// body (so it may be passed by at most one read timeout). `None` for targets, whose
    /// size is the owner's choice; the read timeout and the speed floor still apply.
    pub total_timeout: Option<Duration>,
    /// The slowest body accepted; `None` turns the floor off.
    pub speed_floor: Option<SpeedFloor>,
}

/// The slowest transfer accepted, as curl's `--speed-limit` and `--speed-time`: a body
/// that brings fewer than `bytes_per_second` on average over a whole `window` is abandoned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpeedFloor {
    pub bytes_per_second: u64,
    pub window: Duration,
}

impl Default for SpeedFloor {
    /// 1 KiB/s over 30 s. A server that sends one byte every 3 s is dropped after about
    /// 30 s. An honest link passes easily: 1 KiB/s is 8 kbit/s, below even GPRS, and a
    /// 30 s window absorbs stalls (a cell handover, a busy server) as long as the rest of
    /// the window makes up for them.
    fn default() -> Self {
        SpeedFloor {
            bytes_per_second: 1024,
            window: Duration::from_secs(30),
        }
    }
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            extra_ca: None,
            total_timeout: None,
            speed_floor: Some(SpeedFloor::default()),
        }
    }
}

/// A mirror reached over HTTP or HTTPS.
pub struct HttpTransport {
    base: String,
    agent: ureq::Agent,
    total_timeout: Option<Duration>,
    speed_floor: Option<SpeedFloor>,
}

impl HttpTransport {
    /// A mirror at `base` (e.g. `https://updates.example.com/metadata`).
    pub fn new(base: &str, options: &HttpOptions) -> Result<Self, String> {
        let tls = tls_config(options.extra_ca.as_deref())?;
        // ureq 2 replaces the per-read timeout by its whole-request deadline when one is
        // set, even while waiting for the reply's first byte; so no ureq deadline is set and
        // the total time is kept by `Watched` instead. Connections are not pooled: a pooled
        // connection is handed back with no read timeout at all, and reused as it is.
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(options.connect_timeout)
            .timeout_read(options.read_timeout)
            .timeout_write(options.read_timeout)
            .max_idle_connections(0)
            .max_idle_connections_per_host(0)
            .tls_config(Arc::new(tls))
            // A mirror must not move a device from HTTPS to plain HTTP.
            .https_only(base.starts_with("https://"))
            .user_agent(concat!("updater/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(HttpTransport {
            base: base.trim_end_matches('/').to_string(),
            agent,
            total_timeout: options.total_timeout,
            speed_floor: options.speed_floor,
        })
    }

    /// The body of `response` from `url`, watched from now on (see [`Watched`]).
    fn watched(&self, url: String, started: Instant, response: ureq::Response) -> Watched {
        Watched {
            inner: response.into_reader(),
            url,
            deadline: self.total_timeout.map(|t| (started + t, t)),
            floor: self.speed_floor,
            window_start: Instant::now(),
            window_bytes: 0,
        }
    }
}

/// A response body under watch: past the deadline, or slower than the floor over a whole
/// window, a read fails with the typed verdict inside the I/O error. The window opens at
/// the first byte of the body, so a server that was slow to answer but then sends quickly
/// is not judged by its silence (the read timeout bounds that silence).
struct Watched {
    inner: Box<dyn Read + Send + Sync>,
    url: String,
    deadline: Option<(Instant, Duration)>,
    floor: Option<SpeedFloor>,
    window_start: Instant,
    window_bytes: u64,
}

impl Read for Watched {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((deadline, total)) = self.deadline {
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "{}: the request took longer than {} s",
                        self.url,
                        total.as_secs()
                    ),
                ));
            }
        }
        let n = self.inner.read(buf)?;
        // The end of the body ends the watch: a short last window is not judged.
        if n == 0 {
            return Ok(0);
        }
        self.window_bytes += n as u64;
        if let Some(floor) = self.floor {
            let elapsed = self.window_start.elapsed();
            if elapsed >= floor.window {
                let needed = floor.bytes_per_second as f64 * elapsed.as_secs_f64();
                if (self.window_bytes as f64) < needed {
                    return Err(io::Error::other(FetchError::TooSlow {
                        url: self.url.clone(),
                        received: self.window_bytes,
                        elapsed,
                        floor,
                    }));
                }
                self.window_start = Instant::now();
                self.window_bytes = 0;
            }
        }
        Ok(n)
    }
}

impl Transport for HttpTransport {
    fn open(&self, path: &str) -> Result<Body, FetchError> {
        let url = format!("{}/{}", self.base, path);
        let started = Instant::now();
        match self.agent.get(&url).call() {
            Ok(response) => {
                let announced_length = response
                    .header("Content-Length")
                    .and_then(|v| v.trim().parse().ok());
                Ok(Body {
                    reader: Box::new(self.watched(url, started, response)),
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
        let started = Instant::now();
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
            reader: Box::new(self.watched(url, started, response)),
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
        let pem = crate::fs::read_bounded(path, crate::limits::MAX_CA_FILE_BYTES)
            .map_err(|e| format!("CA file: {e}"))?;
        let certs = rustls_pki_types::CertificateDer::pem_slice_iter(&pem);
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
                crate::fetch::archive::ArchiveMirror::open(&archive, &inner)
                    .map_err(|e| e.to_string())?,
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
        if crate::fetch::archive::is_archive_name(name) && a.metadata().is_ok_and(|m| !m.is_dir()) {
            let inner = path.strip_prefix(a).ok()?.to_path_buf();
            Some((a.to_path_buf(), inner))
        } else {
            None
        }
    })
}

/// Reverses [`crate::names::percent_encode`]; `None` for bytes that are not UTF-8 or for any
/// `%` not followed by two hexadecimal digits (`%+1`, `%1`, `%zz`): the crate would keep those
/// as they are, and no name this project serves has one.
pub(crate) fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let well_formed = bytes.iter().enumerate().all(|(i, &b)| {
        b != b'%'
            || matches!(bytes.get(i + 1..i + 3), Some([h, l]) if h.is_ascii_hexdigit() && l.is_ascii_hexdigit())
    });
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .ok()
        .map(|decoded| decoded.into_owned())
}

#[cfg(test)]
mod tests;
