//! The `fleet` collector as the tests run it: `fleet serve` on a free port of 127.0.0.1
//! (stopped when the value drops), its other commands with a deadline, the two databases
//! it runs on (a SQLite file, a fresh PostgreSQL database), and its tables read directly.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::run::{bin, run_bounded, Run};

/// A running `fleet serve`.
pub struct FleetServer {
    child: Child,
    /// `http://127.0.0.1:PORT/` (or `https://…` with TLS).
    pub url: String,
    pub db: String,
}

impl FleetServer {
    /// `fleet serve --db DB --listen 127.0.0.1:0 EXTRA…`, once it printed its address.
    pub fn start(db: &str, extra: &[&str]) -> FleetServer {
        let mut child = Command::new(bin("fleet"))
            .args(["serve", "--db", db, "--listen", "127.0.0.1:0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start fleet serve");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("fleet serve printed no address within 30 s");
            }
        };
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        FleetServer {
            child,
            url,
            db: db.to_owned(),
        }
    }

    /// `fleet serve` over HTTPS with the certificates [`make_test_certificates`] made in
    /// `certs`, requiring client certificates from its CA.
    pub fn start_tls(db: &str, certs: &Path) -> FleetServer {
        let path = |name: &str| certs.join(name).display().to_string();
        let (cert, key, ca) = (path("server.pem"), path("server.key"), path("ca.pem"));
        let extra = ["--tls-cert", &cert, "--tls-key", &key, "--client-ca", &ca];
        FleetServer::start(db, &extra)
    }

    /// Where devices post: `…/v1/reports`.
    pub fn reports_url(&self) -> String {
        format!("{}v1/reports", self.url)
    }
}

impl Drop for FleetServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `fleet ARGS…` with a deadline of two minutes.
pub fn fleet(args: &[&str]) -> Run {
    run_bounded(
        Command::new(bin("fleet")).args(args),
        Duration::from_secs(120),
    )
}

/// A SQLite database for `fleet` in `dir`: a path, created on first use.
pub fn sqlite_db(dir: &Path) -> String {
    dir.join("fleet.db").display().to_string()
}

/// A fresh, empty PostgreSQL database on the server `FLEET_TEST_POSTGRES` names (the URL
/// `scripts/postgres-for-tests.sh start DIR` prints; tests/run-all.sh sets it), with a
/// name no other test uses; its URL. Panics without that server: the PostgreSQL tests are
/// never skipped.
pub fn postgres_db() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let server = std::env::var("FLEET_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!(
            "FLEET_TEST_POSTGRES is not set: start a server with \
             `scripts/postgres-for-tests.sh start DIR` and export the URL it prints \
             (tests/run-all.sh does both)"
        )
    });
    let server = server.trim_end_matches('/');
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    let name = format!(
        "fleet_test_{}_{}_{nanos}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    );
    let mut client = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .unwrap_or_else(|e| panic!("connecting to {server} (FLEET_TEST_POSTGRES): {e}"));
    // The name is made of letters, digits and underscores only: safe to put in the SQL.
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
    format!("{server}/{name}")
}

/// The tables where a report's effects land, each as its rows (sorted), read with SQL:
/// compared before and after a refusal, they show that it stored nothing.
pub fn db_rows(db: &str) -> BTreeMap<&'static str, Vec<String>> {
    let mut conn = fleet::db::Db::open(db).expect("open the fleet database");
    ["devices", "reports", "events", "rollout", "schema_version"]
        .into_iter()
        .map(|table| {
            let rows = conn
                .query(&format!("SELECT * FROM {table}"), &[])
                .expect("read a table");
            let mut rows: Vec<String> = rows.iter().map(|r| format!("{r:?}")).collect();
            rows.sort();
            (table, rows)
        })
        .collect()
}

/// POSTs `body` as JSON to the collector; the status and the JSON answer.
pub fn post_report(server: &FleetServer, body: &[u8]) -> (u16, serde_json::Value) {
    let sent = ureq::post(&server.reports_url())
        .set("Content-Type", "application/json")
        .timeout(Duration::from_secs(30))
        .send_bytes(body);
    let response = match sent {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("posting a report: {e}"),
    };
    let status = response.status();
    let text = response.into_string().expect("answer text");
    let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("answer {text:?}: {e}"));
    (status, value)
}

/// Makes each named test function `fn NAME(db: &str, dir: &Path)` into two tests,
/// `NAME::sqlite` and `NAME::postgres`: the same test against a SQLite file in a fresh
/// temporary folder and against a fresh PostgreSQL database ([`postgres_db`]).
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[test]
            fn sqlite() {
                let dir = ::tempfile::tempdir().unwrap();
                super::$name(&$crate::sqlite_db(dir.path()), dir.path());
            }
            #[test]
            fn postgres() {
                let dir = ::tempfile::tempdir().unwrap();
                super::$name(&$crate::postgres_db(), dir.path());
            }
        }
    )*};
}

/// A CA, and a server certificate (127.0.0.1) and a client certificate it signs, made with
/// the `openssl` command in `dir`.
pub fn make_test_certificates(dir: &Path) {
    make_test_certificates_of(dir, "fleet-test-ca");
}

/// [`make_test_certificates`] with a CA named `ca_name` (its common name): ca.pem/ca.key,
/// server.pem/server.key (127.0.0.1), client.pem/client.key (client authentication).
pub fn make_test_certificates_of(dir: &Path, ca_name: &str) {
    let script = r#"set -e
ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
openssl req -x509 $ec -keyout ca.key -out ca.pem -days 2 -subj "/CN=$1"
for who in server client; do
  openssl req $ec -keyout $who.key -out $who.csr -subj /CN=$who
done
printf 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' > server.cnf
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n' > client.cnf
for who in server client; do
  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $who.pem -days 2 -extfile $who.cnf
done
"#;
    let out = Command::new("sh")
        .args(["-c", script, "sh", ca_name])
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl: {out:#?}");
}
