//! `repo publish` to a real S3-compatible server on 127.0.0.1 (moto's server mode, from
//! PyPI, installed by the test command): devices and python-tuf then update from its HTTP
//! endpoint, and a publish killed midway leaves the bucket valid for clients.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use e2e_tests::{read_json, tree_state, DemoRepo, Device, S3};

const APP: &str = "releases/1.0.0/armv7/app.bin";

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
    let before = tree_state(&r.path);
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
    // The record of the last publication still names only what the first one sent.
    assert_eq!(before, tree_state(&r.path));
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
