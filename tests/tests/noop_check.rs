//! A check that finds nothing new verifies no signature past the timestamp: the stored
//! snapshot and targets roles (top-level, the policy role and the release's delegated role), verified and kept by an earlier
//! check, are trusted again because the verified parent lists their exact bytes by hash and
//! the keys trusted for them are those that verified them. Anything else (bytes the parent
//! does not list, another key set) is verified in full, as before. The build's
//! `UPDATER_TEST_TRUST_REPORT` hook says how each role was trusted.

use std::collections::BTreeMap;
use std::path::Path;

use e2e_tests::{policy_for, run_python, DemoRepo, Device, StaticServer};

/// `updater plan` with the trust report on: each role and how it was trusted, in order.
fn plan_trust(device: &Device, config: &Path) -> Vec<(String, String)> {
    let run = device
        .updater_env(
            &[("UPDATER_TEST_TRUST_REPORT", "1")],
            &["--config".as_ref(), config.as_os_str(), "plan".as_ref()],
        )
        .ok();
    run.stderr
        .lines()
        .filter_map(|l| l.strip_prefix("updater: test: trusted "))
        .filter_map(|l| l.split_once(" by "))
        .map(|(role, how)| (role.to_owned(), how.to_owned()))
        .collect()
}

fn expect(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(r, h)| (r.to_string(), h.to_string()))
        .collect()
}

/// The device's metadata folder, file by file.
fn metadata_files(device: &Device) -> BTreeMap<String, (u32, Vec<u8>)> {
    device
        .state()
        .into_iter()
        .filter(|(path, _)| path.starts_with("metadata/"))
        .collect()
}

fn scene() -> (DemoRepo, StaticServer, Device, std::path::PathBuf) {
    let repo = DemoRepo::with_policy(&policy_for("2.0.0", ""));
    let server = StaticServer::start(&repo.public());
    let device = Device::trusting(&repo.root_json());
    let config = device.configure("device-1", &server.url(), Some("1.0.0"), "");
    (repo, server, device, config)
}

#[test]
fn a_no_op_plan_checks_the_signatures_of_root_and_timestamp_only() {
    let (_repo, _server, device, config) = scene();
    assert_eq!(
        plan_trust(&device, &config),
        expect(&[
            ("root", "signatures"),
            ("timestamp", "signatures"),
            ("snapshot", "signatures"),
            ("targets", "signatures"),
            ("policy", "signatures"),
            ("live-01", "signatures"),
        ])
    );
    let before = metadata_files(&device);
    let noop = expect(&[
        ("root", "signatures"),
        ("timestamp", "signatures"),
        ("snapshot", "listed hash"),
        ("targets", "listed hash"),
        ("policy", "listed hash"),
        ("live-01", "listed hash"),
    ]);
    assert_eq!(plan_trust(&device, &config), noop);
    assert_eq!(plan_trust(&device, &config), noop);
    // Nothing was stored again.
    assert_eq!(metadata_files(&device), before);
}

#[test]
fn stored_roles_whose_bytes_the_parent_does_not_list_are_verified_and_replaced() {
    let (repo, _server, device, config) = scene();
    plan_trust(&device, &config);
    // Edited in place: the key set kept beside each file stays, only the bytes change. The
    // snapshot's signed body changes (its signature no longer holds); targets gains a byte.
    let snapshot = device.metadata_dir.join("snapshot.json");
    let mut body: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&snapshot).unwrap()).unwrap();
    body["signed"]["expires"] = "3026-01-01T00:00:00Z".into();
    std::fs::write(&snapshot, serde_json::to_vec(&body).unwrap()).unwrap();
    let targets = device.metadata_dir.join("targets.json");
    let mut bytes = std::fs::read(&targets).unwrap();
    bytes.push(b'\n');
    std::fs::write(&targets, bytes).unwrap();

    assert_eq!(
        plan_trust(&device, &config),
        expect(&[
            ("root", "signatures"),
            ("timestamp", "signatures"),
            ("snapshot", "signatures"),
            ("targets", "signatures"),
            ("policy", "listed hash"),
            ("live-01", "listed hash"),
        ])
    );
    // The tampered copies were refused and the served ones stored in their place.
    for (stored, served) in [
        ("snapshot.json", "1.snapshot.json"),
        ("targets.json", "1.targets.json"),
    ] {
        assert_eq!(
            std::fs::read(device.metadata_dir.join(stored)).unwrap(),
            std::fs::read(repo.metadata(served)).unwrap(),
            "{stored}"
        );
    }
}

#[test]
fn stored_roles_verified_under_another_key_set_are_verified_again() {
    let (_repo, _server, device, config) = scene();
    plan_trust(&device, &config);
    let before = metadata_files(&device);
    // The key set kept beside the stored snapshot and policy role is not the one trusted
    // for them now (as after a key rotation): same bytes, so the hash alone would match.
    for file in ["snapshot.json", "policy.json"] {
        let path = device.metadata_dir.join(file);
        run_python(&format!(
            "import os; os.setxattr({:?}, 'user.updater.verified-key-set', b'00' * 64)",
            path.display().to_string()
        ));
    }
    assert_eq!(
        plan_trust(&device, &config),
        expect(&[
            ("root", "signatures"),
            ("timestamp", "signatures"),
            ("snapshot", "signatures"),
            ("targets", "listed hash"),
            ("policy", "signatures"),
            ("live-01", "listed hash"),
        ])
    );
    // Verified again, each is kept with the key set that verified it: the next check is a
    // no-op again. The bytes never changed.
    assert_eq!(
        plan_trust(&device, &config),
        expect(&[
            ("root", "signatures"),
            ("timestamp", "signatures"),
            ("snapshot", "listed hash"),
            ("targets", "listed hash"),
            ("policy", "listed hash"),
            ("live-01", "listed hash"),
        ])
    );
    assert_eq!(metadata_files(&device), before);
}
