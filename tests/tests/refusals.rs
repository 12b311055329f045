//! Dangerous successes refused: each command that used to exit 0 on something devices then
//! reject now says so, with the exact message, and (where it refuses) changes nothing.
//! `repo export --valid-for` is covered in `airgap.rs`.

use std::path::Path;

use e2e_tests::{example_key, repo, tree_state, DemoRepo, Device};

/// `repo sign` with the targets, snapshot and timestamp keys, plus `extra` arguments.
fn sign(r: &DemoRepo, extra: &[&str]) -> e2e_tests::Run {
    let mut args: Vec<String> = vec!["sign".into(), r.path.display().to_string()];
    for k in ["targets.pem", "snapshot.pem", "timestamp.pem"] {
        args.extend(["--key".into(), example_key(k).display().to_string()]);
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    repo(&args)
}

/// Root version 2 published (same keys, a new expiry) on a signed repository.
fn rotated() -> DemoRepo {
    let r = DemoRepo::signed();
    repo([
        "root".as_ref(),
        "edit".as_ref(),
        r.path.as_os_str(),
        "--expires".as_ref(),
        "400d".as_ref(),
    ])
    .ok();
    let root_key = example_key("root.pem");
    repo([
        "sign".as_ref(),
        r.path.as_os_str(),
        "--key".as_ref(),
        root_key.as_os_str(),
    ])
    .ok();
    assert!(r.metadata("2.root.json").exists());
    r
}

#[test]
fn updater_init_keeps_a_newer_trusted_root() {
    let r = rotated();
    let device = Device::trusting(&r.metadata("2.root.json"));
    let before = tree_state(device.tmp.path());
    let old = r.metadata("1.root.json");
    device
        .updater(&["init".as_ref(), old.as_os_str()])
        .fails_with(
            1,
            "this device already trusts root version 2, newer than version 1: it was kept",
        );
    assert_eq!(before, tree_state(device.tmp.path()));
    // The same root again is fine, and --force replaces it.
    let newer = r.metadata("2.root.json");
    device.updater(&["init".as_ref(), newer.as_os_str()]).ok();
    let forced = device
        .updater(&["init".as_ref(), "--force".as_ref(), old.as_os_str()])
        .ok();
    assert!(
        forced.stdout.contains("(replacing root version 2)"),
        "{forced:#?}"
    );
}

#[test]
fn updater_init_keeps_another_root_of_the_same_version() {
    let r = DemoRepo::signed();
    let other = DemoRepo::init_with(&["--expires", "root=300d"]);
    let device = Device::trusting(&r.root_json());
    let before = tree_state(device.tmp.path());
    device
        .updater(&["init".as_ref(), other.root_json().as_os_str()])
        .fails_with(
            1,
            "this device already trusts a different root version 1: it was kept",
        );
    assert_eq!(before, tree_state(device.tmp.path()));
}

#[test]
fn repo_sign_refuses_an_expired_root_and_changes_nothing() {
    let r = DemoRepo::init_with(&["--expires", "root=2s"]);
    r.add("1.0.0", "armv7").ok();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let before = tree_state(&r.path);
    let run = sign(&r, &["--force"]).fails_with(2, "root version 1 expired at ");
    assert!(
        run.stderr
            .contains("devices refuse everything signed under it; stage a new root with `repo root edit REPO --expires PERIOD`"),
        "{run:#?}"
    );
    assert_eq!(before, tree_state(&r.path));
}

#[test]
fn repo_sign_refuses_a_root_expiring_before_the_metadata_unless_forced() {
    // Root lasts 30 days; targets are signed for 90.
    let r = DemoRepo::init_with(&["--expires", "root=30d"]);
    r.add("1.0.0", "armv7").ok();
    let before = tree_state(&r.path);
    let run = sign(&r, &[]).fails_with(2, "root version 1 expires at ");
    assert!(
        run.stderr.contains(", before the targets signed now (")
            && run.stderr.contains("(or pass --force to sign anyway)"),
        "{run:#?}"
    );
    assert_eq!(before, tree_state(&r.path));
    sign(&r, &["--force"]).ok();
    assert!(r.metadata("1.targets.json").exists());
}

fn policy_fixture() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/policy/rollout.xml")
}

#[test]
fn a_publish_that_leaves_the_staged_policy_unsigned_exits_4_and_says_so() {
    let r = DemoRepo::init();
    for release in ["1.0.0", "2.0.0"] {
        r.add(release, "armv7").ok();
    }
    let policy = policy_fixture();
    repo([
        "policy".as_ref(),
        "set".as_ref(),
        r.path.as_os_str(),
        policy.as_os_str(),
    ])
    .ok();
    // Signed without the policy key: the index is published, the policy is not.
    let run = sign(&r, &[]).unfinished(&format!(
        "the staged policy.xml is not signed: `repo sign {}` with the targets, policy, snapshot and timestamp keys (the first policy also publishes targets' delegation to it)",
        r.path.display()
    ));
    assert!(
        run.stdout.contains("published targets version 1"),
        "{run:#?}"
    );
    // With every key, nothing is left and the exit is 0.
    let policy_key = example_key("policy.pem").display().to_string();
    let done = sign(&r, &["--key", &policy_key]).ok();
    assert!(done.stderr.is_empty(), "{done:#?}");
}

#[test]
fn a_sign_without_snapshot_and_timestamp_keys_exits_4_and_says_so() {
    let r = DemoRepo::init();
    r.add("1.0.0", "armv7").ok();
    r.sign_with(&[example_key("targets.pem")]).unfinished(
        "targets version 1 is published but not in a snapshot: devices do not see it until",
    );
}

#[test]
fn updater_init_names_a_corrupt_trusted_root_and_force_replaces_it() {
    let r = DemoRepo::signed();
    let device = Device::trusting(&r.root_json());
    std::fs::write(device.metadata_dir.join("root.json"), "garbage").unwrap();
    let before = tree_state(device.tmp.path());
    let run = device
        .updater(&["init".as_ref(), r.root_json().as_os_str()])
        .fails_with(1, "the device's trusted root ");
    assert!(
        run.stderr
            .contains("is unreadable (root.json is not valid metadata: expected value at line 1 column 1): re-provision it with `updater init --force ROOT`"),
        "{run:#?}"
    );
    assert_eq!(before, tree_state(device.tmp.path()));
    device
        .updater(&[
            "init".as_ref(),
            "--force".as_ref(),
            r.root_json().as_os_str(),
        ])
        .ok();
    assert_eq!(
        std::fs::read(device.metadata_dir.join("root.json")).unwrap(),
        std::fs::read(r.root_json()).unwrap()
    );
}

#[test]
fn repo_timestamp_refuses_to_outlive_root_and_changes_nothing() {
    // Root lasts 2 days (signed with --force); two and a half days on, a timestamp signed for
    // one more day would outlive it.
    let r = DemoRepo::init_with(&["--expires", "root=2d"]);
    r.add("1.0.0", "armv7").ok();
    sign(&r, &["--force"]).ok();
    let before = tree_state(&r.path);
    let key = example_key("timestamp.pem");
    let out = std::process::Command::new("faketime")
        .arg("-f")
        .arg("+60h")
        .arg(e2e_tests::bin("repo"))
        .arg("timestamp")
        .arg(&r.path)
        .arg("--key")
        .arg(&key)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("root version 1 expires at ")
            && stderr.contains("before this timestamp would"),
        "{stderr}"
    );
    assert_eq!(before, tree_state(&r.path));
}

#[test]
fn a_plain_export_of_an_expired_repository_is_refused() {
    let r = DemoRepo::init_with(&["--expires", "timestamp=2s"]);
    r.add("1.0.0", "armv7").ok();
    sign(&r, &[]).ok();
    std::thread::sleep(std::time::Duration::from_secs(3));
    let out = r.tmp.path().join("site.tar.gz");
    repo([
        "export".as_ref(),
        r.path.as_os_str(),
        "--out".as_ref(),
        out.as_os_str(),
    ])
    .fails_with(
        2,
        "devices would refuse this archive: timestamp version 1 expired at ",
    );
    assert!(!out.exists());
}
