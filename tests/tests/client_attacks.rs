//! Attacks on a device, as TUF names them, over real HTTP on 127.0.0.1. Each test first
//! brings a device to a trusted state from a repository built by `repo`, then tampers with
//! the served files on disk (with the keys an attacker would need, where the attack needs
//! them), and asserts the exact refusal and that the device's folders are as they were.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

use e2e_tests::{
    changed_paths, example_key, logged_requests, read_json, resign, DemoRepo, Device, StaticServer,
};
use serde_json::{json, Value};

const APP: &str = "releases/1.0.0/armv7/app.bin";
const FIRMWARE: &str = "releases/1.0.0/armv7/firmware.img";

/// A signed repository, served, and a device that has downloaded APP from it.
struct Scene {
    repo: DemoRepo,
    server: StaticServer,
    device: Device,
}

impl Scene {
    fn new() -> Self {
        Self::with_server_options(&[])
    }

    fn with_server_options(options: &[&str]) -> Self {
        let repo = DemoRepo::signed();
        let server = StaticServer::start_with(&repo.public(), options);
        let device = Device::trusting(&repo.root_json());
        device.download(&[&server.url()], &[APP], &[]).ok();
        Scene {
            repo,
            server,
            device,
        }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    /// Publishes new targets, snapshot and timestamp versions and lets the device trust them.
    fn advance(&self) {
        self.repo.sign().ok();
        self.device.refresh(&[&self.url()]).ok();
    }

    /// Runs `refresh` and asserts it fails with `refusal`, leaving the device as it was.
    fn refresh_refused(&self, refusal: &str) {
        self.refresh_refused_after(refusal, &[]);
    }

    /// Like `refresh_refused`, where the specification has the device keep the roles in
    /// `accepted` (files of its metadata folder), which verified before the refusal: their
    /// new content must be exactly what the repository serves as the current version.
    fn refresh_refused_after(&self, refusal: &str, accepted: &[(&str, &str)]) {
        let before = self.device.state();
        self.device.refresh(&[&self.url()]).fails_with(1, refusal);
        let after = self.device.state();
        let mut changed = changed_paths(&before, &after);
        for (kept, served) in accepted {
            let path = format!("metadata/{kept}");
            assert_eq!(
                after[&path].1,
                std::fs::read(self.metadata(served)).unwrap(),
                "{kept} is not the served {served}"
            );
            changed.retain(|c| c != &path);
        }
        assert!(changed.is_empty(), "the device changed: {changed:?}");
    }

    /// Runs `download` of `name` and asserts it fails with `refusal`, device unchanged.
    fn download_refused(&self, name: &str, extra: &[&str], refusal: &str) {
        let before = self.device.state();
        self.device
            .download(&[&self.url()], &[name], extra)
            .fails_with(1, refusal);
        assert_unchanged(&before, &self.device.state());
    }

    fn metadata(&self, file: &str) -> std::path::PathBuf {
        self.repo.metadata(file)
    }
}

type State = std::collections::BTreeMap<String, (u32, Vec<u8>)>;

fn assert_unchanged(before: &State, after: &State) {
    let changed = changed_paths(before, after);
    assert!(changed.is_empty(), "the device changed: {changed:?}");
}

fn meta_of(path: &Path, version: u64) -> Value {
    let bytes = std::fs::read(path).unwrap();
    json!({
        "version": version,
        "length": bytes.len(),
        "hashes": {
            "sha256": updater::hash::Sha256::digest(&bytes).to_hex(),
            "sha512": updater::hash::Sha512::digest(&bytes).to_hex(),
        }
    })
}

fn set_version(signed: &mut Value, version: u64) {
    signed["version"] = version.into();
}

#[test]
fn replayed_older_timestamp_is_refused() {
    let s = Scene::new();
    let old = std::fs::read(s.metadata("timestamp.json")).unwrap();
    s.advance();
    std::fs::write(s.metadata("timestamp.json"), old).unwrap();
    s.refresh_refused("timestamp: version 1 is older than the trusted version 2 (rollback)");
}

#[test]
fn timestamp_pinning_an_older_snapshot_is_refused() {
    let s = Scene::new();
    s.advance();
    // The attacker holds the timestamp key and points a new timestamp at snapshot 1.
    let old_snapshot = meta_of(&s.metadata("1.snapshot.json"), 1);
    resign(
        &s.metadata("timestamp.json"),
        &[&example_key("timestamp.pem")],
        |t| {
            set_version(t, 3);
            t["meta"]["snapshot.json"] = old_snapshot;
        },
    );
    s.refresh_refused("timestamp: snapshot version 1 is older than the trusted 2 (rollback)");
}

#[test]
fn snapshot_listing_an_older_targets_version_is_refused() {
    let s = Scene::new();
    s.advance();
    // With the snapshot and timestamp keys: snapshot 3 goes back to targets version 1.
    let snapshot3 = s.metadata("3.snapshot.json");
    std::fs::copy(s.metadata("2.snapshot.json"), &snapshot3).unwrap();
    resign(&snapshot3, &[&example_key("snapshot.pem")], |t| {
        set_version(t, 3);
        t["meta"]["targets.json"]["version"] = 1.into();
    });
    let pinned = meta_of(&snapshot3, 3);
    resign(
        &s.metadata("timestamp.json"),
        &[&example_key("timestamp.pem")],
        |t| {
            set_version(t, 3);
            t["meta"]["snapshot.json"] = pinned;
        },
    );
    // The new timestamp verifies (the attacker has its key) and is kept, as the
    // specification has it; the snapshot is refused.
    s.refresh_refused_after(
        "snapshot: targets is missing or older than in the trusted snapshot",
        &[("timestamp.json", "timestamp.json")],
    );
}

#[test]
fn replayed_older_targets_is_refused() {
    let s = Scene::new();
    // The repository moves to targets 2; a mirror serves the old targets under the new name.
    s.repo.sign().ok();
    std::fs::copy(s.metadata("1.targets.json"), s.metadata("2.targets.json")).unwrap();
    s.refresh_refused_after(
        // Snapshot lists targets 2's hashes: the old bytes are refused before parsing.
        "targets.json: SHA-512 digest is",
        &[
            ("timestamp.json", "timestamp.json"),
            ("snapshot.json", "2.snapshot.json"),
        ],
    );
}

#[test]
fn replayed_older_snapshot_under_the_new_name_is_refused() {
    let s = Scene::new();
    s.repo.sign().ok();
    std::fs::copy(s.metadata("1.snapshot.json"), s.metadata("2.snapshot.json")).unwrap();
    s.refresh_refused_after(
        "snapshot.json: SHA-512 digest is",
        &[("timestamp.json", "timestamp.json")],
    );
}

#[test]
fn expired_timestamp_is_refused() {
    let s = Scene::new();
    resign(
        &s.metadata("timestamp.json"),
        &[&example_key("timestamp.pem")],
        |t| {
            set_version(t, 2);
            t["expires"] = "2020-01-01T00:00:00Z".into();
        },
    );
    s.refresh_refused("timestamp expired at 2020-01-01T00:00:00Z");
}

#[test]
fn artifact_with_one_flipped_byte_is_refused_and_not_kept() {
    let s = Scene::new();
    let path = s.repo.artifact(FIRMWARE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 0x01;
    // In place, so every served name of the artifact (hard links) has the flipped byte.
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    s.download_refused(FIRMWARE, &[], &format!("{FIRMWARE}: SHA-512 digest is"));
}

#[test]
fn endless_metadata_is_cut_off_at_its_limit() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let log_path = log.path().display().to_string();
    let s = Scene::with_server_options(&["--log", &log_path]);
    // Same repository, served by a second server whose timestamp.json never ends.
    let hostile = StaticServer::start_with(
        &s.repo.public(),
        &["--log", &log_path, "--endless", "timestamp.json"],
    );
    let before = s.device.state();
    s.device.refresh(&[&hostile.url()]).fails_with(
        1,
        "refresh refused: timestamp.json: could not be fetched (http://127.0.0.1",
    );
    let run = s.device.refresh(&[&hostile.url()]);
    assert!(
        run.stderr.contains("larger than its limit of 16384 bytes"),
        "{run:#?}"
    );
    assert_unchanged(&before, &s.device.state());
    // The server saw the client hang up: what it managed to send is bounded by socket
    // buffers, not by what it was willing to send.
    let deadline = Instant::now() + Duration::from_secs(20);
    let sent = loop {
        let sent: Vec<u64> = logged_requests(log.path())
            .iter()
            .filter_map(|l| l.strip_prefix("sent ")?.split(' ').next()?.parse().ok())
            .collect();
        if sent.len() == 2 {
            break sent;
        }
        assert!(
            Instant::now() < deadline,
            "the hostile server never saw a hang-up"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    for bytes in sent {
        assert!(bytes < 64 << 20, "the client read on: {bytes} bytes sent");
    }
}

#[test]
fn stalled_download_times_out() {
    let s = Scene::new();
    let stalling = StaticServer::start_with(&s.repo.public(), &["--stall", "firmware.img"]);
    let before = s.device.state();
    let run = s.device.download(
        &[&stalling.url()],
        &[FIRMWARE],
        &["--read-timeout", "2", "--retries", "1"],
    );
    // A stalled mirror is one that could not be reached: one line for it, with its attempts.
    let run = run.fails_with(1, &format!("{FIRMWARE}: could not be fetched"));
    assert!(run.stderr.contains("timed out"), "{run:#?}");
    assert!(run.stderr.contains("(2 attempts)"), "{run:#?}");
    // Nothing in place; what arrived is kept aside, hidden, to resume from next time.
    let mut after = s.device.state();
    let partials: Vec<String> = after
        .keys()
        .filter(|k| k.starts_with("targets/.%partial."))
        .cloned()
        .collect();
    for partial in partials {
        let (_, saved) = after.remove(&partial).unwrap();
        let full = std::fs::read(s.repo.artifact(FIRMWARE)).unwrap();
        assert!(full.starts_with(&saved), "the saved part is not a prefix");
    }
    assert_unchanged(&before, &after);
}

fn failover_from(status: &str) {
    let s = Scene::new();
    let log = tempfile::NamedTempFile::new().unwrap();
    let broken = StaticServer::start_with(
        &s.repo.public(),
        &[
            "--status",
            status,
            "--log",
            &log.path().display().to_string(),
        ],
    );
    let device = Device::trusting(&s.repo.root_json());
    device
        .download(&[&broken.url(), &s.url()], &[FIRMWARE], &["--retries", "1"])
        .ok();
    assert_eq!(
        device.target(FIRMWARE),
        std::fs::read(s.repo.artifact(FIRMWARE)).unwrap()
    );
    let asked = logged_requests(log.path());
    assert!(
        asked.iter().any(|p| p.ends_with("firmware.img")),
        "the broken mirror was not asked first: {asked:?}"
    );
}

#[test]
fn first_mirror_answering_404_fails_over_to_the_next() {
    failover_from("404");
}

#[test]
fn first_mirror_answering_500_fails_over_to_the_next() {
    failover_from("500");
}

#[test]
fn refresh_with_nothing_new_makes_two_requests() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let s = Scene::with_server_options(&["--log", &log.path().display().to_string()]);
    std::fs::write(log.path(), "").unwrap();
    s.device.refresh(&[&s.url()]).ok();
    assert_eq!(
        logged_requests(log.path()),
        ["/metadata/2.root.json", "/metadata/timestamp.json"]
    );
    // And after the repository moves on, the device follows it.
    s.repo.sign().ok();
    std::fs::write(log.path(), "").unwrap();
    s.device.refresh(&[&s.url()]).ok();
    assert_eq!(
        logged_requests(log.path()),
        [
            "/metadata/2.root.json",
            "/metadata/timestamp.json",
            "/metadata/2.snapshot.json",
            "/metadata/2.targets.json"
        ]
    );
    let trusted: Value = read_json(&s.device.metadata_dir.join("timestamp.json"));
    assert_eq!(trusted["signed"]["version"], 2);
}

#[test]
fn a_download_cut_at_half_resumes_and_ends_verified() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let s = Scene::new();
    let cutting = StaticServer::start_with(
        &s.repo.public(),
        &[
            "--cut",
            "firmware.img",
            "--log",
            &log.path().display().to_string(),
        ],
    );
    s.device.download(&[&cutting.url()], &[FIRMWARE], &[]).ok();
    assert_eq!(
        s.device.target(FIRMWARE),
        std::fs::read(s.repo.artifact(FIRMWARE)).unwrap()
    );
    let asked: Vec<String> = logged_requests(log.path())
        .into_iter()
        .filter(|p| p.contains("firmware.img"))
        .collect();
    assert!(
        asked.iter().any(|p| p.ends_with("firmware.img range=2048")),
        "the second request did not resume after the 2048 bytes received: {asked:?}"
    );
}

#[test]
fn different_bytes_after_a_resume_are_caught_and_the_saved_part_discarded() {
    let s = Scene::new();
    let switching = StaticServer::start_with(
        &s.repo.public(),
        &["--cut", "firmware.img", "--switch", "firmware.img"],
    );
    let before = s.device.state();
    s.device
        .download(&[&switching.url()], &[FIRMWARE], &["--retries", "1"])
        .fails_with(1, "the bytes resumed after 2048 did not match");
    // Nothing kept: neither the target nor the saved part.
    assert_unchanged(&before, &s.device.state());
    // Retried from scratch (this server sends good bytes to a whole-file request): verified.
    s.device
        .download(&[&switching.url()], &[FIRMWARE], &[])
        .ok();
    assert_eq!(
        s.device.target(FIRMWARE),
        std::fs::read(s.repo.artifact(FIRMWARE)).unwrap()
    );
}

#[test]
fn a_saved_part_as_long_as_the_target_is_checked_without_asking_again() {
    let log = tempfile::NamedTempFile::new().unwrap();
    let s = Scene::with_server_options(&["--log", &log.path().display().to_string()]);
    let bytes = std::fs::read(s.repo.artifact(FIRMWARE)).unwrap();
    let sha512 = updater::hash::Sha512::digest(&bytes).to_hex();
    let name = updater::names::TargetName::new(FIRMWARE).unwrap();
    let partial = s
        .device
        .target_dir
        .join(updater::conventions::name_budget::partial_file_name(
            &name,
            &sha512[..16],
        ));
    // Complete but not yet renamed, as a power cut between fsync and rename leaves it.
    std::fs::write(&partial, &bytes).unwrap();
    std::fs::write(log.path(), "").unwrap();
    s.device.download(&[&s.url()], &[FIRMWARE], &[]).ok();
    assert_eq!(s.device.target(FIRMWARE), bytes);
    assert!(!partial.exists());
    let asked = logged_requests(log.path());
    assert!(
        !asked.iter().any(|p| p.contains("firmware.img")),
        "{asked:?}"
    );

    // A complete-length saved part with other bytes is thrown away and fetched afresh.
    std::fs::remove_file(updater::update::client::Client::local_path(
        &s.device.target_dir,
        &name,
    ))
    .unwrap();
    let mut wrong = bytes.clone();
    wrong[0] ^= 1;
    std::fs::write(&partial, &wrong).unwrap();
    s.device.download(&[&s.url()], &[FIRMWARE], &[]).ok();
    assert_eq!(s.device.target(FIRMWARE), bytes);
    assert!(!partial.exists());
}
