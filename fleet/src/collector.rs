//! Taking one report body: the order of checks, and the answer each refusal gets.
//!
//! Invariant: a body is parsed (size first, then structure) before anything is looked up,
//! the device's enrolled key is looked up before any signature work, the signature is
//! checked against that key only, and only then is the report handed to the one writer,
//! which takes waiting reports in batches, one transaction each, and answers each only
//! after its batch committed. Nothing is stored for a refused report.

use std::collections::HashMap;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Mutex, RwLock};

use serde_json::json;
use updater::limits::MAX_REPORT_BYTES;
use updater::report::{parse, ReportError, VerifiedReport};

use crate::db::{Db, DbError};
use crate::store::{self, Taken};

/// The answer to a report: an HTTP status and a JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub body: serde_json::Value,
}

impl Answer {
    fn new(status: u16, outcome: &str, detail: impl Into<String>) -> Answer {
        Answer {
            status,
            body: json!({"outcome": outcome, "detail": detail.into()}),
        }
    }

    /// The answer for a body longer than any report (sent before reading it).
    pub fn too_large() -> Answer {
        Answer::new(
            413,
            "too_large",
            format!("a report is at most {MAX_REPORT_BYTES} bytes"),
        )
    }
}

/// Most reports committed in one transaction.
const BATCH: usize = 256;

struct Job {
    report: VerifiedReport,
    reply: SyncSender<Result<Taken, String>>,
}

/// The report intake: a key cache, a reader, and the channel to the writer.
pub struct Collector {
    jobs: SyncSender<Job>,
    reader: Mutex<Db>,
    keys: RwLock<HashMap<String, String>>,
}

impl Collector {
    /// A collector over the database at `url`: two connections, one to read keys and one
    /// for the writer thread.
    pub fn start(url: &str) -> Result<Collector, DbError> {
        let reader = Db::open(url)?;
        let writer = Db::open(url)?;
        let (jobs, queue) = mpsc::sync_channel(BATCH * 4);
        std::thread::Builder::new()
            .name("fleet-writer".into())
            .spawn({
                let url = url.to_owned();
                move || write_loop(writer, &url, queue)
            })
            .map_err(|e| DbError::ColumnType(format!("cannot start the writer: {e}")))?;
        Ok(Collector {
            jobs,
            reader: Mutex::new(reader),
            keys: RwLock::new(HashMap::new()),
        })
    }

    /// Checks and stores one report body.
    pub fn submit(&self, body: &[u8]) -> Answer {
        let parsed = match parse(body, MAX_REPORT_BYTES) {
            Ok(parsed) => parsed,
            Err(ReportError::TooLarge { .. }) => return Answer::too_large(),
            Err(e) => return Answer::new(400, "malformed", e.to_string()),
        };
        let device = parsed.device().to_owned();
        let key = match self.enrolled_key(&device, false) {
            Ok(Some(key)) if key == parsed.key() => key,
            // Enrolled anew since it was cached: look again once.
            Ok(Some(_)) => match self.enrolled_key(&device, true) {
                Ok(Some(key)) => key,
                Ok(None) => return not_enrolled(&device),
                Err(e) => return unavailable(&e),
            },
            Ok(None) => return not_enrolled(&device),
            Err(e) => return unavailable(&e),
        };
        let report = match parsed.verify(&key) {
            Ok(report) => report,
            Err(e @ ReportError::KeyMismatch { .. }) => {
                return Answer::new(403, "key_mismatch", e.to_string())
            }
            Err(e) => return Answer::new(401, "bad_signature", e.to_string()),
        };
        let id = report.id().to_owned();
        match self.store(report) {
            Ok(Taken::Stored { events }) => Answer {
                status: 200,
                body: json!({"outcome": "stored", "id": id, "events": events}),
            },
            Ok(Taken::Duplicate) => Answer {
                status: 208,
                body: json!({"outcome": "duplicate", "id": id, "detail": "this report was stored before"}),
            },
            Ok(Taken::Replay { last_seq }) => Answer::new(
                409,
                "replay",
                format!("device {device} already sent events up to {last_seq}"),
            ),
            Ok(Taken::NotEnrolled) => not_enrolled(&device),
            Ok(Taken::OutOfRange) => Answer::new(400, "malformed", "a number is past 2^63"),
            Err(e) => Answer::new(503, "unavailable", e),
        }
    }

    fn store(&self, report: VerifiedReport) -> Result<Taken, String> {
        let (reply, answer) = mpsc::sync_channel(1);
        self.jobs
            .send(Job { report, reply })
            .map_err(|_| "the writer has stopped".to_owned())?;
        answer
            .recv()
            .map_err(|_| "the writer has stopped".to_owned())?
    }

    fn enrolled_key(&self, device: &str, fresh: bool) -> Result<Option<String>, DbError> {
        if !fresh {
            if let Some(key) = self.keys.read().ok().and_then(|k| k.get(device).cloned()) {
                return Ok(Some(key));
            }
        }
        let key = {
            let mut reader = self.reader.lock().map_err(|_| poisoned())?;
            store::enrolled_key(&mut reader, device)?
        };
        if let (Some(key), Ok(mut keys)) = (&key, self.keys.write()) {
            keys.insert(device.to_owned(), key.clone());
        }
        Ok(key)
    }
}

fn poisoned() -> DbError {
    DbError::ColumnType("a reader thread panicked".into())
}

fn not_enrolled(device: &str) -> Answer {
    Answer::new(
        403,
        "not_enrolled",
        format!("device {device} is not enrolled with this key"),
    )
}

fn unavailable(e: &DbError) -> Answer {
    Answer::new(503, "unavailable", e.to_string())
}

/// The writer: takes what waits, up to [`BATCH`] reports, in one transaction, then answers.
/// After a failed batch it opens the database anew (a restarted PostgreSQL closes the
/// connection for good), so one outage does not fail every report after it.
fn write_loop(mut db: Db, url: &str, queue: Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let now = updater::datetime::UtcTime::now().unix();
        let (reports, replies): (Vec<_>, Vec<_>) =
            jobs.into_iter().map(|j| (j.report, j.reply)).unzip();
        match store::take(&mut db, &reports, now) {
            Ok(taken) => {
                for (reply, taken) in replies.into_iter().zip(taken) {
                    let _ = reply.send(Ok(taken));
                }
            }
            Err(e) => {
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
                if let Ok(fresh) = Db::open(url) {
                    db = fresh;
                }
            }
        }
    }
}
