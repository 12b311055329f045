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

/// python-tuf and tough read the repository as any other (the encrypted target is the
/// ciphertext, verified by its signed hashes), and `updater id` names the recipient
/// `keygen` made.
fn assert_others_read_it(r: &DemoRepo, url: &str, device: &KeyedDevice) {
    let served_secret = std::fs::read(r.artifact(SECRET)).unwrap();
    let by_python = e2e_tests::python_tuf_fetch(url, &r.root_json());
    assert_eq!(
        by_python[SECRET],
        updater::hash::Sha512::digest(&served_secret).to_hex()
    );
    let by_tough = e2e_tests::tough_read(r, Some(&[SECRET.to_owned()]));
    assert_eq!(by_tough.read[SECRET], served_secret);
    let id = device
        .device
        .updater(&[
            "--config".as_ref(),
            device.config.as_os_str(),
            "id".as_ref(),
            "--json".as_ref(),
        ])
        .ok();
    let id: serde_json::Value = serde_json::from_str(id.stdout.trim()).unwrap();
    assert_eq!(id["recipient"], device.recipient.as_str());
    assert_eq!(id["device"], "dev-a");
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

    assert_others_read_it(&r, &url, &devices[0]);

    for device in &devices[..2] {
        let run = device.apply().ok();
        assert!(run.stdout.contains("installed 2.0.0"), "{run:#?}");
        assert_installed(device, &release);
    }

    // The third device: refused, named, and its install folder exactly as it was.
    let outsider = &devices[2];
    let before = install_tree(outsider);
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

/// Runs `age ARGS` (Debian's `age`), panicking unless it succeeded; returns its stdout.
fn age(args: &[&std::ffi::OsStr]) -> Vec<u8> {
    let out = std::process::Command::new("age")
        .args(args)
        .output()
        .expect("run age (Debian's age package; scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "age {args:?}: {out:#?}");
    out.stdout
}

/// One device, a release encrypted to it and published, served: for the interop and
/// tampering tests.
struct OneDevice {
    /// Holds the release folder.
    _work: tempfile::TempDir,
    release: std::path::PathBuf,
    r: DemoRepo,
    _server: StaticServer,
    device: KeyedDevice,
}

impl OneDevice {
    /// Releases 2.0.0 encrypted by `repo add --encrypt-to` to the device, staged but not
    /// published yet.
    fn staged() -> Self {
        let work = tempfile::tempdir().unwrap();
        let release = marked_release(work.path());
        let r = DemoRepo::init();
        let server = StaticServer::start(&r.public());
        let device = KeyedDevice::new(&r.root_json(), &server.url(), "dev-a");
        let list = recipients_file(work.path(), &[("dev-a", &device.recipient)]);
        add_release(&r.path, &release, &["--encrypt-to", list.to_str().unwrap()]).ok();
        OneDevice {
            _work: work,
            release,
            r,
            _server: server,
            device,
        }
    }
}

#[test]
fn what_repo_encrypts_opens_with_age_and_what_age_encrypts_installs() {
    // `repo` to `age`: the served ciphertext opens with the age command and the device's
    // own identity file.
    let s = OneDevice::staged();
    publish_release(&s.r);
    let served = s.r.artifact(SECRET);
    let opened = age(&[
        "-d".as_ref(),
        "-i".as_ref(),
        s.device.identity.as_os_str(),
        served.as_os_str(),
    ]);
    assert_eq!(opened, std::fs::read(s.release.join("secret.bin")).unwrap());

    // `age` to the device: a build pipeline encrypts each file with `age -R` (the same
    // recipients file format) to the device and to the admins' escrow key; `repo add
    // --already-encrypted` records each plaintext with the escrow identity.
    let work = tempfile::tempdir().unwrap();
    let release = marked_release(work.path());
    let escrow = work.path().join("escrow.txt");
    let made = std::process::Command::new("age-keygen")
        .arg("-o")
        .arg(&escrow)
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:#?}");
    let escrow_public = String::from_utf8(age_keygen_public(&escrow)).unwrap();
    let r = DemoRepo::init();
    let server = StaticServer::start(&r.public());
    let device = KeyedDevice::new(&r.root_json(), &server.url(), "dev-a");
    let list = recipients_file(
        work.path(),
        &[
            ("dev-a", &device.recipient),
            ("escrow", escrow_public.trim()),
        ],
    );
    let sealed = work.path().join("sealed");
    for entry in walkdir::WalkDir::new(&release).into_iter().flatten() {
        let relative = entry.path().strip_prefix(&release).unwrap();
        if entry.file_type().is_file() {
            let out = sealed.join(format!("{}.age", relative.display()));
            std::fs::create_dir_all(out.parent().unwrap()).unwrap();
            age(&[
                "-R".as_ref(),
                list.as_os_str(),
                "-o".as_ref(),
                out.as_os_str(),
                entry.path().as_os_str(),
            ]);
        }
    }
    let added = add_release(
        &r.path,
        &sealed,
        &["--already-encrypted", escrow.to_str().unwrap()],
    )
    .ok();
    assert!(added.stdout.contains("encrypted beforehand"), "{added:#?}");
    publish_release(&r);
    assert_eq!(
        files_containing(&r.public(), MARKER),
        Vec::<std::path::PathBuf>::new()
    );
    let listed = r.listed_targets();
    assert_eq!(listed[SECRET]["custom"]["encrypted"]["recipients"], 2);
    // The served bytes are the pipeline's own, untouched.
    let served = std::fs::read(r.artifact(SECRET)).unwrap();
    assert_eq!(
        served,
        std::fs::read(sealed.join("secret.bin.age")).unwrap()
    );
    let run = device.apply().ok();
    assert!(run.stdout.contains("installed 2.0.0"), "{run:#?}");
    assert_installed(&device, &release);
}

/// The device's install folder, but for its status file (which records the last error).
fn install_tree(device: &KeyedDevice) -> e2e_tests::TreeState {
    let mut tree = tree_state(&device.device.install_dir());
    tree.remove("state.json");
    tree
}

/// `age-keygen -y FILE`: the recipient of an identity file.
fn age_keygen_public(identity: &Path) -> Vec<u8> {
    let out = std::process::Command::new("age-keygen")
        .arg("-y")
        .arg(identity)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:#?}");
    out.stdout
}

/// A byte flipped in the served ciphertext: refused by the hash check, so never decrypted;
/// nothing staged, no plaintext anywhere on the device.
#[test]
fn a_flipped_ciphertext_byte_is_refused_by_its_hash_before_any_decryption() {
    let s = OneDevice::staged();
    publish_release(&s.r);
    let served = s.r.artifact(SECRET);
    let mut bytes = std::fs::read(&served).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&served, &bytes).unwrap();
    let before = install_tree(&s.device);
    let run = s.device.apply();
    let run = run.fails_with(1, &format!("{SECRET}: SHA-512 digest is "));
    assert!(run.stderr.contains("metadata says"), "{run:#?}");
    assert!(!run.stderr.contains("decrypt"), "{run:#?}");
    assert_eq!(install_tree(&s.device), before);
    assert_eq!(s.device.device.running(), None);
    assert_eq!(
        files_containing(s.device.device.tmp.path(), b"line 19999\n"),
        Vec::<std::path::PathBuf>::new()
    );
}

/// A ciphertext that decrypts, but not to the plaintext the index signed (here: the signed
/// record names another plaintext, as if the file had been re-encrypted from other bytes):
/// refused after decryption and before staging; the decrypted bytes are gone.
#[test]
fn a_plaintext_other_than_the_signed_one_is_refused_before_staging() {
    let s = OneDevice::staged();
    let staged = s.r.path.join("staged/releases/2.0.0.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&staged).unwrap()).unwrap();
    let mut other = std::fs::read(s.release.join("secret.bin")).unwrap();
    other[0] ^= 0x01;
    let other_hash = updater::hash::Sha512::digest(&other).to_hex();
    index[SECRET]["custom"]["encrypted"]["sha512"] = other_hash.clone().into();
    std::fs::write(&staged, serde_json::to_vec(&index).unwrap()).unwrap();
    publish_release(&s.r);
    assert_eq!(
        s.r.listed_targets()[SECRET]["custom"]["encrypted"]["sha512"],
        other_hash.as_str()
    );
    let before = install_tree(&s.device);
    let run = s.device.apply();
    let run = run.fails_with(
        1,
        &format!("target {SECRET}: the decrypted bytes are not the ones the index signed ("),
    );
    assert!(
        run.stderr.contains("refused, nothing was installed"),
        "{run:#?}"
    );
    assert_eq!(install_tree(&s.device), before);
    assert_eq!(s.device.device.running(), None);
    assert_eq!(
        files_containing(s.device.device.tmp.path(), b"line 19999\n"),
        Vec::<std::path::PathBuf>::new()
    );
}
