//! The collector's other ways in, each against SQLite and PostgreSQL: enrolment from a file
//! (all or nothing), `fleet import` of an air-gap export (once, and a tampered line refused
//! alone), HTTPS with client certificates (no certificate, no request), and the command's
//! refusals of a bad database URL and of plain HTTP off loopback.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e_tests::*;
use serde_json::Value;

on_both_databases!(
    enrollment_from_a_file,
    import_of_an_export,
    https_with_client_certificates,
    command_refusals,
);

fn enrollment_from_a_file(db: &str, dir: &Path) {
    let devices: Vec<TestDevice> = (1..=4)
        .map(|n| TestDevice::new(&format!("device-{n}")))
        .collect();
    let file = dir.join("devices.txt");
    std::fs::write(
        &file,
        format!(
            "# the lab\n{} {}\n\n{{\"device\": \"{}\", \"public_key\": \"{}\"}}\n{{\"device\": \"{}\", \"key\": \"{}\"}}\n",
            devices[0].id,
            devices[0].public(),
            devices[1].id,
            devices[1].public(),
            devices[2].id,
            devices[2].public().to_uppercase(),
        ),
    )
    .unwrap();
    let run = fleet(&["enroll", "--db", db, "--file", file.to_str().unwrap()]).ok();
    assert_eq!(
        run.stdout,
        "enrolled 3 devices (0 already enrolled with the same key)\n"
    );
    let listed = fleet(&["devices", "--db", db, "--json"]).ok();
    let listed: Value = serde_json::from_str(&listed.stdout).unwrap();
    let ids: Vec<&str> = listed["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["device"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["device-1", "device-2", "device-3"]);

    // One bad line refuses the whole file, naming the line; nothing of it is enrolled.
    let good = format!("{} {}\n", devices[3].id, devices[3].public());
    for (bad, message) in [
        (
            "device-5\n",
            "line 3: expected `DEVICE KEY` or a JSON object with device and public_key",
        ),
        (
            "{\"device\": \"device-5\"}\n",
            "line 3: expected `DEVICE KEY` or a JSON object with device and public_key",
        ),
        (
            "device-5 1234\n",
            "line 3: device device-5: key must be 64 hex digits",
        ),
    ] {
        std::fs::write(&file, format!("# more\n{good}{bad}")).unwrap();
        let before = db_rows(db);
        let run = fleet(&["enroll", "--db", db, "--file", file.to_str().unwrap()]);
        assert_eq!(run.code, Some(1), "{run:#?}");
        assert!(
            run.stderr
                .starts_with(&format!("fleet: {} {message}", file.display())),
            "{run:#?}"
        );
        assert_eq!(db_rows(db), before);
    }
}

fn import_of_an_export(db: &str, dir: &Path) {
    let device = TestDevice::new("device-a");
    device.enroll(db);
    let export = |name: &str, lines: &[Vec<u8>]| {
        let path = dir.join(name);
        std::fs::write(&path, lines.join(&b'\n')).unwrap();
        path.display().to_string()
    };
    let file = export(
        "export.jsonl",
        &[
            device.report(1..=2),
            device.report(3..=4),
            device.report(5..=6),
        ],
    );
    let counts = |run: &Run| serde_json::from_str::<Value>(&run.stdout).unwrap();
    let first = fleet(&["import", "--db", db, "--json", &file]).ok();
    assert_eq!(
        counts(&first),
        serde_json::json!({"stored": 3, "events": 6, "duplicate": 0, "refused": []})
    );
    // The same file again (carried back twice): all duplicates, nothing changes, success.
    let before = db_rows(db);
    let again = fleet(&["import", "--db", db, "--json", &file]).ok();
    assert_eq!(
        counts(&again),
        serde_json::json!({"stored": 0, "events": 0, "duplicate": 3, "refused": []})
    );
    assert_eq!(db_rows(db), before);

    // A line changed after signing is refused with its number; the lines around it are stored.
    let tampered = String::from_utf8(device.report(9..=10))
        .unwrap()
        .replace("arm64", "amd64");
    let file = export(
        "tampered.jsonl",
        &[
            device.report(7..=8),
            tampered.into_bytes(),
            device.report(11..=12),
        ],
    );
    let run = fleet(&["import", "--db", db, &file]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(
        run.stdout,
        "stored 2 reports (4 new events), 0 already stored, 1 refused\n"
    );
    assert!(
        run.stderr.starts_with(
            "fleet: refused line 2: HTTP 401 {\"detail\":\"report signature does not verify with its key\",\"outcome\":\"bad_signature\"}\n"
        ),
        "{run:#?}"
    );
    assert_eq!(event_seqs(db), [1, 2, 3, 4, 5, 6, 7, 8, 11, 12]);
}

/// The sequence numbers of the events stored, in order.
fn event_seqs(db: &str) -> Vec<i64> {
    let mut conn = fleet::db::Db::open(db).unwrap();
    conn.query("SELECT seq FROM events ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|row| row[0].as_int().unwrap())
        .collect()
}

fn https_with_client_certificates(db: &str, dir: &Path) {
    make_test_certificates(dir);
    let device = TestDevice::new("device-a");
    device.enroll(db);
    let path = |name: &str| dir.join(name).display().to_string();
    let server = FleetServer::start_tls(db, dir);
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{}",
        server.url
    );
    let body = path("report.json");
    std::fs::write(&body, device.report(1..=2)).unwrap();
    let curl = |extra: &[&str]| {
        let mut command = Command::new("curl");
        command
            .args(["-sS", "--max-time", "30", "--cacert", &path("ca.pem")])
            .args(["-H", "Content-Type: application/json"])
            .args(["--data-binary", &format!("@{body}")])
            .args(["-w", "\n%{http_code}"])
            .args(extra)
            .arg(server.reports_url());
        run_bounded(&mut command, Duration::from_secs(60))
    };

    // Without a certificate: the handshake fails, no request is read, nothing is stored.
    let before = db_rows(db);
    let refused = curl(&[]);
    // TLS 1.3: the server's alert arrives at the client's first read.
    assert_eq!(refused.code, Some(56), "{refused:#?}");
    assert!(
        refused.stderr.contains("alert certificate required"),
        "{refused:#?}"
    );
    assert_eq!(refused.stdout, "\n000");
    assert_eq!(db_rows(db), before);

    // With the client certificate the CA signed: answered, and stored.
    let answered = curl(&["--cert", &path("client.pem"), "--key", &path("client.key")]);
    assert_eq!(answered.code, Some(0), "{answered:#?}");
    let (answer, status) = answered.stdout.rsplit_once('\n').unwrap();
    assert_eq!(status, "200");
    assert_eq!(
        serde_json::from_str::<Value>(answer).unwrap()["outcome"],
        "stored"
    );
    assert_eq!(event_seqs(db), [1, 2]);
}

fn command_refusals(db: &str, _dir: &Path) {
    let run = fleet(&["devices", "--db", "mysql://fleet@127.0.0.1/fleet"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_eq!(
        run.stderr,
        "fleet: database URL \"mysql://fleet@127.0.0.1/fleet\" is neither sqlite:PATH (or a path) nor postgres://…\n"
    );

    // Plain HTTP is for loopback only: reports would cross the network unprotected.
    let run = fleet(&["serve", "--db", db, "--listen", "0.0.0.0:0"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stderr.starts_with("fleet: 0.0.0.0:")
            && run
                .stderr
                .ends_with(" is not a loopback address: give --tls-cert and --tls-key\n"),
        "{run:#?}"
    );
}
