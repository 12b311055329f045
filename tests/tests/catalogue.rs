//! The catalogue as `repo sign` writes it: each release a delegated role of its own while
//! it is among the newest, older ones folded into volumes under the `history` role; the
//! snapshot listing every role with its length and hashes. Devices, python-tuf and `repo
//! verify` read it; a device installs a live release and one from a volume.

use std::path::Path;

use e2e_tests::{
    apply, assert_current_complete, fixture_release, listed_file, plan_json, policy_for,
    publish_policy, python_tuf_fetch, python_tuf_fetch_in, read_json, DemoRepo, Device,
    StaticServer,
};
use serde_json::Value;

/// Sets the catalogue's `[catalogue]` settings in `repo.toml`.
fn set_catalogue(r: &DemoRepo, live: usize, volume_bytes: u64) {
    let path = r.path.join("repo.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("live_releases = 32\nvolume_bytes = 4194304\n"),
        "{text}"
    );
    let text = text.replace(
        "live_releases = 32\nvolume_bytes = 4194304\n",
        &format!("live_releases = {live}\nvolume_bytes = {volume_bytes}\n"),
    );
    std::fs::write(&path, text).unwrap();
}

/// The names of the roles `role` delegates to, in order.
fn delegated(role: &Value) -> Vec<String> {
    role["signed"]["delegations"]["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .map(|r| r["name"].as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

fn current(metadata: &Path, role: &str) -> Value {
    read_json(&listed_file(metadata, role))
}

/// Releases 1.0.0 to 1.0.5 (the fixture's armv7 files), each added and signed in turn,
/// with two live releases and volumes of at most 5,000 bytes. python-tuf, keeping its
/// trusted metadata, refreshes after each signing: every fold must pass its rollback
/// checks (a role listed once stays listed).
fn six_releases() -> DemoRepo {
    let r = DemoRepo::init();
    set_catalogue(&r, 2, 5000);
    let server = StaticServer::start(&r.public());
    let python = tempfile::tempdir().unwrap();
    for n in 0..6 {
        let release = format!("1.0.{n}");
        r.add_dir(&fixture_release("1.0.0", "armv7"), &release, "armv7")
            .ok();
        r.sign().ok();
        let fetched = python_tuf_fetch_in(&server.url(), &r.root_json(), python.path());
        assert_eq!(fetched.len(), 4 * (n + 1));
    }
    r
}

#[test]
fn the_newest_releases_are_roles_and_older_ones_fold_into_volumes() {
    let r = six_releases();
    let metadata = r.public().join("metadata");
    let top = current(&metadata, "targets");
    // Two slots, newest release first, then the history. Each release took the slot the
    // release it pushed into the history left.
    assert_eq!(
        delegated(&top),
        ["live-02", "live-01", "history"],
        "{top:#}"
    );
    assert!(top["signed"]["targets"].as_object().unwrap().is_empty());
    let release = current(&metadata, "live-02");
    let files: Vec<&String> = release["signed"]["targets"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(files.len(), 4);
    assert!(files.iter().all(|n| n.starts_with("releases/1.0.5/armv7/")));
    let paths = &top["signed"]["delegations"]["roles"][0]["paths"];
    assert_eq!(
        paths,
        &serde_json::json!(["releases/1.0.5/*/*", "releases/1.0.5/*/*/*"])
    );

    // The four older releases sit in volumes under the history, each volume delegated
    // exactly its releases' folders.
    let history = current(&metadata, "history");
    let volumes = delegated(&history);
    assert!(volumes.len() >= 2, "small volumes: {volumes:?}");
    let mut folded = Vec::new();
    for volume in &volumes {
        let body = current(&metadata, volume);
        for name in body["signed"]["targets"].as_object().unwrap().keys() {
            let release = name.split('/').nth(1).unwrap().to_owned();
            if !folded.contains(&release) {
                folded.push(release);
            }
        }
    }
    folded.sort();
    assert_eq!(folded, ["1.0.0", "1.0.1", "1.0.2", "1.0.3"]);

    // The snapshot lists every role of the catalogue, with length and both hashes: the two
    // slots, the history and the volumes, however many releases were published.
    let snapshot = current(&metadata, "snapshot");
    let meta = snapshot["signed"]["meta"].as_object().unwrap();
    let mut listed: Vec<&String> = meta.keys().collect();
    listed.sort();
    let mut expected: Vec<String> = ["targets", "live-01", "live-02", "history"]
        .iter()
        .map(|r| format!("{r}.json"))
        .chain(volumes.iter().map(|v| format!("{v}.json")))
        .collect();
    expected.sort();
    assert_eq!(listed, expected.iter().collect::<Vec<_>>());
    for (role, m) in meta {
        assert!(m["length"].is_u64(), "{role}");
        assert!(m["hashes"]["sha256"].is_string() && m["hashes"]["sha512"].is_string());
    }

    // `repo verify` checks every role and every artifact; python-tuf finds every file.
    let run = r.verify(&[]).ok();
    assert!(run.stdout.contains("24 artifact"), "{run:#?}");
    let server = StaticServer::start(&r.public());
    let fetched = python_tuf_fetch(&server.url(), &r.root_json());
    assert_eq!(fetched.len(), 24, "{fetched:?}");
}

#[test]
fn a_device_installs_a_live_release_then_one_from_a_volume() {
    let r = DemoRepo::init();
    set_catalogue(&r, 1, 4 * 1024 * 1024);
    r.add("1.0.0", "armv7").ok();
    r.add("2.0.0", "armv7").ok();
    r.set_policy(&policy_for("2.0.0", "")).ok();
    r.sign_all().ok();
    let metadata = r.public().join("metadata");
    assert_eq!(
        delegated(&current(&metadata, "targets")),
        ["policy", "live-01", "history"]
    );
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, "");

    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 2.0.0, was nothing"),
        "{run:#?}"
    );
    assert_eq!(assert_current_complete(&device), "2.0.0");
    // The device fetched the live release's role and not the history.
    assert!(device.metadata_dir.join("live-01.json").is_file());
    assert!(!device.metadata_dir.join("history.json").exists());

    // 1.0.0 lives in a volume: the device finds it through the history.
    publish_policy(&r, &policy_for("1.0.0", ""));
    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 1.0.0, was 2.0.0"),
        "{run:#?}"
    );
    assert_eq!(assert_current_complete(&device), "1.0.0");
    assert!(device.metadata_dir.join("volume-00001.json").is_file());
}

#[test]
fn a_check_that_finds_nothing_new_uses_the_kept_policy_and_trusts_no_altered_copy() {
    let r = DemoRepo::with_policy(&policy_for("1.0.0", ""));
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, "");
    assert_eq!(plan_json(&device, &config)["action"], "install");
    let kept = device.metadata_dir.join("policy.xml");
    let served: Vec<std::path::PathBuf> = std::fs::read_dir(r.public().join("targets"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".policy.xml"))
        .collect();
    assert!(!served.is_empty());
    let xml = std::fs::read(&served[0]).unwrap();
    assert_eq!(std::fs::read(&kept).unwrap(), xml);

    // With the served policy.xml gone, a check still decides: from the kept copy, whose
    // bytes the verified policy role lists.
    let hidden = r.tmp.path().join("hidden");
    std::fs::create_dir(&hidden).unwrap();
    for (i, file) in served.iter().enumerate() {
        std::fs::rename(file, hidden.join(i.to_string())).unwrap();
    }
    assert_eq!(plan_json(&device, &config)["action"], "install");

    // A kept copy altered on disk is not trusted: the device fetches the policy again.
    std::fs::write(&kept, b"<policy/>").unwrap();
    let refused = device.updater(&["--config".as_ref(), config.as_os_str(), "plan".as_ref()]);
    assert_ne!(refused.code, Some(0), "{refused:#?}");
    for (i, file) in served.iter().enumerate() {
        std::fs::rename(hidden.join(i.to_string()), file).unwrap();
    }
    assert_eq!(plan_json(&device, &config)["action"], "install");
    assert_eq!(std::fs::read(&kept).unwrap(), xml);
}
