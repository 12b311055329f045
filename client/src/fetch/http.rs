//! HTTP(S) mirrors. Every transfer is watched: no single read waits longer than the read
//! timeout (the reply's first byte included), and a body that arrives slower than the speed
//! floor over a whole window is abandoned.

use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::transport::{Body, FetchError, Transport};

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
pub(crate) struct HttpTransport {
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

/// Public web roots, plus the certificates in `extra_ca`; no client certificate.
pub(crate) fn tls_config(extra_ca: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    Ok(tls_builder(extra_ca)?.with_no_client_auth())
}

/// The TLS client configuration trusting public web roots and `extra_ca`, before its client
/// certificate (if any) is chosen.
pub(crate) fn tls_builder(
    extra_ca: Option<&Path>,
) -> Result<rustls::ConfigBuilder<rustls::ClientConfig, rustls::client::WantsClientCert>, String> {
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
        .with_root_certificates(roots))
}

#[cfg(test)]
mod tests;
