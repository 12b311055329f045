//! Sending the outbox to the configured collectors.
//!
//! Invariant: a record leaves the outbox only after a collector itself answered 2xx to a
//! signed report holding it (redirects are not followed: a 3xx, or a 2xx from wherever a
//! redirect led, is no delivery); any failure leaves it for the next attempt. Sending runs
//! within a budget the caller gives (never past the device's next wake-up, so a slow
//! collector cannot delay an install) and at most [`SENDING_TIME`]; each request's own
//! timeout is cut to what is left of it.

use std::sync::Arc;
use std::time::{Duration, Instant};

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
    #[error("{0}")]
    Tls(String),
}

/// Where and how to post.
pub struct Collectors {
    urls: Vec<String>,
    agent: ureq::Agent,
}

/// Time allowed to connect, and for each read or write, of a post.
const TIMEOUT: Duration = Duration::from_secs(5);
/// The longest a call sends, whatever budget it is given.
pub const SENDING_TIME: Duration = Duration::from_secs(60);

impl Collectors {
    /// The collectors at `urls`, in order, trusting the public roots and `extra_ca`.
    pub fn new(urls: &[String], extra_ca: Option<&std::path::Path>) -> Result<Self, SendError> {
        let tls = crate::fetch::http::tls_config(extra_ca).map_err(SendError::Tls)?;
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
    /// empty, no collector takes a report, or `budget` (at most [`SENDING_TIME`]) is spent.
    /// Returns the number of events delivered.
    pub fn deliver(
        &self,
        outbox: &Outbox,
        key: &DeviceKey,
        device: &str,
        batch: usize,
        budget: Duration,
    ) -> Result<usize, SendError> {
        let deadline = Instant::now() + budget.min(SENDING_TIME);
        let mut delivered = 0;
        while Instant::now() < deadline {
            let pending = outbox.pending(batch.max(1))?;
            if pending.records.is_empty() {
                return Ok(delivered);
            }
            let report = SignedReport::sign(key, device, pending.records, pending.dropped)?;
            self.post(&report.to_bytes()?, deadline)?;
            outbox.delivered(report.last_seq())?;
            delivered += report.event_count();
        }
        Ok(delivered)
    }

    /// Posts `body` to the first collector that answers 2xx itself, before `deadline`.
    fn post(&self, body: &[u8], deadline: Instant) -> Result<(), SendError> {
        let mut failures = Vec::new();
        for url in &self.urls {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                failures.push(format!(
                    "{url}: not tried, no time left before the next check"
                ));
                break;
            }
            match self
                .agent
                .post(url)
                .timeout(left.min(TIMEOUT * 3))
                .set("Content-Type", "application/json")
                .send_bytes(body)
            {
                Ok(response) if (200..300).contains(&response.status()) => return Ok(()),
                Ok(response) => failures.push(format!("{url}: HTTP {}", response.status())),
                Err(ureq::Error::Status(code, _)) => failures.push(format!("{url}: HTTP {code}")),
                Err(e) => failures.push(format!("{url}: {e}")),
            }
        }
        Err(SendError::Refused(failures.join("; ")))
    }
}
