//! `repo publish` to a real S3-compatible server on 127.0.0.1 (moto's server mode, from
//! PyPI, installed by the test command): devices and python-tuf then update from its HTTP
//! endpoint, and a publish killed midway leaves the bucket valid for clients.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{bin, read_json, workspace_root, DemoRepo, Device, Run};

const APP: &str = "releases/1.0.0/armv7/app.bin";

/// moto's S3 server on a free port of 127.0.0.1, with a public-read bucket `updates`.
struct S3 {
    child: Child,
    port: u16,
}

impl S3 {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
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
        let s3 = S3 { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while ureq::get(&s3.url("")).call().is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
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

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn publish_command(&self, r: &DemoRepo) -> Command {
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

    fn publish(&self, r: &DemoRepo) -> Run {
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
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn python_tuf_reads(base: &str, root: &Path) {
    e2e_tests::python_tuf_fetch(base, root);
}

#[test]
fn publish_to_s3_then_devices_and_python_tuf_update_and_a_killed_publish_stays_valid() {
    let s3 = S3::start();
    let r = DemoRepo::signed();
    let first = s3.publish(&r);
    assert!(first.stdout.contains("0 already there"), "{first:#?}");
    let base = s3.url("/updates/repo");
    let device = Device::trusting(&r.root_json());
    device.download(&[&base], &[APP], &[]).ok();
    python_tuf_reads(&base, &r.root_json());
    // Unchanged files are not uploaded again; timestamp.json always is.
    let again = s3.publish(&r);
    assert!(again.stdout.contains(": 1 uploaded"), "{again:#?}");

    // A new version, published by a run killed after a few uploads: clients still see the
    // old, whole repository, because timestamp.json goes last.
    r.sign().ok();
    let mut child = s3
        .publish_command(&r)
        .env("REPO_TEST_PAUSE_AFTER_UPLOADS", "2")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains("paused after 2 uploads"), "{line}");
    child.kill().unwrap();
    child.wait().unwrap();
    device.refresh(&[&base]).ok();
    let trusted = read_json(&device.metadata_dir.join("timestamp.json"));
    assert_eq!(trusted["signed"]["version"], 1);
    python_tuf_reads(&base, &r.root_json());

    // Finished, the new version is what clients get.
    s3.publish(&r);
    device.refresh(&[&base]).ok();
    let trusted = read_json(&device.metadata_dir.join("timestamp.json"));
    assert_eq!(trusted["signed"]["version"], 2);
    python_tuf_reads(&base, &r.root_json());
}
