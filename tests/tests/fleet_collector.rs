//! The collector's refusals, as attacks (issue 14, acceptance item 2), each against SQLite
//! and PostgreSQL: a report without a signature or with a wrong one, signed by a key nobody
//! enrolled, replayed, naming a device whose enrolled key is another's, a 100 MB body, and
//! malformed JSON. Each is answered with its exact status and `outcome`, and stored nowhere:
//! every row of the tables a report lands in is the same before and after.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use e2e_tests::*;
use serde_json::Value;

on_both_databases!(
    unsigned_report,
    unenrolled_key,
    replayed_report,
    device_id_of_another_key,
    hundred_megabyte_body,
    malformed_json,
    other_http_refusals,
);

/// A collector on `db` with device `a` enrolled and its events 1 and 2 stored, so that the
/// tables a refused report would change are not empty.
fn collector_with_history(db: &str) -> (FleetServer, TestDevice) {
    let device = TestDevice::new("device-a");
    device.enroll(db);
    let server = FleetServer::start(db, &[]);
    let (status, answer) = post_report(&server, &device.report(1..=2));
    assert_eq!((status, answer["outcome"].as_str()), (200, Some("stored")));
    (server, device)
}

/// Posts `body` and asserts the answer's status and `outcome`, and that no row changed.
fn refused(server: &FleetServer, body: &[u8], status: u16, outcome: &str) -> Value {
    let before = db_rows(&server.db);
    let (got, answer) = post_report(server, body);
    assert_eq!(
        (got, answer["outcome"].as_str()),
        (status, Some(outcome)),
        "{answer}"
    );
    assert_eq!(
        db_rows(&server.db),
        before,
        "a refused report changed a table"
    );
    answer
}

fn unsigned_report(db: &str, _dir: &Path) {
    let (server, device) = collector_with_history(db);
    let mut report: Value = serde_json::from_slice(&device.report(3..=4)).unwrap();

    // Without its signature: not a report at all.
    report.as_object_mut().unwrap().remove("signature");
    let answer = refused(&server, report.to_string().as_bytes(), 400, "malformed");
    assert!(
        answer["detail"].as_str().unwrap().contains("signature"),
        "{answer}"
    );

    // A signature of zeros: the right shape, and it does not verify.
    report["signature"] = Value::String("0".repeat(128));
    let answer = refused(&server, report.to_string().as_bytes(), 401, "bad_signature");
    assert_eq!(
        answer["detail"],
        "report signature does not verify with its key"
    );

    // The device's own, untouched report still goes in: the refusals cost it nothing.
    let (status, _) = post_report(&server, &device.report(3..=4));
    assert_eq!(status, 200);
}

fn unenrolled_key(db: &str, _dir: &Path) {
    let (server, _) = collector_with_history(db);
    let stranger = TestDevice::new("device-x");
    let answer = refused(&server, &stranger.report(1..=2), 403, "not_enrolled");
    assert_eq!(
        answer["detail"],
        "device device-x is not enrolled with this key"
    );
}

fn replayed_report(db: &str, _dir: &Path) {
    let (server, device) = collector_with_history(db);

    // The same report again (its answer was lost, or an attacker replays it): stored once.
    let answer = refused(&server, &device.report(1..=2), 208, "duplicate");
    assert_eq!(answer["id"], device.signed(1..=2).id());

    // After events 3 and 4, an older range (a report made before them, or a part of one
    // already taken, under a new id) is a replay.
    let (status, _) = post_report(&server, &device.report(3..=4));
    assert_eq!(status, 200);
    for older in [2..=2, 1..=1, 4..=4, 2..=5] {
        let answer = refused(&server, &device.report(older.clone()), 409, "replay");
        assert_eq!(
            answer["detail"], "device device-a already sent events up to 4",
            "{older:?}"
        );
    }
}

fn device_id_of_another_key(db: &str, _dir: &Path) {
    let (server, a) = collector_with_history(db);
    let b = TestDevice::new("device-b");
    b.enroll(db);
    // Device b, enrolled, signs a report that says it is from device a.
    let forged = b.claiming(&a.id);
    let answer = refused(&server, &forged.report(3..=4), 403, "key_mismatch");
    assert_eq!(
        answer["detail"],
        format!(
            "report from device device-a is signed by key {}, not its enrolled key",
            forged.public()
        )
    );
}

fn hundred_megabyte_body(db: &str, _dir: &Path) {
    let (server, device) = collector_with_history(db);
    let before = db_rows(&server.db);
    let address = server
        .url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let started = Instant::now();
    let mut stream = TcpStream::connect(&address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let head = format!(
        "POST /v1/reports HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: 104857600\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).unwrap();
    // A few KB of the 100 MB, then wait for the answer: it must come without the rest.
    stream.write_all(&[b'{'; 4096]).unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&chunk[..n]),
            // The server closed with our unread bytes in its buffer: a reset, after the answer.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset && !answer.is_empty() => {
                break
            }
            Err(e) => panic!("reading the answer: {e} (got {answer:?})"),
        }
    }
    let elapsed = started.elapsed();
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 413 Content Too Large\r\n"),
        "{answer}"
    );
    let body: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(body["outcome"], "too_large", "{body}");
    assert!(
        elapsed < Duration::from_secs(10),
        "answered in {elapsed:?}: the body was read"
    );
    assert_eq!(db_rows(&server.db), before);
    // The collector still serves the next device.
    let (status, _) = post_report(&server, &device.report(3..=4));
    assert_eq!(status, 200);
}

fn malformed_json(db: &str, _dir: &Path) {
    let (server, device) = collector_with_history(db);
    let good = String::from_utf8(device.report(3..=4)).unwrap();
    for body in [
        &good[..good.len() / 2],
        "not json",
        "",
        "[]",
        r#"{"report": {}, "signature": ""}"#,
        &good.replace("\"events\"", "\"events\":[],\"extra\""),
    ] {
        let answer = refused(&server, body.as_bytes(), 400, "malformed");
        assert!(
            answer["detail"]
                .as_str()
                .unwrap()
                .starts_with("report is malformed: "),
            "{body:?}: {answer}"
        );
    }
}

/// A chunked body (411) and a body that is not JSON (415): refused before the report is
/// looked at.
fn other_http_refusals(db: &str, _dir: &Path) {
    let (server, device) = collector_with_history(db);
    let before = db_rows(&server.db);
    let body = device.report(3..=4);
    let sent = ureq::post(&server.reports_url())
        .set("Content-Type", "text/plain")
        .send_bytes(&body);
    let Err(ureq::Error::Status(415, response)) = sent else {
        panic!("not 415: {sent:?}")
    };
    let answer: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
    assert_eq!(answer["outcome"], "unsupported_media_type");
    let sent = ureq::post(&server.reports_url())
        .set("Content-Type", "application/json")
        .send(&body[..]);
    let Err(ureq::Error::Status(411, response)) = sent else {
        panic!("not 411: {sent:?}")
    };
    let answer: Value = serde_json::from_str(&response.into_string().unwrap()).unwrap();
    assert_eq!(answer["outcome"], "length_required");
    assert_eq!(db_rows(&server.db), before);
}
