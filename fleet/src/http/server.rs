//! A small HTTP/1.1 server on threads: enough for reports in and pages out, with every
//! resource a client can spend bounded.
//!
//! Invariant: a request head is at most [`MAX_HEAD`] bytes and must arrive within
//! [`READ_TIMEOUT`] of each read; a body needs a `Content-Length` (no chunked bodies) of at
//! most the route's bound, checked before a byte of it is read, so a 100 MB body costs the
//! server one answer, at most [`LINGER_BYTES`] read and dropped (so that the close does not
//! reset the answer away), and a closed connection; a whole request must arrive within
//! [`REQUEST_TIME`] of its first byte; at most [`MAX_CONNECTIONS`] connections are
//! served at once, the rest are answered 503 and closed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest request head.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most connections served at once.
pub const MAX_CONNECTIONS: usize = 1024;
/// Longest wait for each read or write.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest time one request may take to arrive, head and body, once its first byte came:
/// a client that trickles bytes cannot hold a connection for longer.
pub const REQUEST_TIME: Duration = Duration::from_secs(60);
/// Longest time a refused request's unread body is still read (and dropped), after the
/// answer.
const LINGER: Duration = Duration::from_secs(2);
/// Most bytes of a refused request's body read (and dropped) after the answer.
const LINGER_BYTES: usize = 1024 * 1024;

/// A request, its body read whole.
#[derive(Debug)]
pub struct Request {
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query's pairs, percent-decoded.
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub(crate) content_type: Option<String>,
}

impl Request {
    /// The first value of query parameter `name`.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// An answer.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub(crate) content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: &serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json",
            body: value.to_string().into_bytes(),
        }
    }
}

/// What the server asks of the routes.
pub trait Handler: Send + Sync + 'static {
    /// The largest body accepted for `method` `path`; a longer one gets `too_large`.
    fn max_body(&self, method: &str, path: &str) -> usize;
    fn too_large(&self) -> Response;
    fn handle(&self, request: &Request) -> Response;
}

/// Serves `listener` until the process ends, TLS when `tls` is given.
pub fn serve(
    listener: TcpListener,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: Arc<dyn Handler>,
) {
    let open = Arc::new(AtomicUsize::new(0));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            open.fetch_sub(1, Ordering::SeqCst);
            let _ = refuse_busy(stream);
            continue;
        }
        let (open, tls, handler) = (open.clone(), tls.clone(), handler.clone());
        let spawned = std::thread::Builder::new()
            .name("fleet-connection".into())
            .spawn(move || {
                let _ = connection(stream, tls, handler.as_ref());
                open.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            // No thread to be had: the connection is dropped and the client retries.
            continue;
        }
    }
}

fn refuse_busy(mut stream: TcpStream) -> std::io::Result<()> {
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let body = br#"{"outcome":"busy","detail":"too many connections"}"#;
    write_response(
        &mut stream,
        &Response {
            status: 503,
            content_type: "application/json",
            body: body.to_vec(),
        },
        false,
    )
}

fn connection(
    stream: TcpStream,
    tls: Option<Arc<rustls::ServerConfig>>,
    handler: &dyn Handler,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    stream.set_nodelay(true)?;
    match tls {
        Some(config) => {
            let session = rustls::ServerConnection::new(config).map_err(std::io::Error::other)?;
            requests(rustls::StreamOwned::new(session, stream), handler)
        }
        None => requests(stream, handler),
    }
}

/// A connection's stream (plain or TLS) and the socket under it, for its timeouts.
trait Socket: Read + Write {
    fn socket(&self) -> &TcpStream;
}

impl Socket for TcpStream {
    fn socket(&self) -> &TcpStream {
        self
    }
}

impl Socket for rustls::StreamOwned<rustls::ServerConnection, TcpStream> {
    fn socket(&self) -> &TcpStream {
        &self.sock
    }
}

/// Serves requests on one connection until it closes or asks to.
fn requests(mut stream: impl Socket, handler: &dyn Handler) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    loop {
        let mut started = None;
        let Some(head_len) = read_head(&mut stream, &mut buffer, &mut started)? else {
            return Ok(());
        };
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut parsed = httparse::Request::new(&mut headers);
        let head = match parsed.parse(&buffer[..head_len]) {
            Ok(httparse::Status::Complete(_)) => Head::of(&parsed),
            _ => None,
        };
        let Some(head) = head else {
            let answer = Response::json(
                400,
                &serde_json::json!({"outcome": "bad_request", "detail": "not an HTTP/1.1 request"}),
            );
            return refuse(&mut stream, &answer);
        };
        buffer.drain(..head_len);
        if head.chunked {
            let answer = Response::json(
                411,
                &serde_json::json!({"outcome": "length_required", "detail": "send a Content-Length, not a chunked body"}),
            );
            return refuse(&mut stream, &answer);
        }
        let (path, query) = split_target(&head.target);
        if head.content_length > handler.max_body(&head.method, &path) {
            return refuse(&mut stream, &handler.too_large());
        }
        if head.expect_continue {
            stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
        }
        let body = read_body(&mut stream, &mut buffer, head.content_length, started)?;
        let request = Request {
            method: head.method,
            path,
            query,
            body,
            content_type: head.content_type,
        };
        let response = handler.handle(&request);
        write_response(&mut stream, &response, head.keep_alive)?;
        if !head.keep_alive {
            return Ok(());
        }
    }
}

/// Answers a request whose body is not read, then reads what the client still sends for at
/// most [`LINGER`] and [`LINGER_BYTES`], dropping it, before the connection closes: a socket
/// closed with unread bytes sends a reset, which can destroy the answer before the client
/// reads it (a device would see a broken pipe instead of 413 or 411).
fn refuse(stream: &mut impl Socket, answer: &Response) -> std::io::Result<()> {
    write_response(stream, answer, false)?;
    let deadline = Instant::now() + LINGER;
    let mut chunk = [0u8; 16 * 1024];
    let mut left = LINGER_BYTES;
    while left > 0 {
        let Some(wait) = deadline.checked_duration_since(Instant::now()) else {
            break;
        };
        if wait.is_zero() {
            break;
        }
        stream.socket().set_read_timeout(Some(wait))?;
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => left = left.saturating_sub(n),
        }
    }
    Ok(())
}

/// What the server needs of a request head.
struct Head {
    method: String,
    target: String,
    content_length: usize,
    content_type: Option<String>,
    chunked: bool,
    expect_continue: bool,
    keep_alive: bool,
}

impl Head {
    fn of(parsed: &httparse::Request) -> Option<Head> {
        let mut head = Head {
            method: parsed.method?.to_owned(),
            target: parsed.path?.to_owned(),
            content_length: 0,
            content_type: None,
            chunked: false,
            expect_continue: false,
            keep_alive: parsed.version? == 1,
        };
        for header in parsed.headers.iter() {
            let value = std::str::from_utf8(header.value).ok()?.trim();
            match header.name.to_ascii_lowercase().as_str() {
                // A length that does not parse (or overflows) is refused, not guessed.
                "content-length" => head.content_length = value.parse().ok()?,
                "content-type" => head.content_type = Some(value.to_owned()),
                "transfer-encoding" => head.chunked = true,
                "expect" => head.expect_continue = value.eq_ignore_ascii_case("100-continue"),
                "connection" if value.eq_ignore_ascii_case("close") => head.keep_alive = false,
                "connection" if value.eq_ignore_ascii_case("keep-alive") => head.keep_alive = true,
                _ => {}
            }
        }
        Some(head)
    }
}

/// Reads until `buffer` holds a whole head; its length, or `None` if the client closed
/// between requests. A head past [`MAX_HEAD`] is an error.
fn read_head(
    stream: &mut impl Read,
    buffer: &mut Vec<u8>,
    started: &mut Option<Instant>,
) -> std::io::Result<Option<usize>> {
    let mut chunk = [0u8; 4096];
    loop {
        if !buffer.is_empty() && started.is_none() {
            *started = Some(Instant::now());
        }
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(end + 4));
        }
        if buffer.len() > MAX_HEAD {
            return Err(std::io::Error::other("request head too large"));
        }
        check_time(*started)?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if buffer.is_empty() && e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return if buffer.is_empty() {
                Ok(None)
            } else {
                Err(std::io::ErrorKind::UnexpectedEof.into())
            };
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn read_body(
    stream: &mut impl Read,
    buffer: &mut Vec<u8>,
    length: usize,
    started: Option<Instant>,
) -> std::io::Result<Vec<u8>> {
    let mut filled = length.min(buffer.len());
    let mut body: Vec<u8> = buffer.drain(..filled).collect();
    body.resize(length, 0);
    while filled < length {
        check_time(started)?;
        match stream.read(&mut body[filled..])? {
            0 => return Err(std::io::ErrorKind::UnexpectedEof.into()),
            n => filled += n,
        }
    }
    Ok(body)
}

/// Fails once [`REQUEST_TIME`] has passed since `started`.
fn check_time(started: Option<Instant>) -> std::io::Result<()> {
    match started {
        Some(started) if started.elapsed() > REQUEST_TIME => Err(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "request took too long to arrive",
        )),
        _ => Ok(()),
    }
}

fn split_target(target: &str) -> (String, Vec<(String, String)>) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let pairs = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    (percent_decode(path), pairs)
}

/// `%XX` and `+` decoded; anything malformed kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

fn write_response(
    stream: &mut impl Write,
    response: &Response,
    keep_alive: bool,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nContent-Security-Policy: default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:\r\n\
         Connection: {}\r\n\r\n",
        response.status,
        reason(response.status),
        response.content_type,
        response.body.len(),
        if keep_alive { "keep-alive" } else { "close" },
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(&response.body)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        208 => "Already Reported",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_split_and_decode() {
        let (path, query) = split_target("/v1/devices?not_running=2.0.0&group=a%2Cb+c&x");
        assert_eq!(path, "/v1/devices");
        assert_eq!(
            query,
            [
                ("not_running".into(), "2.0.0".into()),
                ("group".into(), "a,b c".into()),
                ("x".into(), String::new())
            ]
        );
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%é%41"), "%éA");
    }
}
