//! Encrypted artifacts: a release encrypted to some devices installs on those and is
//! refused by the others, the mirror holds no plaintext, the format is age's own (the `age`
//! command reads what `repo` writes and the device installs what `age` writes), and
//! tampered ciphertext or a different plaintext is refused before anything is staged.

use std::path::Path;

use e2e_tests::{
    add_release, files_containing, marked_release, publish_release, recipients_file, repo,
    tree_state, DemoRepo, KeyedDevice, StaticServer, MARKER,
};

const SECRET: &str = "releases/2.0.0/armv7/secret.bin";

/// The installed release's files hold the plaintext, the bundle unpacked.
fn assert_installed(device: &KeyedDevice, release: &Path) {
    assert_eq!(device.device.running().as_deref(), Some("2.0.0"));
    let current = device.device.install_dir().join("current");
    for file in ["secret.bin", "app.bin", "share/data.txt"] {
        assert_eq!(
            std::fs::read(current.join(file)).unwrap(),
            std::fs::read(release.join(file)).unwrap(),
            "{file}"
        );
    }
    let notes = std::fs::read(current.join("docs/notes.txt")).unwrap();
    assert!(notes.starts_with(MARKER));
}

#[test]
fn a_release_encrypted_to_two_devices_installs_on_both_and_is_refused_by_a_third() {
    let work = tempfile::tempdir().unwrap();
    let release = marked_release(work.path());
    let r = DemoRepo::init();
    let server = StaticServer::start(&r.public());
    let url = server.url();
    let devices: Vec<KeyedDevice> = ["dev-a", "dev-b", "dev-c"]
        .iter()
        .map(|id| KeyedDevice::new(&r.root_json(), &url, id))
        .collect();
    let list = recipients_file(
        work.path(),
        &[
            ("dev-a", &devices[0].recipient),
            ("dev-b", &devices[1].recipient),
        ],
    );
    let added = add_release(&r.path, &release, &["--encrypt-to", list.to_str().unwrap()]).ok();
    assert!(
        added.stdout.contains("encrypted to 2 recipient(s)"),
        "{added:#?}"
    );
    publish_release(&r);

    // The mirror holds ciphertext only: no file served contains the marker.
    assert_eq!(
        files_containing(&r.public(), MARKER),
        Vec::<std::path::PathBuf>::new()
    );
    // The signed index records the plaintext, and who it is for.
    let listed = r.listed_targets();
    let encrypted = &listed[SECRET]["custom"]["encrypted"];
    assert_eq!(encrypted["format"], "age");
    assert_eq!(encrypted["recipients"], 2);
    assert_eq!(
        encrypted["length"],
        std::fs::metadata(release.join("secret.bin")).unwrap().len()
    );
    let status = repo(["status".as_ref(), r.path.as_os_str()]).ok();
    assert!(
        status.stdout.lines().any(|l| l.starts_with("2.0.0 ")
            && l.contains("armv7")
            && l.ends_with("2 recipient(s)")),
        "{status:#?}"
    );

    for device in &devices[..2] {
        let run = device.apply().ok();
        assert!(run.stdout.contains("installed 2.0.0"), "{run:#?}");
        assert_installed(device, &release);
    }

    // The third device: refused, named, and its install folder exactly as it was.
    let outsider = &devices[2];
    let before = tree_state(&outsider.device.install_dir());
    let refused = outsider.apply();
    let expected = format!(
        "target releases/2.0.0/armv7/app.bin is encrypted to 2 recipient(s), and this device ({}) is not one of \
         them: it is not authorized for this release; nothing was installed",
        outsider.recipient
    );
    let refused = refused.fails_with(1, &expected);
    assert!(!refused.stderr.contains("AGE-SECRET-KEY"));
    // Only its status changed: it records the refusal as its last error.
    let mut after = tree_state(&outsider.device.install_dir());
    let state = after.remove("state.json").expect("state.json").1;
    assert!(String::from_utf8(state)
        .unwrap()
        .contains("is not one of them"));
    assert_eq!(after, before);
    assert_eq!(outsider.device.running(), None);
    // No plaintext was left anywhere on it either.
    assert_eq!(
        files_containing(outsider.device.tmp.path(), MARKER),
        Vec::<std::path::PathBuf>::new()
    );
}
