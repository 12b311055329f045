//! Where repository files come from: one small trait, with HTTP(S) ([`super::HttpOptions`]),
//! local folders ([`super::LocalTransport`]) and archive files ([`super::archive`]) behind it. A transport
//! only moves bytes; nothing it returns is trusted until the client has checked it against
//! verified metadata.

use super::tls::ClientCertRefusal;
use super::SpeedFloor;
use std::fmt;
use std::io::{self, Read};
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
    /// No reply in time: a read waited longer than the read timeout, or the whole request
    /// took longer than its total.
    TimedOut(String),
    /// Connecting or reading failed, or the bytes could not be used as a resumed part.
    Io(String),
    /// The bytes resumed after a saved part did not match what the index lists: the saved
    /// part is discarded and the file asked for again whole. Bytes that failed
    /// verification, so a refusal, not an unreachable mirror.
    ResumedMismatch(String),
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
    /// An HTTPS mirror turned the device down for its client certificate: none presented,
    /// or one it does not accept. Asking again cannot help; another mirror may serve.
    ClientCertificate {
        mirror: String,
        refusal: ClientCertRefusal,
    },
}

impl FetchError {
    /// Whether trying the same mirror again may help: server errors and broken connections,
    /// not a missing file or one that is too large.
    pub(crate) fn is_transient(&self) -> bool {
        match self {
            FetchError::Status(code) => *code >= 500 || *code == 429 || *code == 408,
            FetchError::Io(_) | FetchError::TimedOut(_) | FetchError::ResumedMismatch(_) => true,
            // A slow mirror already had a whole window to prove itself; asking it again
            // would multiply the time a hostile one holds the device. The bytes that did
            // arrive are kept, and the next mirror resumes from them.
            FetchError::NotFound
            | FetchError::TooLarge { .. }
            | FetchError::TooSlow { .. }
            | FetchError::Unsafe { .. }
            | FetchError::ClientCertificate { .. } => false,
        }
    }

    /// Whether this only says that the mirror could not be reached or would not serve,
    /// nothing about bytes it sent: the network, a server's trouble, a missing file, or the
    /// mirror turning down this device's certificate (a slow mirror too: slowness is no
    /// proof of an attack). A file larger than its limit, a local mirror's unsafe path, or
    /// resumed bytes that did not match is a refusal of what the mirror offered.
    pub(crate) fn is_unreached(&self) -> bool {
        match self {
            FetchError::NotFound
            | FetchError::Status(_)
            | FetchError::TimedOut(_)
            | FetchError::Io(_)
            | FetchError::TooSlow { .. }
            | FetchError::ClientCertificate { .. } => true,
            FetchError::TooLarge { .. }
            | FetchError::Unsafe { .. }
            | FetchError::ResumedMismatch(_) => false,
        }
    }

    /// The mirror location the error names itself, if it does.
    pub fn location(&self) -> Option<&str> {
        match self {
            FetchError::TooSlow { url, .. } => Some(url),
            FetchError::Unsafe { path, .. } => Some(path),
            FetchError::ClientCertificate { mirror, .. } => Some(mirror),
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
            FetchError::Io(reason) | FetchError::ResumedMismatch(reason) => f.write_str(reason),
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
            FetchError::ClientCertificate {
                mirror,
                refusal: ClientCertRefusal::Missing,
            } => write!(
                f,
                "the mirror {mirror} requires a client certificate and this device presented \
                 none: set [repository] client_cert and client_key (or --client-cert and \
                 --client-key)"
            ),
            FetchError::ClientCertificate {
                mirror,
                refusal: ClientCertRefusal::NotTrusted,
            } => write!(
                f,
                "the mirror {mirror} refused this device's client certificate (not issued by \
                 a CA it trusts, or expired or revoked): check [repository] client_cert and \
                 client_key"
            ),
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
    pub(crate) announced_length: Option<u64>,
    pub start: u64,
}

impl Body {
    /// Reads the whole body, refusing it as soon as it passes `limit` bytes: an announced
    /// length over the limit is refused before reading, and reading never goes past
    /// `limit + 1` bytes whatever the server sends.
    pub(crate) fn read_limited(self, limit: u64) -> Result<Vec<u8>, FetchError> {
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
