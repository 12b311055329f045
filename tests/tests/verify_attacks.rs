//! `repo verify` refuses tampered repositories, each with its own clear message. Every test
//! tampers with real files on disk, as an attacker with write access to a mirror would.

use std::fs::OpenOptions;
use std::io::{Seek, SeekFrom, Write};

use e2e_tests::{example_key, read_json, relist_in_snapshot, repo, resign, write_json, DemoRepo};

const APP: &str = "releases/1.0.0/armv7/app.bin";
const FIRMWARE: &str = "releases/1.0.0/armv7/firmware.img";

#[test]
fn untouched_repository_verifies() {
    let r = DemoRepo::signed();
    let run = r.verify(&[]).ok();
    assert!(run.stdout.contains("ok: 8 artifact(s)"), "{run:#?}");
}

#[test]
fn flipped_byte_in_an_artifact() {
    let r = DemoRepo::signed();
    let path = r.artifact(FIRMWARE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[1000] ^= 0x01;
    // Write in place: the hard links under the other hashes see the same bytes.
    let mut f = OpenOptions::new().write(true).open(&path).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(&bytes).unwrap();
    let run = r
        .verify(&[])
        .fails_with(1, &format!("target {FIRMWARE}: SHA-512 digest is"));
    assert!(
        run.stderr.contains("1 of 8 artifacts failed verification"),
        "{run:#?}"
    );
}

#[test]
fn truncated_artifact() {
    let r = DemoRepo::signed();
    let path = r.artifact(FIRMWARE);
    OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(4000)
        .unwrap();
    r.verify(&[]).fails_with(
        1,
        &format!("target {FIRMWARE}: length is 4000 bytes, metadata says 4096"),
    );
}

/// The served file of the role listing `name` (the release's slot), its file name and role.
fn listing(r: &DemoRepo, name: &str) -> (std::path::PathBuf, String, String) {
    let path = r.role_listing(name);
    let file = path.file_name().unwrap().to_string_lossy().into_owned();
    let role = file.split('.').nth(1).unwrap().to_owned();
    (path, file, role)
}

#[test]
fn edited_field_in_signed_metadata() {
    let r = DemoRepo::signed();
    let (path, name, role) = listing(&r, APP);
    let mut file = read_json(&path);
    file["signed"]["targets"][APP]["length"] = 9999.into();
    write_json(&path, &file);
    // Snapshot's hashes would refuse it first; re-listed, the signature check is reached.
    r.verify(&[])
        .fails_with(1, &format!("{name} is larger than its limit of"));
    relist_in_snapshot(&r, &name);
    r.verify(&[])
        .fails_with(
            1,
            &format!("{role}: 0 of 1 required signatures are valid (key "),
        )
        .fails_with(1, "the signature does not match the signed bytes");
}

#[test]
fn signature_by_a_key_not_in_root() {
    let r = DemoRepo::signed();
    let attacker = r.tmp.path().join("attacker");
    repo(["keygen".as_ref(), attacker.as_os_str()]).ok();
    let mut attacker_key = attacker.clone().into_os_string();
    attacker_key.push(".pem");
    let (path, name, role) = listing(&r, APP);
    resign(&path, &[attacker_key.as_ref()], |signed| {
        signed["targets"][APP]["length"] = 1.into()
    });
    relist_in_snapshot(&r, &name);
    r.verify(&[])
        .fails_with(1, &format!("{role}: 0 of 1 required signatures are valid"))
        .fails_with(1, "is not trusted for this role");
}

#[test]
fn signatures_below_threshold() {
    // targets needs 2 of 2: the example targets key and a second admin's key.
    let tmp = tempfile::tempdir().unwrap();
    let second = tmp.path().join("second-admin");
    repo(["keygen".as_ref(), second.as_os_str()]).ok();
    let second_pub = format!("targets={}.pub", second.display());
    let r = DemoRepo::init_with(&["--key", &second_pub, "--threshold", "targets=2"]);
    r.add("1.0.0", "armv7").ok();
    // One targets key is not enough to publish: its signature is kept, staged...
    let first = r
        .sign()
        .unfinished("targets is signed by fewer keys than its threshold");
    assert!(
        first
            .stdout
            .contains("targets version 1 staged, signed by a01a8432 (targets): still needs 1 more"),
        "{first:#?}"
    );
    assert!(!r.metadata("1.targets.json").exists());
    // ...and the second admin's signature, on another run, completes it.
    let second_pem = std::path::PathBuf::from(format!("{}.pem", second.display()));
    r.sign_with(&[
        second_pem,
        example_key("snapshot.pem"),
        example_key("timestamp.pem"),
    ])
    .ok();
    r.verify(&[]).ok();
    // ...and a published file that lost a signature is refused.
    let path = r.metadata("1.targets.json");
    let mut file = read_json(&path);
    file["signatures"].as_array_mut().unwrap().pop();
    write_json(&path, &file);
    relist_in_snapshot(&r, "1.targets.json");
    r.verify(&[])
        .fails_with(1, "targets: 1 of 2 required signatures are valid");
}

#[test]
fn expired_metadata() {
    let r = DemoRepo::signed();
    let timestamp = read_json(&r.metadata("timestamp.json"));
    let expires = timestamp["signed"]["expires"].as_str().unwrap().to_owned();
    // Still valid one second before expiry; refused at it.
    let before = updater::datetime::UtcTime::parse(&expires)
        .unwrap()
        .plus_seconds(-1);
    r.verify(&["--at", &before.to_string()]).ok();
    r.verify(&["--at", &expires])
        .fails_with(1, &format!("timestamp expired at {expires}"));
}

#[test]
fn target_name_with_parent_segment() {
    let r = DemoRepo::signed();
    resign(
        &r.metadata("1.targets.json"),
        &[example_key("targets.pem").as_path()],
        |signed| {
            let info = signed["targets"][APP].clone();
            signed["targets"]["releases/../../../etc/cron.d/evil"] = info;
        },
    );
    relist_in_snapshot(&r, "1.targets.json");
    r.verify(&[]).fails_with(
        1,
        "target name \"releases/../../../etc/cron.d/evil\" contains a '..' segment",
    );
}

#[test]
fn rollback_of_a_root_chain_step_is_refused() {
    // A 2.root.json signed only by a key root 1 does not trust breaks the chain.
    let r = DemoRepo::signed();
    let root2 = r.metadata("2.root.json");
    std::fs::copy(r.root_json(), &root2).unwrap();
    resign(&root2, &[example_key("targets.pem").as_path()], |signed| {
        signed["version"] = 2.into()
    });
    r.verify(&[])
        .fails_with(1, "root: 0 of 1 required signatures are valid");
}
