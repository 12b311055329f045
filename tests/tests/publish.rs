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

/// The mirroring command of docs/reference/repo.md: everything but timestamp.json (`-H`: each artifact's
/// names stay hard links of one file), then timestamp.json (`-c`: a new one can have the
/// old one's size and modification second), then only deletions of what is no longer served.
const MIRROR_COMMAND: &str = "rsync -aH --exclude=/metadata/timestamp.json \"$SRC\" \"$DEST\" && rsync -ac \"$SRC/metadata/timestamp.json\" \"$DEST/metadata/\" && rsync -aH --delete --existing --ignore-existing \"$SRC\" \"$DEST\"";

/// Distinct files (inodes) under `dir`, and how many names they have there.
fn inodes_and_names(dir: &Path) -> (usize, usize) {
    use std::os::unix::fs::MetadataExt;
    let mut inodes = std::collections::BTreeSet::new();
    let mut names = 0;
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path);
            } else {
                inodes.insert(meta.ino());
                names += 1;
            }
        }
    }
    (inodes.len(), names)
}

#[test]
fn the_readme_mirroring_command_keeps_hard_links_and_sends_timestamp_last() {
    assert!(
        std::process::Command::new("rsync")
            .arg("--version")
            .output()
            .is_ok(),
        "rsync is not installed: run scripts/install-deps.sh"
    );
    let r = DemoRepo::signed();
    let dest = r.tmp.path().join("mirror");
    let mirror = || {
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(MIRROR_COMMAND)
            .env("SRC", format!("{}/", r.public().display()))
            .env("DEST", &dest)
            .status()
            .unwrap();
        assert!(status.success());
    };
    mirror();
    let source = inodes_and_names(&r.public());
    assert!(source.0 < source.1, "the repository serves hard links");
    assert_eq!(inodes_and_names(&dest), source);

    // A new release mirrored: still one file per artifact, and devices update from it.
    r.add("2.0.0", "armv7").ok();
    r.sign().ok();
    mirror();
    assert_eq!(inodes_and_names(&dest), inodes_and_names(&r.public()));
    let server = e2e_tests::StaticServer::start(&dest);
    let device = Device::trusting(&r.root_json());
    device
        .download(&[&server.url()], &["releases/2.0.0/armv7/app.bin"], &[])
        .ok();
}
