//! Static HTTP servers on 127.0.0.1 (`tests/python/serve.py`), with the request log some of
//! them keep.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::run::workspace_root;

/// A static HTTP server on 127.0.0.1 serving one folder, stopped on drop.
pub struct StaticServer {
    child: Child,
    pub port: u16,
}

impl StaticServer {
    /// Serves `dir` on a free port of 127.0.0.1.
    pub fn start(dir: &Path) -> Self {
        Self::start_with::<&str>(dir, &[])
    }

    /// Serves `dir` with options of `tests/python/serve.py` (`--log FILE`, `--status CODE`,
    /// `--stall NAME`, `--endless NAME`).
    pub fn start_with<S: AsRef<OsStr>>(dir: &Path, options: &[S]) -> Self {
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tests/python/serve.py"))
            .arg(dir)
            .args(options)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("start python3 http server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server prints its port");
        let port = line.trim().parse().expect("port number");
        let server = StaticServer { child, port };
        // Bounded wait until it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The request paths a `--log` server wrote, one per request.
pub fn logged_requests(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}
