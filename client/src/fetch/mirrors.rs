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

use crate::error::{Error, Result};
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
        let serves = self.serves;
        if failures.iter().any(|f| f.error == FetchError::NotFound) {
            return Err(Error::NotFound {
                what,
                serves,
                failures,
            });
        }
        Err(Error::Fetch {
            what,
            serves,
            failures,
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
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    struct Scripted {
        answers: Vec<Result<&'static [u8], FetchError>>,
        calls: Arc<AtomicU32>,
    }

    impl Transport for Scripted {
        fn open(&self, _path: &str) -> Result<Body, FetchError> {
            let n = self.calls.fetch_add(1, Ordering::SeqCst) as usize;
            let answer = self.answers[n.min(self.answers.len() - 1)].clone();
            answer.map(|bytes| Body {
                reader: Box::new(bytes),
                announced_length: None,
                start: 0,
            })
        }
        fn base(&self) -> &str {
            "scripted"
        }
    }

    fn mirror(
        answers: Vec<Result<&'static [u8], FetchError>>,
    ) -> (Box<dyn Transport>, Arc<AtomicU32>) {
        let calls = Arc::new(AtomicU32::new(0));
        let t = Scripted {
            answers,
            calls: calls.clone(),
        };
        (Box::new(t), calls)
    }

    fn quick() -> RetryPolicy {
        RetryPolicy {
            attempts: 3,
            base_delay: Duration::from_millis(1),
            max_delay: Duration::from_millis(2),
        }
    }

    #[test]
    fn transient_errors_are_retried_then_next_mirror_serves() {
        let (a, a_calls) = mirror(vec![Err(FetchError::Status(500))]);
        let (b, b_calls) = mirror(vec![Ok(b"good")]);
        let mirrors = Mirrors::new(vec![a, b], quick());
        let got = mirrors.fetch("f", "f", 100, Ok).unwrap();
        assert_eq!(got, b"good");
        assert_eq!(a_calls.load(Ordering::SeqCst), 3);
        assert_eq!(b_calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn not_found_is_not_retried_and_reported_as_such() {
        let (a, a_calls) = mirror(vec![Err(FetchError::NotFound)]);
        let (b, _) = mirror(vec![Err(FetchError::NotFound)]);
        let mirrors = Mirrors::new(vec![a, b], quick());
        let err = mirrors.fetch("2.root.json", "2.root.json", 100, Ok);
        assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
        assert_eq!(a_calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn only_a_typed_not_found_makes_a_file_missing() {
        // Failures whose words end as a "not found" once did: a resolver's message, or a
        // broken connection, read as "the mirror has no such file". For the root probe that
        // meant "no newer root exists", and a rotation was silently skipped.
        for words in ["dns: not found", "resolve mirror.example: not found"] {
            let (a, _) = mirror(vec![Err(FetchError::Io(words.into()))]);
            let mirrors = Mirrors::new(vec![a], quick());
            match mirrors.fetch("2.root.json", "2.root.json", 100, Ok) {
                Err(Error::Fetch { what, failures, .. }) => {
                    assert_eq!(what, "2.root.json");
                    // One line for the mirror, with its three attempts.
                    assert_eq!(failures.len(), 1, "{failures:?}");
                    assert_eq!(failures[0].attempts, 3);
                }
                other => panic!("{words}: {other:?}"),
            }
        }
        // One mirror that answers "no such file" is an answer, whatever the others did.
        let (a, _) = mirror(vec![Err(FetchError::Status(500))]);
        let (b, _) = mirror(vec![Err(FetchError::NotFound)]);
        let mirrors = Mirrors::new(vec![a, b], quick());
        let err = mirrors.fetch("2.root.json", "2.root.json", 100, Ok);
        assert!(matches!(err, Err(Error::NotFound { .. })), "{err:?}");
        // Server errors alone are not.
        let (a, _) = mirror(vec![Err(FetchError::Status(500))]);
        let mirrors = Mirrors::new(vec![a], quick());
        let err = mirrors.fetch("2.root.json", "2.root.json", 100, Ok);
        assert!(matches!(err, Err(Error::Fetch { .. })), "{err:?}");
    }

    #[test]
    fn a_refused_copy_moves_on_and_the_refusal_is_reported() {
        let (a, _) = mirror(vec![Ok(b"bad")]);
        let (b, _) = mirror(vec![Ok(b"good")]);
        let mirrors = Mirrors::new(vec![a, b], quick());
        let check = |bytes: Vec<u8>| {
            if bytes == b"good" {
                Ok(())
            } else {
                Err(Error::Internal("refused"))
            }
        };
        assert!(mirrors.fetch("f", "f", 100, check).is_ok());
        let (c, _) = mirror(vec![Ok(b"bad")]);
        let mirrors = Mirrors::new(vec![c], quick());
        assert!(matches!(
            mirrors.fetch("f", "f", 100, check),
            Err(Error::Internal("refused"))
        ));
    }

    #[test]
    fn attempts_are_capped_and_a_slow_mirror_is_not_asked_again() {
        let (a, a_calls) = mirror(vec![Err(FetchError::Io("reset".into()))]);
        let retry = RetryPolicy {
            attempts: u32::MAX,
            ..quick()
        };
        let mirrors = Mirrors::new(vec![a], retry);
        assert!(mirrors.fetch("f", "f", 100, Ok).is_err());
        assert_eq!(a_calls.load(Ordering::SeqCst), MAX_RETRIES + 1);

        let slow = FetchError::TooSlow {
            url: "http://a/f".into(),
            received: 3,
            elapsed: Duration::from_secs(30),
            floor: crate::fetch::SpeedFloor::default(),
        };
        let (a, a_calls) = mirror(vec![Err(slow)]);
        let (b, _) = mirror(vec![Ok(b"good")]);
        let reported = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = reported.clone();
        let mirrors = Mirrors::new(vec![a, b], quick())
            .reporting(move |f| seen.lock().unwrap().push(f.to_string()));
        assert_eq!(mirrors.fetch("f", "f", 100, Ok).unwrap(), b"good");
        assert_eq!(a_calls.load(Ordering::SeqCst), 1);
        assert_eq!(
            *reported.lock().unwrap(),
            ["http://a/f: abandoned: 3 bytes in 30.0 s (0.1 bytes/s), below the floor of 1024 bytes/s over 30 s"]
        );
    }

    #[test]
    fn retries_collapse_into_one_line_per_mirror_naming_each_url() {
        let (a, _) = mirror(vec![Err(FetchError::Io("connection refused".into()))]);
        let (b, _) = mirror(vec![Err(FetchError::NotFound)]);
        let mirrors = Mirrors::new(vec![a, b], quick()).serving(Serves::Metadata);
        let err = mirrors
            .fetch("timestamp.json", "timestamp.json", 100, Ok)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "timestamp.json: not found on any mirror (scripted/timestamp.json: connection \
             refused (3 attempts); scripted/timestamp.json: not found): is the metadata URL \
             right? It names the folder that holds timestamp.json, usually ending in /metadata \
             (check --metadata-url, or [repository] metadata in the config)"
        );
        assert!(err.could_not_fetch());

        let (a, _) = mirror(vec![Err(FetchError::Status(503))]);
        let mirrors = Mirrors::new(vec![a], quick()).serving(Serves::Targets);
        let err = mirrors.fetch("a.bin", "a.bin", 100, Ok).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a.bin: could not be fetched (scripted/a.bin: HTTP status 503 (3 attempts)): no \
             mirror could be reached; nothing was refused: check the network and that the \
             targets mirrors are up (the URLs come from --target-base-url, or [repository] \
             targets in the config)"
        );
        assert!(err.could_not_fetch());

        // Bytes over the limit are an answer refused, not an unreachable mirror.
        let (a, _) = mirror(vec![Ok(b"far too long")]);
        let mirrors = Mirrors::new(vec![a], quick());
        let err = mirrors.fetch("a.bin", "a.bin", 4, Ok).unwrap_err();
        assert!(!err.could_not_fetch(), "{err}");
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        let policy = RetryPolicy {
            attempts: 5,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(300),
        };
        for _ in 0..20 {
            let first = policy.delay(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let late = policy.delay(10);
            assert!(late >= Duration::from_millis(150) && late <= Duration::from_millis(300));
        }
    }
}
