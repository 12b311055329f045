//! A recording collector for the report tests: an HTTP server on 127.0.0.1 that answers
//! every request with a fixed status (and headers) and keeps each body it received, in order.
//! It keeps a body before it answers (as a collector stores a report, then says so), and
//! can wait before answering, so a device killed mid-send leaves a report received but
//! not known to be.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The server; it runs for as long as the test process does.
pub struct RecordingCollector {
    port: u16,
    bodies: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl RecordingCollector {
    /// Starts a collector that answers `status` to every request.
    pub fn start(status: u16) -> Self {
        Self::answering(status, String::new())
    }

    /// Starts a collector that answers every request with a redirect (301) to `to`.
    pub fn redirecting(to: &str) -> Self {
        Self::answering(301, format!("Location: {to}\r\n"))
    }

    /// Starts a collector that answers `status` to every request, `delay` after reading it.
    pub fn slow(status: u16, delay: Duration) -> Self {
        Self::serving(status, String::new(), delay)
    }

    fn answering(status: u16, headers: String) -> Self {
        Self::serving(status, headers, Duration::ZERO)
    }

    fn serving(status: u16, headers: String, delay: Duration) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let kept = Arc::clone(&kept);
                let headers = headers.clone();
                // A thread each: a device killed mid-request cannot hold up the next one.
                std::thread::spawn(move || answer(stream, status, &headers, delay, &kept));
            }
        });
        RecordingCollector { port, bodies }
    }

    /// The URL reports are posted to.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/reports", self.port)
    }

    /// Every body received so far.
    pub fn bodies(&self) -> Vec<Vec<u8>> {
        self.bodies.lock().expect("lock").clone()
    }
}

/// Reads one request from `stream`, keeps its body in `kept`, waits `delay`, and answers
/// `status` with `headers`.
fn answer(
    stream: TcpStream,
    status: u16,
    headers: &str,
    delay: Duration,
    kept: &Mutex<Vec<Vec<u8>>>,
) -> Option<()> {
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().ok()?;
            }
        }
    }
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body).ok()?;
    kept.lock().expect("lock").push(body);
    std::thread::sleep(delay);
    let mut stream = stream;
    let reply =
        format!("HTTP/1.1 {status} X\r\n{headers}Content-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(reply.as_bytes()).ok()
}

/// A port on 127.0.0.1 that nothing listens on (bound, then closed).
pub fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}
