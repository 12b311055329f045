//! Encrypted artifacts attacked on the device side, with the real binaries: hostile shapes
//! of the signed `custom.encrypted`, a signed passphrase file, a release mixing a plain hook
//! with encrypted files, the device's identity file in every wrong state, a kill in the
//! middle of decrypting, and the free-space check. Each refusal is asserted by its message,
//! exit code and the whole trees where an effect would land.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use e2e_tests::{
    add_release, bin, changed_paths, files_containing, passphrase_file, publish_release,
    refused_on, tree_state, AttackScene, KeyedDevice, Tmpfs, MARKER,
};

const APP: &str = "releases/2.0.0/armv7/app.bin";

#[test]
fn odd_shapes_of_a_signed_custom_encrypted_are_refused_by_every_device() {
    let cases: [(&str, serde_json::Value, &str); 6] = [
        ("empty", serde_json::json!({}), "missing field `format`"),
        (
            "string",
            serde_json::json!("yes"),
            "invalid type: string \"yes\", expected struct Encrypted",
        ),
        (
            "null",
            serde_json::Value::Null,
            "invalid type: null, expected struct Encrypted",
        ),
        (
            "format",
            serde_json::json!("gpg"),
            "format \"gpg\", only \"age\" is known",
        ),
        (
            "length",
            serde_json::json!(-1),
            "invalid value: integer `-1`, expected u64",
        ),
        (
            "sha512",
            serde_json::json!("zz"),
            "digest \"zz\" is not hex: Invalid character 'z' at position 0",
        ),
    ];
    for (what, value, reason) in cases {
        let s = AttackScene::staged();
        s.edit_index(|index| {
            let encrypted = &mut index[APP]["custom"]["encrypted"];
            match what {
                "empty" | "string" | "null" => *encrypted = value,
                field => encrypted[field] = value,
            }
        });
        publish_release(&s.r);
        for device in [&s.a, &s.c] {
            refused_on(
                device,
                &format!("target {APP}: its custom.encrypted is not one this device reads ({reason}); the index was not made by `repo add --encrypt-to`"),
            );
        }
    }
}

#[test]
fn a_signed_passphrase_file_is_refused_even_by_a_listed_device() {
    let s = AttackScene::staged();
    let app = std::fs::read(s.release.join("app.bin")).unwrap();
    s.replace_staged(APP, &passphrase_file(&app));
    publish_release(&s.r);
    refused_on(
        &s.a,
        &format!(
            "target {APP}: no device can decrypt it (it is encrypted to a \"scrypt\" recipient; devices decrypt only with X25519 identities (age1… recipients)); refused, nothing was installed"
        ),
    );
}

/// A signed age file whose header holds a million stanzas: a device would try its identity
/// on each (an hour of CPU); it reads at most MAX_AGE_HEADER_BYTES of header and refuses.
#[test]
fn a_signed_age_file_with_a_huge_header_is_refused_before_decrypting() {
    let s = AttackScene::staged();
    let app = std::fs::read(s.release.join("app.bin")).unwrap();
    let mut huge = b"age-encryption.org/v1\n".to_vec();
    let stanza = format!("-> X25519 {}\n{}\n", "A".repeat(43), "B".repeat(43));
    for _ in 0..20_000 {
        huge.extend_from_slice(stanza.as_bytes());
    }
    huge.extend_from_slice(&app);
    s.replace_staged(APP, &huge);
    publish_release(&s.r);
    let started = std::time::Instant::now();
    refused_on(
        &s.a,
        &format!(
            "target {APP}: no device can decrypt it (its age header is larger than 1048576 bytes (room for about 10000 recipients): encrypt the release to fewer recipients); refused, nothing was installed"
        ),
    );
    eprintln!("refused in {:?}", started.elapsed());
}

#[test]
fn a_release_mixing_a_plain_hook_with_encrypted_files_runs_nothing_on_an_outsider() {
    let s = AttackScene::new();
    // The release's pre-install hook leaves a mark where it runs.
    let mark = s.work.path().join("HOOK-RAN");
    let hook = format!("#!/bin/sh\ntouch {}\n", mark.display());
    std::fs::write(s.release.join("pre-install.sh"), &hook).unwrap();
    add_release(
        &s.r.path,
        &s.release,
        &["--encrypt-to", s.recipients.to_str().unwrap()],
    )
    .ok();
    // A careless (or hostile) signer ships the hook in the clear beside the encrypted files.
    let hook_name = "releases/2.0.0/armv7/pre-install.sh";
    s.replace_staged(hook_name, hook.as_bytes());
    s.edit_index(|index| {
        index[hook_name]["custom"]
            .as_object_mut()
            .unwrap()
            .remove("encrypted");
    });
    publish_release(&s.r);
    let work_before = tree_state(s.work.path());
    refused_on(
        &s.c,
        &format!(
            "target {APP} is encrypted to 1 recipient(s), and this device ({}) is not one of them: it is not authorized for this release; nothing was installed",
            s.c.recipient
        ),
    );
    assert!(!mark.exists());
    assert_eq!(
        changed_paths(&work_before, &tree_state(s.work.path())),
        Vec::<String>::new()
    );
    // The listed device installs it all, the hook run.
    let run = s.a.apply().ok();
    assert!(run.stdout.contains("installed 2.0.0"), "{run:#?}");
    assert!(mark.exists());
}

#[test]
fn the_identity_file_in_a_wrong_state_is_refused_by_name_and_nothing_is_installed() {
    let s = AttackScene::staged();
    publish_release(&s.r);
    let a = &s.a;
    let id = &a.identity;
    let kept = s.work.path().join("identity.kept");
    std::fs::copy(id, &kept).unwrap();
    std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o600)).unwrap();
    let restore = || {
        let _ = std::fs::remove_file(id);
        std::fs::copy(&kept, id).unwrap();
        std::fs::set_permissions(id, std::fs::Permissions::from_mode(0o600)).unwrap();
    };
    let path = id.display();

    std::fs::set_permissions(id, std::fs::Permissions::from_mode(0o640)).unwrap();
    refused_on(
        a,
        &format!("the device identity {path} has mode 640: others than its owner may use it; refused (chmod 600 it)"),
    );
    restore();

    std::fs::remove_file(id).unwrap();
    std::os::unix::fs::symlink(&kept, id).unwrap();
    refused_on(
        a,
        &format!(
            "the device identity {path} is a symbolic link; refused (use the key file itself)"
        ),
    );
    restore();

    let chown = Command::new("chown").arg("65534").arg(id).status().unwrap();
    assert!(chown.success());
    refused_on(
        a,
        &format!(
            "the device identity {path} is owned by user 65534, not by this user (0); refused"
        ),
    );
    restore();

    let second = Command::new("age-keygen").output().unwrap();
    let mut two = std::fs::read(id).unwrap();
    two.extend_from_slice(&second.stdout);
    std::fs::write(id, two).unwrap();
    refused_on(
        a,
        &format!("{path} is not an age identity file (one line AGE-SECRET-KEY-1…, comments starting with #): more than one key line"),
    );
    restore();

    std::fs::remove_file(id).unwrap();
    refused_on(
        a,
        &format!("this device has no decryption identity at {path}: run `updater keygen` to make one, then have the release admins add its recipient (`updater id`) to the release's recipients file"),
    );
    restore();

    // New keys in place of the listed one: the release made for the old recipient is
    // refused_on, naming the new one.
    let replaced = a
        .device
        .updater(&[
            "--config".as_ref(),
            a.config.as_os_str(),
            "keygen".as_ref(),
            "--replace".as_ref(),
            "--json".as_ref(),
        ])
        .ok();
    let replaced: serde_json::Value = serde_json::from_str(replaced.stdout.trim()).unwrap();
    let new = replaced["recipient"].as_str().unwrap();
    assert_ne!(new, a.recipient);
    refused_on(
        a,
        &format!("target {APP} is encrypted to 1 recipient(s), and this device ({new}) is not one of them"),
    );
}

/// Kills `updater apply` on `device` once a temporary plaintext is being written in its
/// downloads folder; returns that file's mode (None if decryption was never caught).
fn kill_while_decrypting(device: &KeyedDevice) -> Option<u32> {
    let mut child = Command::new(bin("updater"))
        .arg("--config")
        .arg(&device.config)
        .arg("apply")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut caught = None;
    while Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        let partial = std::fs::read_dir(&device.device.target_dir)
            .unwrap()
            .flatten()
            .find(|e| e.file_name().to_string_lossy().starts_with(".%plain.tmp."));
        if let Some(entry) = partial {
            if entry.metadata().is_ok_and(|m| m.len() > 1 << 20) {
                caught = entry
                    .metadata()
                    .ok()
                    .map(|m| m.permissions().mode() & 0o777);
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    caught
}

#[test]
fn a_kill_while_decrypting_leaves_plaintext_only_its_owner_reads_and_the_next_apply_removes_it() {
    let s = AttackScene::new();
    // 256 MiB of marked plaintext: long enough to decrypt that the kill lands inside it.
    let line: Vec<u8> = [MARKER, b" filler line\n"].concat();
    let big = line.repeat((256 << 20) / line.len());
    std::fs::write(s.release.join("big.bin"), &big).unwrap();
    add_release(
        &s.r.path,
        &s.release,
        &["--encrypt-to", s.recipients.to_str().unwrap(), "--quiet"],
    )
    .ok();
    publish_release(&s.r);
    std::fs::remove_file(s.release.join("big.bin")).unwrap();
    let mode = kill_while_decrypting(&s.a);
    assert_eq!(mode, Some(0o600), "the partial plaintext: owner only");
    let left = files_containing(&s.a.device.target_dir, MARKER);
    assert!(
        left.iter().all(|p| {
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            mode == 0o600
        }),
        "{left:?}"
    );
    assert!(!left.is_empty(), "killed mid-decryption, plaintext is left");
    let run = s.a.apply().ok();
    assert!(run.stdout.contains("installed 2.0.0"), "{run:#?}");
    assert_eq!(
        files_containing(&s.a.device.target_dir, MARKER),
        Vec::<PathBuf>::new()
    );
    let names: Vec<String> = std::fs::read_dir(&s.a.device.target_dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, Vec::<String>::new());
}

#[test]
fn the_free_space_check_counts_an_encrypted_artifact_twice() {
    let s = AttackScene::staged();
    publish_release(&s.r);
    let listed = s.r.listed_targets();
    let (mut cipher, mut plain) = (0u64, 0u64);
    for info in listed.values() {
        cipher += info["length"].as_u64().unwrap();
        plain += info["custom"]["encrypted"]["length"].as_u64().unwrap();
    }
    // Room for the ciphertext, not for the ciphertext and the plaintext.
    let downloads = Tmpfs::mount(&s.a.device.target_dir, &format!("{}k", cipher / 1024 + 200));
    assert!(downloads.free() > cipher && downloads.free() < cipher + plain);
    let before = tree_state(&s.a.device.target_dir);
    refused_on(
        &s.a,
        &format!(
            "not enough free space in {}: {} bytes needed, {} free",
            s.a.device.target_dir.display(),
            cipher + plain,
            downloads.free()
        ),
    );
    assert_eq!(before, tree_state(&s.a.device.target_dir));
}
