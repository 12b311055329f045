//! Mirror failover: typed answers, retries collapsed per mirror, hints by setting.

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

fn mirror(answers: Vec<Result<&'static [u8], FetchError>>) -> (Box<dyn Transport>, Arc<AtomicU32>) {
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
                assert_eq!(failures.mirrors.len(), 1, "{failures:?}");
                assert!(
                    failures.mirrors[0].ends_with("(3 attempts)"),
                    "{failures:?}"
                );
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
