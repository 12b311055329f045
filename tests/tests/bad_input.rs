//! Bad input gets a clear error and leaves the repository exactly as it was: the whole
//! tree (names, modes, bytes) is compared before and after.

use std::path::Path;

use e2e_tests::{example_key, fixture_release, init_args, repo, tree_state, DemoRepo, Run};

/// Runs `action` on a signed repository with a staged second release, and checks that it
/// fails with `needle` in its message and changes nothing.
fn refused_without_change(needle: &str, action: impl FnOnce(&DemoRepo, &Path) -> Run) {
    let r = DemoRepo::signed();
    r.add("2.0.0", "armv7").ok();
    let before = tree_state(&r.path);
    let scratch = tempfile::tempdir().unwrap();
    action(&r, scratch.path()).fails_with(2, needle);
    assert_eq!(tree_state(&r.path), before, "the repository changed");
}

#[test]
fn missing_release_folder() {
    refused_without_change("cannot read", |r, scratch| {
        r.add_dir(&scratch.join("no-such-dir"), "3.0.0", "armv7")
    });
}

#[test]
fn release_folder_that_is_a_file() {
    refused_without_change("is not a folder", |r, _| {
        r.add_dir(
            &fixture_release("1.0.0", "armv7").join("app.bin"),
            "3.0.0",
            "armv7",
        )
    });
}

#[test]
fn release_folder_holding_a_fifo() {
    refused_without_change("is not a regular file", |r, scratch| {
        let dir = scratch.join("release");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("app.bin"), b"app").unwrap();
        let fifo = dir.join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        r.add_dir(&dir, "3.0.0", "armv7")
    });
}

#[test]
fn symlink_pointing_outside_the_release_folder() {
    refused_without_change("points outside", |r, scratch| {
        let dir = scratch.join("release");
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("app.bin"), b"app").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", dir.join("passwd")).unwrap();
        r.add_dir(&dir, "3.0.0", "armv7")
    });
}

#[test]
fn symlink_inside_the_release_folder_is_followed() {
    let r = DemoRepo::init();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("release");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("app.bin"), b"app").unwrap();
    std::os::unix::fs::symlink("app.bin", dir.join("app-latest.bin")).unwrap();
    r.add_dir(&dir, "3.0.0", "armv7").ok();
    r.sign().ok();
    r.verify(&[]).ok();
}

#[test]
fn symlink_to_a_folder_inside_the_release_folder_is_followed() {
    let r = DemoRepo::init();
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("release");
    std::fs::create_dir_all(dir.join("lib.1")).unwrap();
    std::fs::write(dir.join("lib.1/a.so"), b"a").unwrap();
    std::os::unix::fs::symlink("lib.1", dir.join("lib")).unwrap();
    r.add_dir(&dir, "3.0.0", "armv7").ok();
    r.sign().ok();
    r.verify(&[]).ok();
    let index = r.listed_targets();
    let names: Vec<&String> = index.keys().collect();
    assert_eq!(
        names,
        [
            "releases/3.0.0/armv7/lib.1/a.so",
            "releases/3.0.0/armv7/lib/a.so"
        ]
    );
}

#[test]
fn symlink_loop_in_the_release_folder() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("release");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("sub/app.bin"), b"app").unwrap();
    std::os::unix::fs::symlink("..", dir.join("sub/up")).unwrap();
    let expected = format!(
        "error: symlink {} leads back to {}, a folder that holds it; a release cannot hold \
         itself: remove the link\n",
        dir.join("sub/up").display(),
        dir.canonicalize().unwrap().display()
    );
    refused_without_change(&expected, |r, _| r.add_dir(&dir, "3.0.0", "armv7"));
}

#[test]
fn empty_folder_in_the_release_folder() {
    let scratch = tempfile::tempdir().unwrap();
    let dir = scratch.path().join("release");
    std::fs::create_dir_all(dir.join("data/empty")).unwrap();
    std::fs::write(dir.join("app.bin"), b"app").unwrap();
    let expected = format!(
        "error: {} is an empty folder; a release holds files, and an empty folder would be \
         left out without a word: remove it or put its files in it\n",
        dir.join("data/empty").display()
    );
    refused_without_change(&expected, |r, _| r.add_dir(&dir, "3.0.0", "armv7"));
}

#[test]
fn key_file_that_is_not_a_key() {
    refused_without_change("is not an ed25519 private key", |r, _| {
        r.sign_with(&[
            fixture_release("1.0.0", "armv7").join("app.bin"),
            example_key("snapshot.pem"),
            example_key("timestamp.pem"),
        ])
    });
}

#[test]
fn public_key_given_where_a_private_key_is_needed() {
    refused_without_change("is not an ed25519 private key", |r, _| {
        r.sign_with(&[
            example_key("targets.pub"),
            example_key("snapshot.pem"),
            example_key("timestamp.pem"),
        ])
    });
}

#[test]
fn key_that_root_does_not_list_for_the_role() {
    refused_without_change(
        "is not a targets, snapshot, timestamp or policy key of this repository",
        |r, scratch| {
            let stranger = scratch.join("stranger");
            repo(["keygen".as_ref(), stranger.as_os_str()]).ok();
            r.sign_with(&[
                scratch.join("stranger.pem"),
                example_key("snapshot.pem"),
                example_key("timestamp.pem"),
            ])
        },
    );
}

#[test]
fn root_key_used_to_sign_targets() {
    refused_without_change(
        "is not a targets, snapshot, timestamp or policy key",
        |r, _| {
            r.sign_with(&[
                example_key("root.pem"),
                example_key("snapshot.pem"),
                example_key("timestamp.pem"),
            ])
        },
    );
}

#[test]
fn re_adding_a_release_with_different_bytes() {
    refused_without_change("already in the index with different content", |r, _| {
        // 2.0.0's files under the name 1.0.0: same names, different bytes.
        r.add_dir(&fixture_release("2.0.0", "armv7"), "1.0.0", "armv7")
    });
}

#[test]
fn re_adding_a_release_with_an_extra_file() {
    refused_without_change("is new", |r, scratch| {
        let dir = scratch.join("release");
        std::fs::create_dir(&dir).unwrap();
        for f in ["app.bin", "firmware.img", "pre-install.sh"] {
            std::fs::copy(fixture_release("1.0.0", "armv7").join(f), dir.join(f)).unwrap();
        }
        std::fs::create_dir(dir.join("share")).unwrap();
        std::fs::copy(
            fixture_release("1.0.0", "armv7").join("share/data.txt"),
            dir.join("share/data.txt"),
        )
        .unwrap();
        std::fs::write(dir.join("extra.bin"), b"extra").unwrap();
        r.add_dir(&dir, "1.0.0", "armv7")
    });
}

#[test]
fn re_adding_the_same_release_changes_nothing() {
    let r = DemoRepo::signed();
    let before = tree_state(&r.path);
    let run = r.add("1.0.0", "armv7").ok();
    assert!(run.stdout.contains("nothing changed"), "{run:#?}");
    assert_eq!(tree_state(&r.path), before);
}

#[test]
fn bad_release_label() {
    refused_without_change("release \"../x\" must be", |r, _| {
        r.add_dir(&fixture_release("1.0.0", "armv7"), "../x", "armv7")
    });
}

#[test]
fn init_refuses_a_threshold_above_the_key_count_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("repo");
    let mut args = init_args(&path, &[]);
    args.extend(["--threshold".into(), "root=2".into()]);
    repo(&args).fails_with(2, "threshold 2 is more than its 1 key(s)");
    assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 0);
}

#[test]
fn keygen_writes_a_private_key_openssl_reads_with_mode_0600() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let stem = tmp.path().join("k");
    repo(["keygen".as_ref(), stem.as_os_str()]).ok();
    let pem = tmp.path().join("k.pem");
    assert_eq!(
        std::fs::metadata(&pem).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let out = std::process::Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&pem)
        .output()
        .unwrap();
    assert!(out.status.success(), "openssl cannot read the key");
    assert_eq!(out.stdout, std::fs::read(tmp.path().join("k.pub")).unwrap());
    // And a second keygen never overwrites a key.
    repo(["keygen".as_ref(), stem.as_os_str()]).fails_with(2, "exists");
}

#[test]
fn keys_made_by_openssl_work() {
    let tmp = tempfile::tempdir().unwrap();
    let pem = tmp.path().join("targets.pem");
    let status = std::process::Command::new("openssl")
        .args(["genpkey", "-algorithm", "ed25519", "-out"])
        .arg(&pem)
        .status()
        .unwrap();
    assert!(status.success());
    let path = tmp.path().join("repo");
    let mut args = init_args(&path, &["targets"]);
    args.push(format!("--key=targets={}", pem.display()));
    repo(&args).ok();
    let r = e2e_tests::DemoRepo { tmp, path };
    r.add("1.0.0", "armv7").ok();
    r.sign_with(&[
        pem.clone(),
        example_key("snapshot.pem"),
        example_key("timestamp.pem"),
    ])
    .ok();
    r.verify(&[]).ok();
}
