//! A publication's durability work is one `syncfs` per filesystem before any name appears
//! and one after, however many artifacts it holds: `repo add` of 200 files and the
//! `repo sign` that publishes them make no fsync per file, and every file takes its final
//! name between the two syncs (counted by strace, which the test needs).

use std::path::Path;
use std::process::Command;

use e2e_tests::{bin, example_key, read_json, DemoRepo, Device, Run, StaticServer};

/// System calls traced: the syncs, and the calls that give a file a name.
const TRACED: &str = "fsync,fdatasync,syncfs,link,linkat,rename,renameat,renameat2";

/// One traced system call: its name and its arguments as strace printed them.
struct Call {
    name: String,
    args: String,
}

/// Runs `repo ARGS` under strace (following threads) and returns its run and the calls.
fn traced_repo(dir: &Path, args: &[&std::ffi::OsStr]) -> (Run, Vec<Call>) {
    let trace = dir.join("trace");
    let output = Command::new("strace")
        .args(["-f", "-qq", "-s", "4096", "-e"])
        .arg(format!("trace={TRACED}"))
        .arg("-o")
        .arg(&trace)
        .arg(bin("repo"))
        .args(args)
        .output()
        .unwrap_or_else(|e| {
            panic!("this test counts system calls with strace, which did not run ({e}): apt-get install strace")
        });
    let run = Run {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    };
    let calls = std::fs::read_to_string(&trace)
        .unwrap()
        .lines()
        // "PID name(args) = result": resumed halves of interrupted calls are skipped.
        .filter_map(|line| {
            let (_, call) = line.split_once(' ')?;
            let call = call.trim_start();
            let (name, args) = call.split_once('(')?;
            Some(Call {
                name: name.to_owned(),
                args: args.to_owned(),
            })
        })
        .collect();
    (run, calls)
}

/// A call that gives a file a final name inside `within`: a link or rename whose new
/// name is not a temporary one.
fn names_a_file(call: &Call, within: &str) -> bool {
    if !["link", "linkat", "rename", "renameat", "renameat2"].contains(&call.name.as_str()) {
        return false;
    }
    // The new name is the last quoted argument.
    let new = call.args.rsplit('"').nth(1).unwrap_or_default();
    new.starts_with(within) && !new.ends_with(".tmp")
}

/// The syncs of one command: at most 2 `syncfs` (the repository is on one filesystem),
/// no fsync or fdatasync per file (at most `per_command` in all), and every final name
/// given after the first `syncfs` and before the last.
fn assert_batched(what: &str, calls: &[Call], within: &str, per_command: usize) {
    let count = |name: &str| calls.iter().filter(|c| c.name == name).count();
    let syncfs = count("syncfs");
    let fsyncs = count("fsync") + count("fdatasync");
    assert!(
        (1..=2).contains(&syncfs) && fsyncs <= per_command,
        "{what}: {syncfs} syncfs, {fsyncs} fsync/fdatasync"
    );
    let first_sync = calls.iter().position(|c| c.name == "syncfs").unwrap();
    let last_sync = calls.iter().rposition(|c| c.name == "syncfs").unwrap();
    let named: Vec<usize> = calls
        .iter()
        .enumerate()
        .filter(|(_, c)| names_a_file(c, within))
        .map(|(i, _)| i)
        .collect();
    assert!(!named.is_empty(), "{what}: no file was named");
    for i in named {
        assert!(
            first_sync < i && i < last_sync,
            "{what}: {}({} not between the syncs",
            calls[i].name,
            calls[i].args
        );
    }
}

#[test]
fn adding_and_signing_200_artifacts_syncs_each_filesystem_twice_not_each_file() {
    let r = DemoRepo::signed();
    let release = r.tmp.path().join("release");
    for d in 0..10 {
        let dir = release.join(format!("dir{d:03}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..20 {
            std::fs::write(dir.join(format!("file{f:03}.bin")), format!("{d} {f}")).unwrap();
        }
    }
    let within = r.path.display().to_string();

    let (run, calls) = traced_repo(
        r.tmp.path(),
        &[
            "add".as_ref(),
            r.path.as_os_str(),
            release.as_os_str(),
            "--release".as_ref(),
            "3.0.0".as_ref(),
            "--platform".as_ref(),
            "x86_64".as_ref(),
        ],
    );
    run.ok();
    assert_batched("repo add", &calls, &within, 0);

    let mut sign: Vec<std::ffi::OsString> = vec!["sign".into(), r.path.clone().into()];
    for key in ["targets.pem", "snapshot.pem", "timestamp.pem"] {
        sign.extend(["--key".into(), example_key(key).into()]);
    }
    let sign: Vec<&std::ffi::OsStr> = sign.iter().map(|s| s.as_os_str()).collect();
    let (run, calls) = traced_repo(r.tmp.path(), &sign);
    run.ok();
    assert_batched("repo sign", &calls, &within, 0);

    // What was published is whole: the repository verifies, every artifact included, and
    // a device installs a new artifact.
    assert!(!r.path.join("staged/releases/3.0.0.json").exists());
    assert_eq!(
        read_json(&r.metadata("timestamp.json"))["signed"]["version"],
        2
    );
    r.verify(&[]).ok();
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let name = "releases/3.0.0/x86_64/dir009/file019.bin";
    device.download(&[&server.url()], &[name], &[]).ok();
    assert_eq!(device.target(name), b"9 19");
}
