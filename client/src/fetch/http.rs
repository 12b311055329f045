//! HTTP(S) mirrors. Every transfer is watched: no single read waits longer than the read
//! timeout (the reply's first byte included), and a body that arrives slower than the speed
//! floor over a whole window is abandoned.

use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::tls::{client_config, received_alert, ClientCertRefusal, ClientIdentity};
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
    /// The client certificate presented to a mirror that asks for one (mutual TLS).
    pub client_identity: Option<ClientIdentity>,
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
            client_identity: None,
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
    /// Whether a client certificate is presented, to say what a refusal means.
    presents_certificate: bool,
}

impl HttpTransport {
    /// A mirror at `base` (e.g. `https://updates.example.com/metadata`).
    pub fn new(base: &str, options: &HttpOptions) -> Result<Self, String> {
        let identity = options.client_identity.as_ref();
        let tls =
            client_config(options.extra_ca.as_deref(), identity).map_err(|e| e.to_string())?;
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
            presents_certificate: identity.is_some(),
        })
    }

    /// The typed failure of a request to this mirror. A refusal of the device's identity
    /// (a TLS alert about its certificate, or nginx's HTTP 400 over HTTPS: see
    /// [`ClientCertRefusal::from_https_400`]) names the mirror and what to set.
    fn error(&self, e: ureq::Error) -> FetchError {
        let refused = |refusal| FetchError::ClientCertificate {
            mirror: self.base.clone(),
            refusal,
        };
        match e {
            ureq::Error::Status(403 | 404, _) => FetchError::NotFound,
            ureq::Error::Status(400, _) if self.base.starts_with("https://") => {
                refused(ClientCertRefusal::from_https_400(self.presents_certificate))
            }
            ureq::Error::Status(code, _) => FetchError::Status(code),
            ureq::Error::Transport(t) => {
                let refusal = received_alert(&t).and_then(|alert| {
                    ClientCertRefusal::from_alert(alert, self.presents_certificate)
                });
                match refusal {
                    Some(refusal) => refused(refusal),
                    None => FetchError::Io(transport_words(&t)),
                }
            }
        }
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
            Err(e) => Err(self.error(e)),
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
            .map_err(|e| self.error(e))?;
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

/// A transport failure in words, without the URL ureq puts first: the mirror's failure
/// names the URL once itself.
fn transport_words(t: &ureq::Transport) -> String {
    let mut words = t.kind().to_string();
    if let Some(message) = t.message() {
        words.push_str(": ");
        words.push_str(message);
    }
    if let Some(source) = std::error::Error::source(t) {
        words.push_str(&format!(": {source}"));
    }
    words
}

#[cfg(test)]
mod tests;
