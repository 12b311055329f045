//! The `fleet` collector as the tests run it: `fleet serve` on a free port of 127.0.0.1
//! (stopped when the value drops), and its other commands with a deadline.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

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
