//! The updater reads repositories it did not write: one built by python-tuf's Metadata API
//! (rotated root, ECDSA/RSA/ed25519 keys, a delegated role), one built by `repo`, served over
//! HTTP on 127.0.0.1 and from local folders.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use e2e_tests::{tree_state, tuf_python, workspace_root, DemoRepo, Device, StaticServer};
use serde_json::Value;

/// Builds a repository with tests/python/make_repo.py in `out`; returns name -> sha256.
fn python_tuf_repository(out: &Path, extra: &[&str]) -> serde_json::Map<String, Value> {
    let output = Command::new(tuf_python())
        .arg(workspace_root().join("tests/python/make_repo.py"))
        .arg(out)
        .args(extra)
        .output()
        .expect("run make_repo.py");
    assert!(output.status.success(), "make_repo.py failed: {output:#?}");
    let contents: Value = serde_json::from_slice(&output.stdout).expect("json");
    contents.as_object().expect("object").clone()
}

fn sha256_hex(bytes: &[u8]) -> String {
    updater::hash::Sha256::digest(bytes).to_hex()
}

#[test]
fn reads_a_python_tuf_repository_with_rotated_root_and_delegation() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let contents = python_tuf_repository(&repo, &[]);
    let server = StaticServer::start(&repo);
    let device = Device::trusting(&repo.join("initial_root.json"));

    let names = ["hello.txt", "releases/1.0/app.bin"];
    let run = device.download(&[&server.url()], &names, &[]).ok();
    for name in names {
        assert!(run.stdout.contains(&format!("{name}: ")), "{run:#?}");
        assert_eq!(
            sha256_hex(&device.target(name)),
            contents[name].as_str().unwrap()
        );
    }
    // The rotated root (signed by the old key and the new ECDSA key) is now trusted, and
    // the delegated role is kept beside the top-level ones.
    let root: Value =
        serde_json::from_slice(&std::fs::read(device.metadata_dir.join("root.json")).unwrap())
            .unwrap();
    assert_eq!(root["signed"]["version"], 2);
    assert!(device.metadata_dir.join("release.json").is_file());

    // A second run finds both files present and verified, and fetches nothing again.
    let again = device.download(&[&server.url()], &names, &[]).ok();
    assert_eq!(
        again.stdout.matches("already present").count(),
        2,
        "{again:#?}"
    );
}

#[test]
fn reads_a_python_tuf_repository_from_a_local_folder() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let contents = python_tuf_repository(&repo, &[]);
    let device = Device::trusting(&repo.join("initial_root.json"));
    let mirror = format!("file://{}", repo.display());
    device.download(&[&mirror], &["hello.txt"], &[]).ok();
    assert_eq!(
        sha256_hex(&device.target("hello.txt")),
        contents["hello.txt"].as_str().unwrap()
    );
}

#[test]
fn reads_a_repository_built_by_repo_over_http_and_from_a_path() {
    let r = DemoRepo::signed();
    let server = StaticServer::start(&r.public());
    let names = [
        "releases/1.0.0/armv7/app.bin",
        "releases/1.0.0/x86_64/share/data.txt",
    ];
    for mirror in [server.url(), r.public().display().to_string()] {
        let device = Device::trusting(&r.root_json());
        device.download(&[&mirror], &names, &[]).ok();
        for name in names {
            let original = std::fs::read(r.artifact(name)).unwrap();
            assert_eq!(device.target(name), original, "{name} from {mirror}");
        }
        let listing = device
            .updater(&["--metadata-url", &format!("{mirror}/metadata"), "targets"])
            .ok();
        assert_eq!(listing.stdout.lines().count(), 8, "{listing:#?}");
    }
}

/// A device whose folder and private `$TMPDIR` both sit inside one watched folder, so a test
/// sees anything written beside the device folder (where "../../outside" would land, from the
/// metadata folder) or into `$TMPDIR`.
struct WatchedDevice {
    // Declared first so it is dropped before the folder that holds it.
    device: Device,
    watched: tempfile::TempDir,
    /// The device folder, relative to `watched`.
    device_folder: String,
}

impl WatchedDevice {
    /// A watched device initialised to trust `root`.
    fn trusting(root: &Path) -> Self {
        let watched = tempfile::tempdir().unwrap();
        let parent = watched.path().join("devices");
        let tmpdir = watched.path().join("tmp");
        std::fs::create_dir(&parent).unwrap();
        std::fs::create_dir(&tmpdir).unwrap();
        let device = Device::inside(&parent, &tmpdir);
        device.updater(&["init".as_ref(), root.as_os_str()]).ok();
        let device_folder = device
            .tmp
            .path()
            .strip_prefix(watched.path())
            .unwrap()
            .display()
            .to_string();
        WatchedDevice {
            device,
            watched,
            device_folder,
        }
    }

    /// Everything watched except what lives in the device's own folder (checked apart).
    fn around(&self) -> BTreeMap<String, (u32, Vec<u8>)> {
        let mut tree = tree_state(self.watched.path());
        tree.retain(|path, _| !path.starts_with(&format!("{}/", self.device_folder)));
        tree
    }
}

/// Everything `device` wrote is a plain file directly inside its metadata or targets folder,
/// and the hostile role names are stored there percent-encoded, as one component each.
fn assert_device_wrote_only_flat_files(device: &Device) {
    for (path, _) in device.state() {
        let parts: Vec<&str> = path.split('/').collect();
        assert!(
            parts == ["metadata"]
                || parts == ["targets"]
                || (parts.len() == 2 && (parts[0] == "metadata" || parts[0] == "targets")),
            "the device wrote {path}"
        );
    }
    let metadata: Vec<String> = std::fs::read_dir(&device.metadata_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for stored in [
        "..%2F..%2Foutside.json",
        "%2Ftmp%2Fabs-role.json",
        "sub%2Fdir.json",
    ] {
        assert!(metadata.iter().any(|m| m == stored), "{metadata:?}");
    }
}

#[test]
fn hostile_names_never_place_a_file_outside_the_device_folders() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    let contents = python_tuf_repository(&repo, &["--hostile-names"]);
    let server = StaticServer::start(&repo);
    let watched = WatchedDevice::trusting(&repo.join("initial_root.json"));
    let device = &watched.device;
    let before = watched.around();
    // "/tmp/abs-role" names the real /tmp, which other tests share: look at that one name.
    let absolute = std::path::Path::new("/tmp/abs-role.json");
    let absolute_before = absolute.exists();

    // Roles named "../../outside", "/tmp/abs-role" and "sub/dir"; targets named ".dotfile"
    // and "..%2Foutside.txt".
    let odd = ["top.txt", ".dotfile", "..%2Foutside.txt"];
    device.download(&[&server.url()], &odd, &[]).ok();
    for name in odd {
        assert_eq!(
            sha256_hex(&device.target(name)),
            contents[name].as_str().unwrap()
        );
    }
    // A role listing "../escape.txt" is refused as a whole.
    device
        .download(&[&server.url()], &["../escape.txt"], &[])
        .fails_with(1, "target name \"../escape.txt\" contains a '..' segment");
    device
        .updater(&[
            "--metadata-url",
            &format!("{}/metadata", server.url()),
            "targets",
        ])
        .fails_with(
            1,
            "escape.json is not valid metadata: target name \"../escape.txt\"",
        );

    assert_device_wrote_only_flat_files(device);
    // Nothing beside the device folder, in its parent or in $TMPDIR and its parent.
    assert_eq!(before, watched.around());
    assert_eq!(absolute_before, absolute.exists());
}

#[test]
fn fast_forward_recovery_follows_a_timestamp_key_rotation() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = tmp.path().join("repo");
    python_tuf_repository(&repo, &["--fast-forward"]);
    let ahead = StaticServer::start(&repo);
    let timestamp_version = |device: &Device| -> Value {
        let bytes = std::fs::read(device.metadata_dir.join("timestamp.json")).unwrap();
        serde_json::from_slice::<Value>(&bytes).unwrap()["signed"]["version"].clone()
    };

    // Devices pushed to timestamp version 1000 by whoever held the old timestamp key.
    let recovering = Device::trusting(&repo.join("initial_root.json"));
    recovering.refresh(&[&ahead.url()]).ok();
    assert_eq!(timestamp_version(&recovering), 1000);
    let replayed = Device::trusting(&repo.join("initial_root.json"));
    replayed.refresh(&[&ahead.url()]).ok();

    // Without a new timestamp key, version 2 is a rollback.
    let old_key = StaticServer::start(&tmp.path().join("repo.replayed"));
    replayed.refresh(&[&old_key.url()]).fails_with(
        1,
        "timestamp: version 2 is older than the trusted version 1000",
    );

    // Root 3 replaces the timestamp key: the device drops what the old key signed and
    // accepts version 2 from the new one.
    let recovered = StaticServer::start(&tmp.path().join("repo.recovered"));
    recovering.refresh(&[&recovered.url()]).ok();
    assert_eq!(timestamp_version(&recovering), 2);
    let root: Value =
        serde_json::from_slice(&std::fs::read(recovering.metadata_dir.join("root.json")).unwrap())
            .unwrap();
    assert_eq!(root["signed"]["version"], 3);
}
