//! `updater` under systemd: when JOURNAL_STREAM names the stream its output goes to (as
//! systemd sets it for a service whose output is the journal), each line carries its
//! sd-daemon priority (`<6>` info, `<4>` warning, `<3>` error); `--log-format journald`
//! asks for the same anywhere. Elsewhere, and when the variable names another stream (a
//! child whose output was redirected), the lines are as they always were.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};

use e2e_tests::{bin, policy_for, scene, Scene};

/// What `updater --config C ARGS` wrote to stdout and stderr (each captured in a file), and
/// its exit code; `journal`: JOURNAL_STREAM names the stdout file, as systemd would.
fn updater(s: &Scene, dir: &Path, journal: Option<&str>, args: &[&str]) -> (i32, String, String) {
    let out_path = dir.join("stdout");
    let err_path = dir.join("stderr");
    let stdout = File::create(&out_path).unwrap();
    let stderr = File::create(&err_path).unwrap();
    let meta = stdout.metadata().unwrap();
    let mut command = Command::new(bin("updater"));
    command
        .arg("--metadata-dir")
        .arg(&s.device.metadata_dir)
        .arg("--config")
        .arg(&s.config)
        .args(args)
        .env_remove("JOURNAL_STREAM")
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(stderr);
    match journal {
        Some("this stream") => {
            command.env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()));
        }
        Some(other) => {
            command.env("JOURNAL_STREAM", other);
        }
        None => {}
    }
    let status = command.status().unwrap();
    (
        status.code().unwrap(),
        std::fs::read_to_string(out_path).unwrap(),
        std::fs::read_to_string(err_path).unwrap(),
    )
}

#[test]
fn under_systemd_each_line_carries_its_priority() {
    let s = scene(&policy_for("1.0.0", ""), "");
    let dir = tempfile::tempdir().unwrap();

    // Connected to the journal: info lines are <6>.
    let (code, out, err) = updater(&s, dir.path(), Some("this stream"), &["apply"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("<6>installed 1.0.0, was nothing")),
        "{out}"
    );
    // The release's own pre-install script writes its line as it is (journald gives it the
    // unit's default priority); every line of the updater's is prefixed.
    assert!(
        out.lines()
            .filter(|l| *l != "preparing 1.0.0")
            .all(|l| l.starts_with("<6>")),
        "{out}"
    );

    // A dead mirror before the good one: the mirror given up is a warning, <4>.
    let dead = "http://127.0.0.1:9/metadata";
    let good = metadata_url(&s);
    let failover = [
        "--metadata-url",
        dead,
        "--metadata-url",
        &good,
        "--retries",
        "0",
        "apply",
    ];
    let (code, out, err) = updater(&s, dir.path(), Some("this stream"), &failover);
    assert_eq!(code, 0, "{out}{err}");
    assert!(err.lines().any(|l| l.starts_with("<4>")), "{err}");
    assert!(err.lines().all(|l| l.starts_with("<4>")), "{err}");
    // Only the dead one: the check could not fetch (exit 3), an error, <3>, on every line.
    let offline = ["--metadata-url", dead, "--retries", "0", "apply"];
    let (code, out, err) = updater(&s, dir.path(), Some("this stream"), &offline);
    assert_eq!(code, 3, "{out}{err}");
    assert!(err.lines().any(|l| l.starts_with("<3>")), "{err}");
    assert!(err.lines().all(|l| l.starts_with("<3>")), "{err}");
    assert!(!err.contains("updater: "), "{err}");

    // The variable inherited, but the output goes elsewhere: plain lines as always.
    let (code, out, err) = updater(&s, dir.path(), Some("1:1"), &failover);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!err.contains('<'), "{err}");
    assert!(
        err.lines().all(|l| l.starts_with("updater: warning: ")),
        "{err}"
    );
    let (code, out, err) = updater(&s, dir.path(), Some("1:1"), &offline);
    assert_eq!(code, 3, "{out}{err}");
    assert!(!err.contains('<'), "{err}");
    assert!(err.lines().any(|l| l.starts_with("updater: ")), "{err}");
    let (code, out, _) = updater(&s, dir.path(), None, &["apply"]);
    assert_eq!(code, 0);
    assert!(out.contains("running 1.0.0, the channel's target"), "{out}");
    assert!(!out.contains("<6>"), "{out}");

    // Asked for by name, without systemd.
    let (code, out, _) = updater(&s, dir.path(), None, &["--log-format", "journald", "apply"]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("<6>running 1.0.0, the channel's target")),
        "{out}"
    );
}

/// The metadata URL the scene's device is configured with.
fn metadata_url(s: &Scene) -> String {
    let config = std::fs::read_to_string(&s.config).unwrap();
    let start = config.find("metadata = [\"").unwrap() + "metadata = [\"".len();
    let end = start + config[start..].find('"').unwrap();
    config[start..end].to_owned()
}
