//! A careless release admin's mistakes with encrypted releases, through the real `repo`
//! binary: bad recipients files, the same release added again to the same or other
//! recipients, and folders encrypted beforehand that devices could not use (a passphrase
//! file, a plain file, one the admin's identity cannot open, a header too big). Each is
//! refused with its message, exit code 2, and the repository byte for byte as it was.

use std::path::PathBuf;
use std::process::Command;

use e2e_tests::{
    add_release, changed_paths, passphrase_file, repo_refuses, tree_state, AttackScene,
};

#[test]
fn a_bad_recipients_file_is_refused_by_name_and_the_repository_is_unchanged() {
    let s = AttackScene::new();
    let w = s.work.path();
    let key = &s.a.recipient;
    let file = |name: &str, text: &[u8]| {
        let path = w.join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let inline = file("inline.txt", format!("# lab\n{key} # dev-a\n").as_bytes());
    let ssh = file(
        "ssh.txt",
        b"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl a@b\n",
    );
    let empty = file("empty.txt", b"");
    let comments = file("comments.txt", b"# only comments\n\n");
    let huge = file("huge.txt", &vec![b'#'; 5 * 1024 * 1024]);
    let identity = s.a.identity.display().to_string();
    let fifo = w.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let fifo = fifo.display().to_string();
    let cases: Vec<(&str, String)> = vec![
        (
            &inline,
            format!("{inline}:2: not an age X25519 recipient (invalid Bech32 encoding); each line holds one `age1…` recipient"),
        ),
        (&ssh, format!("{ssh}:1: not an age X25519 recipient")),
        (&empty, format!("{empty} lists no recipients: a release encrypted to no one could never be installed")),
        (&comments, format!("{comments} lists no recipients")),
        (&huge, format!("{huge} is larger than 4194304 bytes")),
        // An identity file given by mistake: refused by line, its secret never printed.
        (&identity, format!("{identity}:3: not an age X25519 recipient (incorrect HRP)")),
        (&fifo, format!("cannot read the recipients file {fifo}: {fifo} is a FIFO, not a regular file: refused")),
        ("/dev/zero", "cannot read the recipients file /dev/zero: /dev/zero is a character device, not a regular file: refused".to_owned()),
    ];
    for (list, message) in &cases {
        repo_refuses(&s, &s.release, &["--encrypt-to", list], message);
    }
    repo_refuses(
        &s,
        &s.release,
        &[
            "--encrypt-to",
            s.recipients.to_str().unwrap(),
            "--already-encrypted",
            &identity,
        ],
        "the argument '--encrypt-to <FILE>' cannot be used with '--already-encrypted <IDENTITY>'",
    );
}

#[test]
fn the_same_release_to_the_same_recipients_is_a_no_op_and_to_others_is_refused() {
    let s = AttackScene::staged();
    // The same recipients, reordered, listed twice and commented otherwise: the same release.
    let same = s.work.path().join("same.txt");
    std::fs::write(
        &same,
        format!("# group A\n\n{0}\n# again\n{0}\n", s.a.recipient),
    )
    .unwrap();
    let before = tree_state(s.r.tmp.path());
    let run = add_release(
        &s.r.path,
        &s.release,
        &["--encrypt-to", same.to_str().unwrap()],
    )
    .ok();
    assert!(run.stdout.contains("nothing changed"), "{run:#?}");
    assert_eq!(
        changed_paths(&before, &tree_state(s.r.tmp.path())),
        Vec::<String>::new()
    );
    // Another recipient added (device c), or no encryption at all: a change, refused.
    let more = s.work.path().join("more.txt");
    std::fs::write(&more, format!("{}\n{}\n", s.a.recipient, s.c.recipient)).unwrap();
    let changed = "release 2.0.0 for armv7 is already in the index with different content (releases/2.0.0/armv7/app.bin has different bytes or recipients); releases never change";
    repo_refuses(
        &s,
        &s.release,
        &["--encrypt-to", more.to_str().unwrap()],
        changed,
    );
    repo_refuses(&s, &s.release, &[], changed);
}

/// An age file `body` would be, in a folder of its own beside the scene.
fn sealed_folder(s: &AttackScene, name: &str, file: &str, bytes: &[u8]) -> PathBuf {
    let dir = s.work.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(file), bytes).unwrap();
    dir
}

/// An age header of `stanzas` X25519 stanzas (random shares and bodies), unfinished: what
/// the header scan reads before it gives up.
fn stanzas(count: usize) -> Vec<u8> {
    let mut header = b"age-encryption.org/v1\n".to_vec();
    for i in 0..count {
        let line = format!("{i:0>43}");
        header.extend_from_slice(format!("-> X25519 {line}\n{line}\n").as_bytes());
    }
    header
}

#[test]
fn files_encrypted_beforehand_that_devices_cannot_use_are_refused_and_the_repository_is_unchanged()
{
    let s = AttackScene::new();
    let escrow = s.a.identity.to_str().unwrap();
    let app = std::fs::read(s.release.join("app.bin")).unwrap();
    let pw = sealed_folder(&s, "pw", "app.bin.age", &passphrase_file(&app));
    repo_refuses(
        &s,
        &pw,
        &["--already-encrypted", escrow],
        &format!(
            "error: reading {}: it is encrypted to a \"scrypt\" recipient; devices decrypt only with X25519 identities (age1… recipients)",
            pw.join("app.bin.age").display()
        ),
    );
    let plain = sealed_folder(&s, "plain", "app.bin", &app);
    repo_refuses(
        &s,
        &plain,
        &["--already-encrypted", escrow],
        "not an age file (it does not start with age-encryption.org/v1)",
    );
    // Made for device c only: the admin's identity (here a's) cannot record the plaintext.
    let other = s.work.path().join("other.age");
    let made = Command::new("age")
        .arg("-r")
        .arg(&s.c.recipient)
        .arg("-o")
        .arg(&other)
        .arg(s.release.join("app.bin"))
        .output()
        .unwrap();
    assert!(made.status.success(), "{made:#?}");
    let other = sealed_folder(&s, "other", "app.bin.age", &std::fs::read(other).unwrap());
    repo_refuses(
        &s,
        &other,
        &["--already-encrypted", escrow],
        "the identity given cannot open it: encrypt the release to its recipient too",
    );
    // 50,000 stanzas (5 MiB of header): more than a device should try its identity on.
    let huge = sealed_folder(&s, "huge", "app.bin.age", &stanzas(50_000));
    repo_refuses(
        &s,
        &huge,
        &["--already-encrypted", escrow],
        &format!(
            "error: reading {}: its age header is larger than 1048576 bytes (room for about 10000 recipients): encrypt the release to fewer recipients",
            huge.join("app.bin.age").display()
        ),
    );
}
