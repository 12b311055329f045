//! Sending the outbox to the configured collectors.
//!
//! Invariant: a record leaves the outbox as delivered only after a collector itself
//! answered 2xx to a signed report holding it (redirects are not followed: a 3xx, or a 2xx
//! from wherever a redirect led, is no delivery). It leaves unsent only when every
//! collector answered a permanent refusal (400, 409, 413, 422: sending it again cannot
//! succeed and would block every record after it), and is then counted as dropped. Any
//! other failure (401, 403, 404, 408, 429, 5xx, no answer) leaves it for the next attempt.
//! Sending runs within a budget the caller gives (never past the device's next wake-up, so
//! a slow collector cannot delay an install) and at most [`SENDING_TIME`]; each request's
//! own timeout is cut to what is left of it. No message carries a URL's credentials.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::fetch::{client_config, ClientIdentity, TlsSetupError};
use crate::report::format::{ReportError, SignedReport};
use crate::report::key::DeviceKey;
use crate::report::outbox::{Outbox, OutboxError};

/// Why sending stopped.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Outbox(#[from] OutboxError),
    #[error(transparent)]
    Report(#[from] ReportError),
    #[error("no collector took the report: {0}")]
    Refused(String),
    #[error(transparent)]
    Tls(#[from] TlsSetupError),
}

/// What one call of [`Collectors::deliver`] did.
#[derive(Debug, Default)]
pub struct Delivery {
    /// Events a collector took.
    pub delivered: usize,
    /// Events deleted unsent because every collector refused their report for good, and
    /// the collectors' answers.
    pub refused: Vec<(u64, String)>,
    /// Why sending stopped before the outbox was empty or the budget spent, if it did.
    pub stopped: Option<SendError>,
}

/// Where and how to post.
pub struct Collectors {
    urls: Vec<String>,
    agent: ureq::Agent,
}

/// Why a post failed: every collector's answer, and whether each was a permanent refusal.
struct PostFailure {
    permanent: bool,
    message: String,
}

/// Time allowed to connect, and for each read or write, of a post.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a call sends, whatever budget it is given.
pub const SENDING_TIME: Duration = Duration::from_secs(60);

impl Collectors {
    /// The collectors at `urls`, in order, trusting the public roots and `extra_ca`.
    pub fn new(
        urls: &[String],
        extra_ca: Option<&std::path::Path>,
        identity: Option<&ClientIdentity>,
    ) -> Result<Self, SendError> {
        let tls = client_config(extra_ca, identity)?;
        let agent = ureq::AgentBuilder::new()
            .timeout_connect(TIMEOUT)
            .timeout_read(TIMEOUT)
            .timeout_write(TIMEOUT)
            .timeout(TIMEOUT * 3)
            .redirects(0)
            .tls_config(Arc::new(tls))
            .user_agent(concat!("updater/", env!("CARGO_PKG_VERSION")))
            .build();
        Ok(Collectors {
            urls: urls.to_vec(),
            agent,
        })
    }

    /// Posts the outbox, oldest first, in reports of at most `batch` events, until it is
    /// empty, a report fails other than by a permanent refusal, or `budget` (at most
    /// [`SENDING_TIME`]) is spent.
    pub fn deliver(
        &self,
        outbox: &Outbox,
        key: &DeviceKey,
        device: &str,
        batch: usize,
        budget: Duration,
    ) -> Delivery {
        let deadline = Instant::now() + budget.min(SENDING_TIME);
        let mut done = Delivery::default();
        while Instant::now() < deadline {
            match self.deliver_one(outbox, key, device, batch, deadline) {
                Ok(Sent::Empty) => break,
                Ok(Sent::Delivered(count)) => done.delivered += count,
                Ok(Sent::Refused(count, why)) => done.refused.push((count, why)),
                Err(e) => {
                    done.stopped = Some(e);
                    break;
                }
            }
        }
        done
    }

    /// Signs and posts the oldest `batch` records, and takes them out of the outbox if a
    /// collector took them or every collector refused them for good.
    fn deliver_one(
        &self,
        outbox: &Outbox,
        key: &DeviceKey,
        device: &str,
        batch: usize,
        deadline: Instant,
    ) -> Result<Sent, SendError> {
        let pending = outbox.pending(batch.max(1))?;
        if pending.records.is_empty() {
            return Ok(Sent::Empty);
        }
        let report = SignedReport::sign(key, device, pending.records, pending.dropped)?;
        match self.post(&report.to_bytes()?, deadline) {
            Ok(()) => {
                outbox.delivered(report.last_seq())?;
                Ok(Sent::Delivered(report.event_count()))
            }
            Err(PostFailure {
                permanent: true,
                message,
            }) => Ok(Sent::Refused(outbox.refused(report.last_seq())?, message)),
            Err(PostFailure { message, .. }) => Err(SendError::Refused(message)),
        }
    }

    /// Posts `body` to the first collector that answers 2xx itself, before `deadline`.
    fn post(&self, body: &[u8], deadline: Instant) -> Result<(), PostFailure> {
        let mut failures = Vec::new();
        let mut permanent = true;
        for url in &self.urls {
            let shown = without_userinfo(url);
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                failures.push(format!(
                    "{shown}: not tried, no time left before the next check"
                ));
                permanent = false;
                break;
            }
            let status = match self
                .agent
                .post(url)
                .timeout(left.min(TIMEOUT * 3))
                .set("Content-Type", "application/json")
                .send_bytes(body)
            {
                Ok(response) => response.status(),
                Err(ureq::Error::Status(code, _)) => code,
                Err(e) => {
                    failures.push(format!("{shown}: {}", without_userinfo(&e.to_string())));
                    permanent = false;
                    continue;
                }
            };
            if (200..300).contains(&status) {
                return Ok(());
            }
            failures.push(format!("{shown}: HTTP {status}"));
            permanent &= is_permanent(status);
        }
        Err(PostFailure {
            permanent: permanent && !failures.is_empty(),
            message: failures.join("; "),
        })
    }
}

/// What one report's post did.
enum Sent {
    Empty,
    Delivered(usize),
    /// Events deleted unsent, and the collectors' answers.
    Refused(u64, String),
}

/// Whether a collector's `status` says the report itself is refused for good (malformed,
/// a replay or conflict, too large, unprocessable): the same bytes can never be taken.
/// Unauthorized, not found, timeouts and rate limits can change (a device enrolled later,
/// a collector set up later), so they are not.
fn is_permanent(status: u16) -> bool {
    matches!(status, 400 | 409 | 413 | 422)
}

/// `text` with the user information (`user:password@`) taken out of every URL in it, so a
/// message never shows a collector's credentials.
pub fn without_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the first '/', '?', '#' or white space.
        let end = tail
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        out.push_str(
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host),
        );
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_show() {
        assert_eq!(
            without_userinfo("https://user:pass@host/x: HTTP 500"),
            "https://host/x: HTTP 500"
        );
        assert_eq!(
            without_userinfo("a http://u@127.0.0.1:8080?q and https://p:w@h#f, https://h/"),
            "a http://127.0.0.1:8080?q and https://h#f, https://h/"
        );
        assert_eq!(without_userinfo("no url: a@b"), "no url: a@b");
    }

    #[test]
    fn only_refusals_of_the_report_itself_are_permanent() {
        for status in [400, 409, 413, 422] {
            assert!(is_permanent(status), "{status}");
        }
        for status in [401, 403, 404, 408, 429, 500, 502, 503, 301] {
            assert!(!is_permanent(status), "{status}");
        }
    }
}
