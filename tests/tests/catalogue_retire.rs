//! The catalogue's edges: `repo sign` refuses a role a device would refuse (over the
//! device's size limit) and leaves the repository as it was; `repo retire` takes a release
//! out of the catalogue in one signing and `repo prune` then removes its files and old
//! metadata, leaving a repository devices, `repo verify` and python-tuf accept.

use std::process::Command;
use std::time::Duration;

use e2e_tests::{
    apply, bin, example_key, fixture_release, listed_file, policy_for, publish_policy,
    python_tuf_fetch, read_json, repo, run_bounded, tree_state, DemoRepo, Device, StaticServer,
};

#[test]
fn sign_refuses_a_role_over_the_device_limit_and_changes_nothing() {
    let r = DemoRepo::init();
    r.add("1.0.0", "armv7").ok();
    r.add("1.0.0", "x86_64").ok();
    let before = tree_state(r.tmp.path());
    let mut command = Command::new(bin("repo"));
    command
        .env("UPDATER_TEST_MAX_TARGETS_BYTES", "2000")
        .arg("sign")
        .arg(&r.path);
    for key in ["targets.pem", "snapshot.pem", "timestamp.pem"] {
        command.arg("--key").arg(example_key(key));
    }
    let run = run_bounded(&mut command, Duration::from_secs(60));
    let run = run.fails_with(2, "role live-01 (release 1.0.0) would be ");
    assert!(
        run.stderr
            .contains("bytes, above the 2000 bytes a device reads: nothing was published"),
        "{}",
        run.stderr
    );
    assert_eq!(tree_state(r.tmp.path()), before);
    // Within the limit, the same signing publishes.
    r.sign().ok();
}

/// Releases 1.0.0, 1.0.1 and 1.0.2 (the fixture's armv7 files), the policy sending devices
/// to 1.0.2, all signed.
fn three_releases() -> DemoRepo {
    let r = DemoRepo::init();
    for n in 0..3 {
        r.add_dir(
            &fixture_release("1.0.0", "armv7"),
            &format!("1.0.{n}"),
            "armv7",
        )
        .ok();
    }
    r.set_policy(&policy_for("1.0.2", "")).ok();
    r.sign_all().ok();
    r
}

/// `repo retire REPO --release RELEASE`.
fn retire(r: &DemoRepo, release: &str) -> e2e_tests::Run {
    repo([
        "retire".as_ref(),
        r.path.as_os_str(),
        "--release".as_ref(),
        release.as_ref(),
    ])
}

#[test]
fn retire_then_prune_leave_a_repository_devices_and_python_tuf_accept() {
    let r = three_releases();
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, "");
    apply(&device, &config).ok();

    // A release the policy names cannot be retired.
    retire(&r, "1.0.2").fails_with(2, "the staged policy names release 1.0.2");
    let run = retire(&r, "1.0.0").ok();
    assert!(run.stdout.contains("staged to retire: 1.0.0"), "{run:#?}");
    let metadata = r.public().join("metadata");
    let slot_of = |release: &str| -> Option<String> {
        let top = read_json(&listed_file(&metadata, "targets"));
        top["signed"]["delegations"]["roles"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| {
                d["paths"][0]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("releases/{release}/"))
            })
            .map(|d| d["name"].as_str().unwrap().to_owned())
    };
    let slot = slot_of("1.0.0").unwrap();
    r.sign().ok();
    // No delegation reaches 1.0.0 now; its slot stays listed (a TUF client refuses a
    // snapshot that drops a role), re-signed empty.
    assert_eq!(slot_of("1.0.0"), None);
    let snapshot = read_json(&listed_file(&metadata, "snapshot"));
    assert!(snapshot["signed"]["meta"]
        .get(format!("{slot}.json"))
        .is_some());
    let emptied = read_json(&listed_file(&metadata, &slot));
    assert!(emptied["signed"]["targets"].as_object().unwrap().is_empty());
    // Its files are still served, for devices in the middle of downloading it.
    // The artifact files served for a release (its folders may stay, empty).
    let artifact =
        |release: &str| files_in(&r.public().join(format!("targets/releases/{release}")));
    assert!(artifact("1.0.0") > 0);

    resign_four_times(&r);
    let before = std::fs::read_dir(&metadata).unwrap().count();
    let run = repo([
        "prune".as_ref(),
        r.path.as_os_str(),
        "--keep".as_ref(),
        "2".as_ref(),
        "--json".as_ref(),
    ])
    .ok();
    let pruned: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert!(pruned["metadata_files"].as_u64().unwrap() > 0, "{pruned}");
    assert!(pruned["artifact_files"].as_u64().unwrap() > 0, "{pruned}");
    assert!(std::fs::read_dir(&metadata).unwrap().count() < before);
    assert_eq!(artifact("1.0.0"), 0);
    assert!(artifact("1.0.1") > 0);
    assert!(metadata.join("1.root.json").exists());

    // What is left verifies, python-tuf reads it, and the device keeps updating.
    r.verify(&[]).ok();
    let fetched = python_tuf_fetch(&server.url(), &r.root_json());
    assert!(fetched.keys().all(|n| !n.starts_with("releases/1.0.0/")));
    assert_eq!(fetched.len(), 9);
    publish_policy(&r, &policy_for("1.0.1", ""));
    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 1.0.1, was 1.0.2"),
        "{run:#?}"
    );
}

/// Four rounds of `repo timestamp` and `repo sign`: versions for `repo prune` to remove.
fn resign_four_times(r: &DemoRepo) {
    for _ in 0..4 {
        let key = example_key("timestamp.pem");
        repo([
            "timestamp".as_ref(),
            r.path.as_os_str(),
            "--key".as_ref(),
            key.as_os_str(),
        ])
        .ok();
        r.sign().ok();
    }
}

/// The regular files below `dir` (none if it does not exist).
fn files_in(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| if p.is_dir() { files_in(&p) } else { 1 })
        .sum()
}

#[test]
fn a_retired_release_is_never_added_again() {
    let r = three_releases();
    retire(&r, "1.0.0").ok();
    // Staged to retire: adding it back is refused, the retirement stays staged.
    r.add_dir(&fixture_release("1.0.0", "armv7"), "1.0.0", "armv7")
        .fails_with(2, "release 1.0.0 is staged to retire");
    r.sign().ok();
    // Retired: refused with other bytes and with the same, so `repo prune` never removes
    // files a role lists again and no device meets other bytes under a name it installed.
    let before = tree_state(r.tmp.path());
    r.add_dir(&fixture_release("2.0.0", "armv7"), "1.0.0", "armv7")
        .fails_with(2, "release 1.0.0 was retired: releases never change");
    r.add_dir(&fixture_release("1.0.0", "armv7"), "1.0.0", "armv7")
        .fails_with(2, "release 1.0.0 was retired: releases never change");
    assert_eq!(tree_state(r.tmp.path()), before);
    repo(["prune".as_ref(), r.path.as_os_str()]).ok();
    r.verify(&[]).ok();
}

#[test]
fn published_files_are_readable_by_a_web_server_whatever_the_admins_umask() {
    use std::os::unix::fs::PermissionsExt;
    let r = DemoRepo::init();
    let keys = ["targets.pem", "snapshot.pem", "timestamp.pem"]
        .map(|k| format!("--key {}", example_key(k).display()))
        .join(" ");
    let script = format!(
        "umask 077 && {repo} add {r} {dir} --release 1.0.0 --platform armv7 && {repo} sign {r} {keys}",
        repo = bin("repo").display(),
        r = r.path.display(),
        dir = fixture_release("1.0.0", "armv7").display(),
    );
    let mut command = Command::new("sh");
    command.arg("-c").arg(script);
    run_bounded(&mut command, Duration::from_secs(60)).ok();
    let mut checked = 0;
    let mut stack = vec![r.public()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            if path.is_dir() {
                assert_eq!(mode, 0o755, "{}", path.display());
                stack.push(path);
            } else {
                assert_eq!(mode, 0o644, "{}", path.display());
                checked += 1;
            }
        }
    }
    assert!(checked > 10, "{checked}");
}
