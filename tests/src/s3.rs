//! moto's S3 server on 127.0.0.1 (from PyPI, in the workspace's `.venv`), with a
//! public-read bucket `updates`, and `repo publish` to it. Optionally behind a recording
//! proxy (`tests/python/recording_proxy.py`) that logs every request the server gets, so a
//! test can count uploads, parts, copies, listings and bytes sent.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::demo_repo::DemoRepo;
use crate::python::tuf_python;
use crate::run::{bin, workspace_root, Run};

/// One request the S3 server got, as the recording proxy saw it.
#[derive(Debug, Clone)]
pub struct S3Request {
    pub method: String,
    /// Path and query, e.g. `/updates/repo/metadata/timestamp.json?partNumber=3&uploadId=..`.
    pub target: String,
    /// Body bytes forwarded to the server.
    pub bytes: u64,
    /// A server-side copy (`x-amz-copy-source`).
    pub copy: bool,
    pub status: u16,
}

impl S3Request {
    /// A PUT that sends bytes of an object (a whole object or one part), not a copy.
    pub fn is_upload(&self) -> bool {
        self.method == "PUT" && !self.copy && self.target.starts_with("/updates/")
    }
    /// A PUT of one part of a multipart upload.
    pub fn is_part(&self) -> bool {
        self.is_upload() && self.target.contains("partNumber=")
    }
    /// A listing of the bucket (ListObjects or ListObjectsV2).
    pub fn is_listing(&self) -> bool {
        let (path, query) = self.target.split_once('?').unwrap_or((&self.target, ""));
        self.method == "GET"
            && path.trim_end_matches('/') == "/updates"
            && !query.contains("policy")
    }
    /// The object path, without the query.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }
}

/// moto's S3 server, and the recording proxy in front of it if started with one.
pub struct S3 {
    children: Vec<Child>,
    port: u16,
    log: Option<(tempfile::TempDir, PathBuf)>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl S3 {
    /// The server alone.
    pub fn start() -> Self {
        let port = free_port();
        let server = workspace_root().join(".venv/bin/moto_server");
        assert!(
            server.is_file(),
            "moto is not installed: run tests/run-all.sh"
        );
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let s3 = S3 {
            children: vec![child],
            port,
            log: None,
        };
        s3.wait_until_up();
        ureq::put(&s3.url("/updates"))
            .send_bytes(&[])
            .expect("create bucket");
        let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::updates/*"}]}"#;
        ureq::put(&s3.url("/updates?policy"))
            .set("Content-Type", "application/json")
            .send_bytes(policy.as_bytes())
            .expect("make the bucket readable");
        s3
    }

    /// The server behind a proxy that records every request: [`S3::url`] is the proxy's.
    pub fn start_recorded() -> Self {
        let mut s3 = S3::start();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("requests.jsonl");
        let port = free_port();
        let proxy = Command::new(tuf_python())
            .arg(workspace_root().join("tests/python/recording_proxy.py"))
            .arg(port.to_string())
            .arg(s3.port.to_string())
            .arg(&log)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the recording proxy");
        s3.children.push(proxy);
        s3.port = port;
        s3.log = Some((dir, log));
        s3.wait_until_up();
        s3.clear_requests();
        s3
    }

    fn wait_until_up(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&self.url("")).call().is_err() {
            assert!(Instant::now() < deadline, "the S3 server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Every request recorded since the last [`S3::clear_requests`].
    pub fn requests(&self) -> Vec<S3Request> {
        let (_, log) = self.log.as_ref().expect("started with start_recorded");
        let text = std::fs::read_to_string(log).unwrap_or_default();
        text.lines()
            .map(|line| {
                let v: Value = serde_json::from_str(line).unwrap();
                S3Request {
                    method: v["method"].as_str().unwrap().to_owned(),
                    target: v["target"].as_str().unwrap().to_owned(),
                    bytes: v["bytes"].as_u64().unwrap(),
                    copy: v["copy"].as_bool().unwrap(),
                    status: v["status"].as_u64().unwrap() as u16,
                }
            })
            .collect()
    }

    /// Forgets the requests recorded so far.
    pub fn clear_requests(&self) {
        let (_, log) = self.log.as_ref().expect("started with start_recorded");
        std::fs::write(log, b"").unwrap();
    }

    /// `repo publish` of `r` to `s3://updates/repo`, not yet run.
    pub fn publish_command(&self, r: &DemoRepo) -> Command {
        let mut command = Command::new(bin("repo"));
        command
            .arg("publish")
            .arg(&r.path)
            .arg("s3://updates/repo")
            .env("AWS_ENDPOINT", self.url(""))
            .env("AWS_ALLOW_HTTP", "true")
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .stdin(Stdio::null());
        command
    }

    /// Runs `repo publish` of `r`; panics unless it succeeds.
    pub fn publish(&self, r: &DemoRepo) -> Run {
        let out = self.publish_command(r).output().expect("run repo publish");
        let run = Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        };
        run.ok()
    }
}

impl Drop for S3 {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
