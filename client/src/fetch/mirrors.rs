//! An ordered list of mirrors with failover, and retries with backoff and jitter.
//!
//! A file is asked of the first mirror; a transient failure (server error, broken
//! connection, timeout) is retried there a few times with growing, jittered pauses, and then
//! the next mirror is asked. A copy the caller refuses (it fails verification) also moves on
//! to the next mirror: a mirror that serves bad bytes must not stop a device that another
//! mirror could serve.
//!
//! A file no mirror delivered fails once, naming each mirror once: its URL, how many
//! attempts it had and how the last one ended ([`MirrorFailure`]), never one line per retry.

use std::fmt;
use std::time::Duration;

use crate::error::{Error, FetchFailures, Result};
use crate::fetch::transport::{Body, FetchError, Transport};

/// Most retries of one mirror. Each attempt is bounded (connect and read timeouts, the
/// speed floor) and each pause is at most `max_delay`, so with this cap a mirror that never
/// answers costs a bounded time before the next one is asked.
pub const MAX_RETRIES: u32 = 10;

/// How often and how patiently one mirror is asked again after a transient failure.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts per mirror, the first included; at most `MAX_RETRIES + 1` are made.
    attempts: u32,
    /// Pause after the first failure; doubled after each further one.
    base_delay: Duration,
    /// Longest pause.
    max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// The default pauses, with `attempts` attempts per mirror (the first included).
    pub fn with_attempts(attempts: u32) -> Self {
        RetryPolicy {
            attempts,
            ..RetryPolicy::default()
        }
    }

    /// The pause before attempt `attempt` (1 for the first retry): exponential, capped, and
    /// with up to half of it random, so a fleet that failed together does not retry together.
    fn delay(&self, attempt: u32) -> Duration {
        let exponential = self
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_delay);
        let mut random = [0u8; 4];
        // Without randomness the pause is still correct, only less spread out.
        let _ = getrandom::getrandom(&mut random);
        let fraction = f64::from(u32::from_le_bytes(random)) / f64::from(u32::MAX);
        exponential / 2 + exponential.mul_f64(fraction / 2.0)
    }
}

/// What one attempt at a file ended with, as the caller of [`Mirrors::fetch_with`] sees it.
#[derive(Debug)]
pub enum Attempt {
    /// Moving the bytes failed; transient failures are retried.
    Fetch(FetchError),
    /// The bytes arrived and were refused.
    Refused(Error),
}

impl From<FetchError> for Attempt {
    fn from(e: FetchError) -> Self {
        Attempt::Fetch(e)
    }
}

impl From<Error> for Attempt {
    fn from(e: Error) -> Self {
        Attempt::Refused(e)
    }
}

/// Which part of a repository a set of mirrors serves: a failure then names the setting to
/// check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Serves {
    /// The metadata folder (`--metadata-url`, `[repository] metadata`).
    Metadata,
    /// The targets folder (`--target-base-url`, `[repository] targets`).
    Targets,
}

impl Serves {
    /// The folder's usual last name, the device's flag and its config key.
    fn setting(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Serves::Metadata => ("metadata", "--metadata-url", "[repository] metadata"),
            Serves::Targets => ("targets", "--target-base-url", "[repository] targets"),
        }
    }

    /// The next step when the mirrors answered that they have no such file.
    pub(crate) fn not_found_hint(serves: Option<Serves>) -> String {
        match serves {
            Some(Serves::Metadata) => {
                let (folder, flag, key) = Serves::Metadata.setting();
                format!(
                    ": is the metadata URL right? It names the folder that holds timestamp.json, \
                     usually ending in /{folder} (check {flag}, or {key} in the config)"
                )
            }
            Some(Serves::Targets) => {
                let (folder, flag, key) = Serves::Targets.setting();
                format!(
                    ": is the targets URL right? It names the folder that holds the targets, \
                     usually ending in /{folder} (check {flag}, or {key} in the config); \
                     otherwise the repository lists a file it has not uploaded"
                )
            }
            None => String::new(),
        }
    }

    /// The next step when no mirror could be reached.
    pub(crate) fn unreachable_hint(serves: Option<Serves>) -> String {
        match serves.map(Serves::setting) {
            Some((folder, flag, key)) => format!(
                ": no mirror could be reached; nothing was refused: check the network and \
                 that the {folder} mirrors are up (the URLs come from {flag}, or {key} in the config)"
            ),
            None => ": no mirror could be reached; nothing was refused".into(),
        }
    }
}

/// How one mirror failed to deliver a file, after all its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MirrorFailure {
    /// Where the file was asked for on this mirror.
    pub url: String,
    /// Attempts made, the first included.
    pub attempts: u32,
    /// How the last attempt ended.
    pub error: FetchError,
}

impl fmt::Display for MirrorFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.error.location() {
            Some(_) => write!(f, "{}", self.error)?,
            None => write!(f, "{}: {}", self.url, self.error)?,
        }
        if self.attempts > 1 {
            write!(f, " ({} attempts)", self.attempts)?;
        }
        Ok(())
    }
}

/// Mirrors of one part of a repository (its metadata, or its targets), in order of preference.
pub struct Mirrors {
    mirrors: Vec<Box<dyn Transport>>,
    retry: RetryPolicy,
    serves: Option<Serves>,
    on_give_up: Option<Box<Report>>,
}

/// Told of each mirror given up when a later one served the file.
type Report = dyn Fn(&MirrorFailure) + Send + Sync;

impl Mirrors {
    /// Mirrors asked in the order given.
    pub fn new(mirrors: Vec<Box<dyn Transport>>, retry: RetryPolicy) -> Self {
        Mirrors {
            mirrors,
            retry,
            serves: None,
            on_give_up: None,
        }
    }

    /// Says which part of the repository these mirrors serve, so that a failure names the
    /// setting to check.
    pub fn serving(mut self, serves: Serves) -> Self {
        self.serves = Some(serves);
        self
    }

    /// Calls `report` with each mirror given up for a file it could not deliver (not for a
    /// file it says it does not have) when a later mirror served it, so that an abandoned
    /// mirror is seen even then. When none serves, the error names every mirror instead:
    /// each failure is told once.
    pub fn reporting(mut self, report: impl Fn(&MirrorFailure) + Send + Sync + 'static) -> Self {
        self.on_give_up = Some(Box::new(report));
        self
    }

    /// Fetches `path` whole, at most `limit` bytes, and offers it to `accept`.
    pub fn fetch<T>(
        &self,
        what: &str,
        path: &str,
        limit: u64,
        mut accept: impl FnMut(Vec<u8>) -> Result<T>,
    ) -> Result<T> {
        self.fetch_with(what, path, |body| {
            let bytes = body.read_limited(limit)?;
            Ok(accept(bytes)?)
        })
    }

    /// Opens `path` on each mirror in turn and hands the open body to `attempt`, until one
    /// attempt succeeds. Errors: `NotFound` if no mirror had it and one said it has not;
    /// the last refusal if a copy was refused; otherwise `Fetch` with every mirror's failure.
    pub fn fetch_with<T>(
        &self,
        what: &str,
        path: &str,
        attempt: impl FnMut(Body) -> Result<T, Attempt>,
    ) -> Result<T> {
        self.fetch_resuming(what, path, &|| 0, attempt)
    }

    /// Like `fetch_with`, asking each attempt to start at `offset()` (the bytes a previous
    /// attempt already saved), where the mirror supports ranges.
    pub(crate) fn fetch_resuming<T>(
        &self,
        what: &str,
        path: &str,
        offset: &dyn Fn() -> u64,
        mut attempt: impl FnMut(Body) -> Result<T, Attempt>,
    ) -> Result<T> {
        let mut failures: Vec<MirrorFailure> = Vec::new();
        let mut refusal = None;
        for mirror in &self.mirrors {
            let attempts = self.retry.attempts.clamp(1, MAX_RETRIES + 1);
            let mut last = None;
            for n in 0..attempts {
                if n > 0 {
                    std::thread::sleep(self.retry.delay(n));
                }
                let result = mirror
                    .open_at(path, offset())
                    .map_err(Attempt::Fetch)
                    .and_then(&mut attempt);
                match result {
                    Ok(value) => {
                        self.report_given_up(&failures);
                        return Ok(value);
                    }
                    Err(Attempt::Refused(e)) => {
                        // This mirror answered; its refusal is what the caller hears.
                        refusal = Some(e);
                        last = None;
                        break;
                    }
                    Err(Attempt::Fetch(e)) => {
                        let transient = e.is_transient();
                        last = Some(MirrorFailure {
                            url: format!("{}/{path}", mirror.base()),
                            attempts: n + 1,
                            error: e,
                        });
                        if !transient {
                            break;
                        }
                    }
                }
            }
            failures.extend(last);
        }
        if let Some(e) = refusal {
            return Err(e);
        }
        // A mirror that says "no such file" has answered; others may only have failed to
        // answer. The root probe needs exactly this: no reachable mirror has a newer root.
        // (A typed answer, never read back from the words of a failure.)
        let what = what.to_owned();
        let unreached = failures.iter().all(|f| f.error.is_unreached());
        let mirrors = failures.iter().map(|f| f.to_string()).collect();
        if failures.iter().any(|f| f.error == FetchError::NotFound) {
            let hint = Serves::not_found_hint(self.serves);
            return Err(Error::NotFound {
                what,
                failures: FetchFailures {
                    mirrors,
                    unreached,
                    hint,
                },
            });
        }
        let hint = match unreached {
            true => Serves::unreachable_hint(self.serves),
            false => String::new(),
        };
        Err(Error::Fetch {
            what,
            failures: FetchFailures {
                mirrors,
                unreached,
                hint,
            },
        })
    }

    /// Tells the reporter of each mirror given up before one served.
    fn report_given_up(&self, failures: &[MirrorFailure]) {
        if let Some(report) = &self.on_give_up {
            for failure in failures.iter().filter(|f| f.error != FetchError::NotFound) {
                report(failure);
            }
        }
    }
}

#[cfg(test)]
#[path = "mirrors_tests.rs"]
mod tests;
