//! Signing ceremonies with the real binaries: a root threshold of 2 of 3 gathered across two
//! admins' copies, key rotation followed by devices and by python-tuf, revoked keys refused,
//! and expiry warnings.

use std::process::Command;

use e2e_tests::ceremony::*;
use e2e_tests::{example_key, read_json, resign, tree_state, DemoRepo, Device, StaticServer};

/// Root 2 rotates the timestamp key; admins A and B sign separate copies, which are merged
/// and published, then the new timestamp key signs.
fn rotate_timestamp_key_across_two_admins(c: &Ceremony) {
    let path = &c.r.path;
    // Rotate the timestamp key: root 2, staged.
    run_repo(&[
        &"root",
        &"edit",
        path,
        &"--add-key",
        &format!("timestamp={}", c.keys.timestamp_2.public.display()),
        &"--remove-key",
        &example("timestamp"),
    ])
    .ok();
    // Admin B works on a copy of the repository folder.
    let copy = c.tmp.path().join("repo-copy");
    let cp = Command::new("cp")
        .arg("-a")
        .arg(path)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(cp.success());

    // Admin A signs: one signature is still missing, and status says so.
    let a = run_repo(&[&"sign", path, &"--key", &c.keys.admin_a.private])
        .unfinished("root version 2 is staged and needs 1 more signature(s) by the current root keys and 1 by its own");
    assert!(
        a.stdout
            .contains("root version 2 staged, 1 signature(s) added, signed by")
            && a.stdout
                .contains("(admin-a): still needs 1 from the current root keys and 1 from its own"),
        "{a:#?}"
    );
    let status = run_repo(&[&"status", path]).ok();
    assert!(
        status.stdout.contains("staged, signed by")
            && status
                .stdout
                .contains("(admin-a): 1 more needed from the current root keys, 1 from its own"),
        "{status:#?}"
    );
    assert!(
        !c.r.metadata("2.root.json").exists(),
        "published below its threshold"
    );

    // Admin B signs the copy; the copies are merged; root 2 is published.
    run_repo(&[&"sign", &copy, &"--key", &c.keys.admin_b.private])
        .unfinished("root version 2 is staged");
    let merged = run_repo(&[&"root", &"merge", path, &copy]).ok();
    assert!(
        merged.stdout.contains("published root version 2"),
        "{merged:#?}"
    );
    run_repo(&[&"timestamp", path, &"--key", &c.keys.timestamp_2.private]).ok();
}

/// A timestamp signed by the revoked key is refused; the device keeps what it had.
fn revoked_timestamp_key_is_refused(c: &Ceremony) {
    let timestamp = c.r.metadata("timestamp.json");
    let good = std::fs::read(&timestamp).unwrap();
    resign(&timestamp, &[&example_key("timestamp.pem")], |t| {
        t["version"] = 3.into();
    });
    let before = c.device.state();
    c.device.refresh(&[&c.server.url()]).fails_with(
        1,
        "timestamp: 0 of 1 required signatures are valid (key 81319263 is not trusted for this role)",
    );
    assert_eq!(before, c.device.state());
    std::fs::write(&timestamp, good).unwrap();
}

/// Root 3 moves root to two new keys. Signed by the new keys alone it stays staged, and a
/// device refuses it even if someone publishes it anyway.
fn root_3_signed_by_its_own_keys_alone_is_refused(c: &Ceremony) {
    let keys = &c.keys;
    run_repo(&[
        &"root",
        &"edit",
        &c.r.path,
        &"--add-key",
        &root_key(&keys.new_root_1.public),
        &"--add-key",
        &root_key(&keys.new_root_2.public),
        &"--remove-key",
        &root_key(&keys.admin_a.public),
        &"--remove-key",
        &root_key(&keys.admin_b.public),
        &"--remove-key",
        &root_key(&keys.admin_c.public),
    ])
    .ok();
    let signed = run_repo(&[
        &"sign",
        &c.r.path,
        &"--key",
        &keys.new_root_1.private,
        &"--key",
        &keys.new_root_2.private,
    ])
    .unfinished("root version 3 is staged and needs 2 more signature(s) by the current root keys and 0 by its own");
    assert!(
        signed
            .stdout
            .contains("still needs 2 from the current root keys and 0 from its own"),
        "{signed:#?}"
    );
    let staged = c.r.path.join("staged/root.json");
    std::fs::copy(&staged, c.r.metadata("3.root.json")).unwrap();
    let before = c.device.state();
    c.device
        .refresh(&[&c.server.url()])
        .fails_with(1, "root: 0 of 2 required signatures are valid");
    assert_eq!(before, c.device.state());
    std::fs::remove_file(c.r.metadata("3.root.json")).unwrap();
}

#[test]
fn root_threshold_across_admins_and_key_rotation() {
    let c = Ceremony::start();
    rotate_timestamp_key_across_two_admins(&c);

    // The device follows: root 2, and a timestamp by the new key (fast-forward recovery).
    c.device.refresh(&[&c.server.url()]).ok();
    assert_eq!(version_of(&c.device, "root"), 2);
    assert_eq!(version_of(&c.device, "timestamp"), 2);
    python_tuf_accepts(&c.server.url(), &c.r.root_json());

    revoked_timestamp_key_is_refused(&c);
    root_3_signed_by_its_own_keys_alone_is_refused(&c);

    // With the old threshold too, root 3 is published and followed.
    let done = run_repo(&[
        &"sign",
        &c.r.path,
        &"--key",
        &c.keys.admin_a.private,
        &"--key",
        &c.keys.admin_b.private,
    ])
    .ok();
    assert!(
        done.stdout.contains("published root version 3"),
        "{done:#?}"
    );
    c.device.refresh(&[&c.server.url()]).ok();
    assert_eq!(version_of(&c.device, "root"), 3);
    python_tuf_accepts(&c.server.url(), &c.r.root_json());
}

#[test]
fn expiry_is_warned_about_and_refused_when_past() {
    // Timestamps live a day by default: a two-day warning window catches them.
    let r = DemoRepo::signed();
    let status = run_repo(&[&"status", &r.path, &"--warn-days", &"2"]);
    let status = status.fails_with(3, "warning: timestamp expires at");
    assert!(status.stderr.contains("): re-sign it"), "{status:#?}");
    run_repo(&[&"status", &r.path]).ok();
    r.verify(&["--warn-days", "2"])
        .fails_with(3, "warning: timestamp expires at");

    // A timestamp that expired: the device refuses it, naming the role and the date.
    let r = DemoRepo::init_with(&["--expires", "timestamp=2s"]);
    r.add("1.0.0", "armv7").ok();
    r.sign().ok();
    let expires = read_json(&r.metadata("timestamp.json"))["signed"]["expires"]
        .as_str()
        .unwrap()
        .to_owned();
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    std::thread::sleep(std::time::Duration::from_secs(3));
    device
        .refresh(&[&server.url()])
        .fails_with(1, &format!("timestamp expired at {expires}"));
    run_repo(&[&"status", &r.path])
        .fails_with(1, &format!("error: timestamp expired at {expires}"));
}

#[test]
fn passphrase_protected_keys_sign_and_the_passphrase_is_never_shown() {
    let tmp = tempfile::tempdir().unwrap();
    let key = tmp.path().join("targets-encrypted.pem");
    let status = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "ed25519",
            "-aes-256-cbc",
            "-pass",
            "pass:correct horse",
        ])
        .arg("-out")
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let path = tmp.path().join("repo");
    let mut args = e2e_tests::init_args(&path, &["targets"]);
    args.push(format!("--key=targets={}", key.display()));
    // Reading the public half of an encrypted key needs the passphrase too.
    let init = Command::new(e2e_tests::bin("repo"))
        .args(&args)
        .env("REPO_KEY_PASSPHRASE", "correct horse")
        .output()
        .unwrap();
    assert!(init.status.success(), "{init:#?}");
    let r = DemoRepo {
        tmp: tempfile::tempdir().unwrap(),
        path,
    };
    r.add("1.0.0", "armv7").ok();
    let sign = |passphrase: Option<&str>| {
        let mut command = Command::new(e2e_tests::bin("repo"));
        command.arg("sign").arg(&r.path);
        for k in [
            key.clone(),
            example_key("snapshot.pem"),
            example_key("timestamp.pem"),
        ] {
            command.arg("--key").arg(k);
        }
        command.env_remove("REPO_KEY_PASSPHRASE");
        if let Some(p) = passphrase {
            command.env("REPO_KEY_PASSPHRASE", p);
        }
        command.output().unwrap()
    };
    let none = sign(None);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr)
        .contains("is encrypted: give its passphrase in REPO_KEY_PASSPHRASE"));
    let wrong = sign(Some("battery staple"));
    assert_eq!(wrong.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&wrong.stderr).contains("the passphrase does not decrypt this key")
    );
    let right = sign(Some("correct horse"));
    assert!(right.status.success(), "{right:#?}");
    for out in [&none, &wrong, &right] {
        let all = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            !all.contains("horse") && !all.contains("staple"),
            "a passphrase was printed: {all}"
        );
    }
    r.verify(&[]).ok();
}

#[test]
fn a_revoked_policy_key_no_longer_signs_the_policy() {
    let xml = r#"<policy>
  <channel name="stable">
    <target release="2.0.0"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
"#;
    let r = DemoRepo::with_policy(xml);
    let keys = tempfile::tempdir().unwrap();
    let (new_policy, new_policy_pub) = keygen(keys.path(), "policy-2");
    run_repo(&[
        &"policy",
        &"keys",
        &r.path,
        &"--add-key",
        &new_policy_pub,
        &"--remove-key",
        &example_key("policy.pub"),
    ])
    .ok();
    r.set_policy(xml).ok();
    let signed = run_repo(&[
        &"sign",
        &r.path,
        &"--key",
        &example_key("targets.pem"),
        &"--key",
        &new_policy,
        &"--key",
        &example_key("snapshot.pem"),
        &"--key",
        &example_key("timestamp.pem"),
    ])
    .ok();
    assert!(
        signed.stdout.contains("published policy version 2"),
        "{signed:#?}"
    );
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), Some("1.0.0"), "");
    let plan = |d: &Device| d.updater(&["--config".as_ref(), config.as_os_str(), "plan".as_ref()]);
    assert!(plan(&device).ok().stdout.contains("install 2.0.0 now"));
    python_tuf_accepts(&server.url(), &r.root_json());

    // The old key's signature no longer counts for the policy role.
    resign(
        &r.metadata("2.policy.json"),
        &[&example_key("policy.pem")],
        |_| {},
    );
    // Re-listed in snapshot (its hashes would refuse the new bytes first), so the
    // signature check is what refuses it.
    e2e_tests::relist_in_snapshot(&r, "2.policy.json");
    let fresh = Device::trusting(&r.root_json());
    let config = fresh.configure("02:00:00:00:00:01", &server.url(), Some("1.0.0"), "");
    fresh
        .updater(&["--config".as_ref(), config.as_os_str(), "plan".as_ref()])
        .fails_with(1, "policy: 0 of 1 required signatures are valid");
}

#[test]
fn targets_signatures_gathered_on_two_copies_are_merged() {
    let tmp = tempfile::tempdir().unwrap();
    let (b, b_pub) = keygen(tmp.path(), "release-admin-b");
    let r = DemoRepo::init_with(&[
        "--key",
        &format!("targets={}", b_pub.display()),
        "--threshold",
        "targets=2",
    ]);
    r.add("1.0.0", "armv7").ok();
    // Admin A signs: staged, not published.
    let a = run_repo(&[&"sign", &r.path, &"--key", &example_key("targets.pem")])
        .unfinished("targets is signed by fewer keys than its threshold");
    assert!(
        a.stdout.contains("still needs 1 more signature(s)"),
        "{a:#?}"
    );
    // Admin B signs a copy of the folder, on another machine.
    let copy = tmp.path().join("copy");
    assert!(Command::new("cp")
        .arg("-a")
        .arg(&r.path)
        .arg(&copy)
        .status()
        .unwrap()
        .success());
    run_repo(&[&"sign", &copy, &"--key", &b])
        .unfinished("targets version 1 is published but not in a snapshot");
    // Merged back, then published with the snapshot and timestamp keys.
    let merged = run_repo(&[&"merge", &r.path, &copy])
        .unfinished("targets version 1 is published but not in a snapshot");
    // One signature each for the release's slot and the top-level targets.
    assert!(
        merged.stdout.contains("merged 2 signature(s)"),
        "{merged:#?}"
    );
    run_repo(&[
        &"sign",
        &r.path,
        &"--key",
        &example_key("snapshot.pem"),
        &"--key",
        &example_key("timestamp.pem"),
    ])
    .ok();
    r.verify(&[]).ok();
    let targets = read_json(&r.metadata("1.targets.json"));
    assert_eq!(targets["signatures"].as_array().unwrap().len(), 2);
    let server = StaticServer::start(&r.public());
    Device::trusting(&r.root_json())
        .download(&[&server.url()], &["releases/1.0.0/armv7/app.bin"], &[])
        .ok();
}

#[test]
fn remove_key_takes_only_an_unambiguous_key_id_prefix_of_eight_or_more() {
    let r = DemoRepo::signed();
    let keys = tempfile::tempdir().unwrap();
    let (_t2, t2_pub) = keygen(keys.path(), "timestamp-2");
    let root = read_json(&r.metadata("1.root.json"));
    let key_of = |role: &str| {
        root["signed"]["roles"][role]["keyids"][0]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let timestamp_id = key_of("timestamp");
    let targets_id = key_of("targets");
    let add = format!("timestamp={}", t2_pub.display());
    let edit = |remove: &str| {
        run_repo(&[
            &"root",
            &"edit",
            &r.path,
            &"--add-key",
            &add,
            &"--remove-key",
            &format!("timestamp={remove}"),
        ])
    };
    // Where a removal would land: staged/root.json and repo.toml's key names, in the
    // repository folder; the whole temporary folder around it is compared.
    let before = tree_state(r.tmp.path());

    // Four characters would match any key that happens to share them: refused, with the
    // ids it matches listed.
    let short = &timestamp_id[..4];
    edit(short).fails_with(
        2,
        &format!("error: key id prefix \"{short}\" is too short: give at least 8 hex characters of the key id, or the key file (timestamp keys it matches: {timestamp_id})\n"),
    );
    assert_eq!(
        before,
        tree_state(r.tmp.path()),
        "a refused edit changed files"
    );

    // Eight characters of another role's key: not a timestamp key.
    let other = &targets_id[..8];
    edit(other).fails_with(2, &format!("error: {other} is not a timestamp key\n"));
    assert_eq!(
        before,
        tree_state(r.tmp.path()),
        "a refused edit changed files"
    );

    // Eight characters of the timestamp key remove exactly it.
    edit(&timestamp_id[..8]).ok();
    let staged = read_json(&r.path.join("staged/root.json"));
    let ids = staged["signed"]["roles"]["timestamp"]["keyids"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_ne!(ids[0].as_str(), Some(timestamp_id.as_str()));
}
