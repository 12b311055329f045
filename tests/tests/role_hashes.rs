//! Snapshot lists the length and hashes of every targets role, and the device refuses any
//! other bytes for a role: even ones of the listed version, validly signed by the role's
//! key. Without hashes in snapshot, a holder of a role's key (or a mirror replaying a signed
//! variant) could swap a role's content under the same version.

use std::collections::BTreeMap;
use std::path::Path;

use e2e_tests::{changed_paths, example_key, read_json, resign, DemoRepo, Device, StaticServer};
use updater::hash::Sha512;

type State = BTreeMap<String, (u32, Vec<u8>)>;

const POLICY: &str = r#"<policy>
  <channel name="stable">
    <target release="2.0.0"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
"#;

/// Re-signs the served `file` of `role` with `key`, same version, one more day of validity:
/// bytes a signature check alone accepts. Returns the refusal the device must give.
fn swap_same_version(repo: &DemoRepo, file: &str, key: &str) -> String {
    let path = repo.metadata(file);
    let snapshot_file = format!(
        "{}.snapshot.json",
        read_json(&repo.metadata("timestamp.json"))["signed"]["meta"]["snapshot.json"]["version"]
    );
    let role = file.split_once('.').map(|(_, r)| r).unwrap();
    let listed = read_json(&repo.metadata(&snapshot_file))["signed"]["meta"][role]["hashes"]
        ["sha512"]
        .as_str()
        .unwrap_or("(no hash listed)")
        .to_owned();
    resign(&path, &[&example_key(key)], |t| {
        t["expires"] = "2099-01-01T00:00:00Z".into();
    });
    let actual = Sha512::digest(&std::fs::read(&path).unwrap()).to_hex();
    format!("{role}: SHA-512 digest is {actual}, metadata says {listed}")
}

/// Asserts the device changed only `accepted` metadata files, each now the served one.
fn only_accepted(repo: &DemoRepo, before: &State, after: &State, accepted: &[(&str, &str)]) {
    let mut changed = changed_paths(before, after);
    for (kept, served) in accepted {
        let path = format!("metadata/{kept}");
        if let Some((_, bytes)) = after.get(&path) {
            assert_eq!(
                bytes,
                &std::fs::read(repo.metadata(served)).unwrap(),
                "{kept}"
            );
        }
        changed.retain(|c| c != &path);
    }
    assert!(changed.is_empty(), "the device changed: {changed:?}");
}

#[test]
fn snapshot_lists_length_and_both_hashes_of_every_role() {
    let repo = DemoRepo::with_policy(POLICY);
    let snapshot = read_json(&repo.metadata("1.snapshot.json"));
    for (role, file) in [
        ("targets.json", "1.targets.json"),
        ("policy.json", "1.policy.json"),
    ] {
        let bytes = std::fs::read(repo.metadata(file)).unwrap();
        let meta = &snapshot["signed"]["meta"][role];
        assert_eq!(meta["length"], bytes.len(), "{role}: {meta}");
        assert_eq!(
            meta["hashes"]["sha512"],
            Sha512::digest(&bytes).to_hex(),
            "{role}"
        );
        assert_eq!(
            meta["hashes"]["sha256"],
            updater::hash::Sha256::digest(&bytes).to_hex(),
            "{role}"
        );
    }
}

#[test]
fn a_resigned_targets_role_of_the_listed_version_is_refused() {
    let repo = DemoRepo::signed();
    let server = StaticServer::start(&repo.public());
    let device = Device::trusting(&repo.root_json());
    device.refresh(&[&server.url()]).ok();
    repo.sign().ok();
    let refusal = swap_same_version(&repo, "2.targets.json", "targets.pem");

    let before = device.state();
    device.refresh(&[&server.url()]).fails_with(1, &refusal);
    // Timestamp and snapshot verified before the refusal and are kept, as the
    // specification has it; the device's targets stays version 1.
    only_accepted(
        &repo,
        &before,
        &device.state(),
        &[
            ("timestamp.json", "timestamp.json"),
            ("snapshot.json", "2.snapshot.json"),
        ],
    );
}

#[test]
fn a_resigned_policy_role_of_the_listed_version_is_refused() {
    let repo = DemoRepo::with_policy(POLICY);
    let server = StaticServer::start(&repo.public());
    let device = Device::trusting(&repo.root_json());
    let config = device.configure("device-1", &server.url(), Some("1.0.0"), "");
    let refusal = swap_same_version(&repo, "1.policy.json", "policy.pem");

    let before = device.state();
    device
        .updater(&["--config".as_ref(), config.as_os_str(), "plan".as_ref()])
        .fails_with(1, &refusal);
    // The top-level roles verified and are kept; no policy, nothing downloaded or installed.
    let after = device.state();
    assert!(
        !after.contains_key("metadata/policy.json"),
        "{:?}",
        after.keys()
    );
    only_accepted(
        &repo,
        &before,
        &after,
        &[
            ("timestamp.json", "timestamp.json"),
            ("snapshot.json", "1.snapshot.json"),
            ("targets.json", "1.targets.json"),
        ],
    );
    assert!(Path::new(&device.install_dir().join("current")).exists());
}
