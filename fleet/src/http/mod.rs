//! The collector's HTTP service: a small HTTP/1.1 server, TLS, and the routes.
//!
//! - [`server`]: connections, requests and their bounds (head, body, time, count).
//! - [`tls`]: the rustls server configuration, with client certificates when asked.
//! - [`routes`]: what each path answers: reports in, questions out, the dashboard.

pub mod routes;
pub mod server;
pub mod tls;
