//! `updater apply`: releases installed atomically from a served repository, health checks
//! that roll back, hostile bundles refused, revoked releases left, a full disk reported, and
//! the service following the policy. Installs killed part-way are in `install_killed.rs`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use e2e_tests::{
    apply, assert_current_complete, example_key, expected_tree, policy_for, publish_policy, scene,
    spawn_run, Scene, Tmpfs,
};
use updater::datetime::UtcTime;

#[test]
fn installs_release_1_then_2_and_keeps_1_for_rollback() {
    let s = scene(&policy_for("1.0.0", ""), "");
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout.contains("installed 1.0.0, was nothing"),
        "{run:#?}"
    );
    assert_eq!(assert_current_complete(&s.device), "1.0.0");

    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout.contains("installed 2.0.0, was 1.0.0"),
        "{run:#?}"
    );
    assert_eq!(assert_current_complete(&s.device), "2.0.0");
    let status = s
        .device
        .updater(&[
            "--config".as_ref(),
            s.config.as_os_str(),
            "status".as_ref(),
            "--json".as_ref(),
        ])
        .ok();
    let state: serde_json::Value = serde_json::from_str(status.stdout.trim()).unwrap();
    assert_eq!(state["running"], "2.0.0");
    assert_eq!(state["previous"], "1.0.0");

    // Nothing new: nothing changes.
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout.contains("running 2.0.0, the channel's target"),
        "{run:#?}"
    );

    // By hand, back to 1.0.0.
    s.device
        .updater(&[
            "--config".as_ref(),
            s.config.as_os_str(),
            "rollback".as_ref(),
        ])
        .ok();
    assert_eq!(assert_current_complete(&s.device), "1.0.0");
}

fn health_check_rolls_back(check: &str, reason: &str) {
    let marks = tempfile::tempdir().unwrap();
    let rolled = marks.path().join("rolled-back");
    let flashed = marks.path().join("flashed");
    let toml = format!(
        "\n[install]\nhealth_check = {check}\ntimeout = \"2s\"\n\
         post_rollback = [\"/bin/sh\", \"-c\", \"echo $UPDATER_FAILED_RELEASE >> {}\"]\n\
         installer = [\"/bin/sh\", \"-c\", \"basename $0 >> {}\"]\n",
        rolled.display(),
        flashed.display()
    );
    let s = scene(&policy_for("1.0.0", ""), &toml);
    // 1.0.0 passes (the check looks for its marker); 2.0.0 does not.
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    let run = apply(&s.device, &s.config).fails_with(
        1,
        &format!(
            "release 2.0.0 failed its health check and was rolled back: health check {reason}"
        ),
    );
    let _ = run;
    assert_eq!(assert_current_complete(&s.device), "1.0.0");
    assert!(!s.device.install_dir().join("journal.json").exists());
    // The post-rollback hook ran once, for 2.0.0; the installer hook saw every `file`
    // artifact of both releases (app.bin, firmware.img, data.txt).
    assert_eq!(std::fs::read_to_string(&rolled).unwrap(), "2.0.0\n");
    let seen = std::fs::read_to_string(&flashed).unwrap();
    assert_eq!(
        seen.lines().filter(|l| *l == "firmware.img").count(),
        2,
        "{seen}"
    );
    assert_eq!(seen.lines().count(), 6, "{seen}");

    // Not tried again under the same policy.
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout.contains("2.0.0 failed on this device")
            && run
                .stdout
                .contains("not tried again until the policy changes"),
        "{run:#?}"
    );
    assert_eq!(s.device.running().as_deref(), Some("1.0.0"));
    assert_plan_says_failed(&s.device, &s.config);

    // A new policy (here: the same target, re-issued) allows another try.
    publish_policy(&s.repo, &policy_for("2.0.0", "<!-- re-issued -->"));
    let run = apply(&s.device, &s.config);
    assert!(run.stderr.contains("failed its health check"), "{run:#?}");
}

/// `plan` announces what `apply` did: stay, waiting for a new policy because 2.0.0 failed.
fn assert_plan_says_failed(device: &e2e_tests::Device, config: &Path) {
    let plan = device
        .updater(&[
            "--config".as_ref(),
            config.as_os_str(),
            "plan".as_ref(),
            "--json".as_ref(),
        ])
        .ok();
    let plan: serde_json::Value = serde_json::from_str(plan.stdout.trim()).unwrap();
    assert_eq!(
        (
            &plan["action"],
            &plan["release"],
            &plan["at"],
            &plan["waiting_for"]
        ),
        (
            &"stay".into(),
            &"2.0.0".into(),
            &serde_json::Value::Null,
            &"failed".into()
        ),
        "{plan}"
    );
    assert!(
        plan["reason"]
            .as_str()
            .unwrap()
            .contains("2.0.0 failed on this device"),
        "{plan}"
    );
}

#[test]
fn a_failing_health_check_rolls_back() {
    // Passes only where current/app.bin mentions 1.0.0.
    health_check_rolls_back(
        r#"["/bin/sh", "-c", "grep -q 1.0.0 current/app.bin"]"#,
        "failed: exited with exit status: 1",
    );
}

#[test]
fn a_hanging_health_check_rolls_back() {
    health_check_rolls_back(
        r#"["/bin/sh", "-c", "grep -q 1.0.0 current/app.bin || sleep 60"]"#,
        "failed: timed out after 2s",
    );
}

/// Builds a release folder holding `bundle.tar` made by python's tarfile from `script`.
fn hostile_release(dir: &Path, script: &str) -> PathBuf {
    let release = dir.join("release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(release.join("app.bin"), b"3.0.0\n").unwrap();
    let code = format!(
        "import io, tarfile\nt = tarfile.open({:?}, 'w')\n{script}\nt.close()\n",
        release.join("bundle.tar").display().to_string()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:#?}");
    release
}

#[test]
fn hostile_bundles_are_refused_and_nothing_changes() {
    let file = "i = tarfile.TarInfo('{name}'); i.size = 1; t.addfile(i, io.BytesIO(b'x'))";
    let cases = [
        (file.replace("{name}", "../x"), "bundle entry \"../x\": \"..\" is not allowed"),
        (file.replace("{name}", "/etc/x"), "bundle entry \"/etc/x\": absolute paths are not allowed"),
        (
            "i = tarfile.TarInfo('etc'); i.type = tarfile.SYMTYPE; i.linkname = '/etc'; t.addfile(i)".to_owned(),
            "bundle entry \"etc\": symlink to \"/etc\" leaves the release folder",
        ),
        (
            "i = tarfile.TarInfo('passwd'); i.type = tarfile.LNKTYPE; i.linkname = '../../../etc/passwd'; t.addfile(i)".to_owned(),
            "bundle entry \"passwd\": hard link target: \"..\" is not allowed",
        ),
        (
            "i = tarfile.TarInfo('null'); i.type = tarfile.CHRTYPE; i.devmajor = 1; i.devminor = 3; t.addfile(i)".to_owned(),
            "bundle entry \"null\": device files are not allowed",
        ),
    ];
    let s = scene(&policy_for("1.0.0", ""), "");
    apply(&s.device, &s.config).ok();
    for (i, (script, refusal)) in cases.iter().enumerate() {
        let release = format!("3.0.{i}");
        let tmp = tempfile::tempdir().unwrap();
        let dir = hostile_release(tmp.path(), script);
        s.repo.add_dir(&dir, &release, "armv7").ok();
        s.repo
            .sign_with(&[
                example_key("targets.pem"),
                example_key("snapshot.pem"),
                example_key("timestamp.pem"),
            ])
            .ok();
        publish_policy(&s.repo, &policy_for(&release, ""));
        let before = e2e_tests::tree_state(&s.device.install_dir().join("releases"));
        apply(&s.device, &s.config).fails_with(1, refusal);
        assert_eq!(assert_current_complete(&s.device), "1.0.0");
        assert_eq!(
            before,
            e2e_tests::tree_state(&s.device.install_dir().join("releases"))
        );
        assert!(!s
            .device
            .install_dir()
            .join(".staging")
            .join(&release)
            .exists());
        assert!(!s.device.install_dir().join("journal.json").exists());
    }
}

#[test]
fn links_to_missing_folders_are_repaired_and_rollback_refuses_to_point_at_nothing() {
    let s = scene(&policy_for("1.0.0", ""), "");
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    apply(&s.device, &s.config).ok();
    let install = s.device.install_dir();
    // `previous` names a folder that is gone: rollback must not point `current` at it.
    std::fs::remove_dir_all(install.join("releases/1.0.0")).unwrap();
    let run = s.device.updater(&[
        "--config".as_ref(),
        s.config.as_os_str(),
        "rollback".as_ref(),
    ]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stdout
            .contains("previous named 1.0.0, whose folder is missing")
            && run
                .stderr
                .contains("there is no previous release to roll back to"),
        "{run:#?}"
    );
    assert_eq!(s.device.running().as_deref(), Some("2.0.0"));
    // `current` names a folder that is gone: the next apply installs afresh, not
    // "nothing to do".
    std::fs::remove_dir_all(install.join("releases/2.0.0")).unwrap();
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout
            .contains("current named 2.0.0, whose folder is missing")
            && run.stdout.contains("installed 2.0.0, was nothing"),
        "{run:#?}"
    );
    assert_eq!(assert_current_complete(&s.device), "2.0.0");
}

#[test]
fn status_only_reads_and_downloads_are_pruned_after_an_install() {
    let s = scene(&policy_for("1.0.0", ""), "");
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    apply(&s.device, &s.config).ok();
    let state = s.device.install_dir().join("state.json");
    let before = (
        std::fs::read(&state).unwrap(),
        std::fs::metadata(&state).unwrap(),
    );
    s.device
        .updater(&["--config".as_ref(), s.config.as_os_str(), "status".as_ref()])
        .ok();
    let after = std::fs::metadata(&state).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(std::fs::read(&state).unwrap(), before.0);
    assert_eq!(
        (after.ino(), after.mtime(), after.mtime_nsec()),
        (before.1.ino(), before.1.mtime(), before.1.mtime_nsec()),
        "status rewrote state.json"
    );
    let downloads = s.device.target_dir.clone();
    let left: Vec<_> = std::fs::read_dir(&downloads)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        left.is_empty(),
        "downloads kept after the install: {left:?}"
    );
}

#[test]
fn a_revoked_release_is_left_at_once_and_the_window_defers_other_installs() {
    // A window that is closed now (it opened and closed hours ago, every day).
    let now = UtcTime::now();
    let hour = (now.unix().rem_euclid(86_400) / 3600 + 12) % 24;
    let window = format!("<window from=\"{hour:02}:00\" to=\"{:02}:30\"/>", hour);
    let xml = policy_for("1.0.0", "").replace("<channel", &format!("{window}\n  <channel"));
    let s = scene(&xml, "");
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout.contains("when the install window opens"),
        "{run:#?}"
    );
    assert!(
        run.stdout
            .contains("downloaded and verified, installing then"),
        "{run:#?}"
    );
    assert_eq!(s.device.running(), None);
    assert!(
        std::fs::read_dir(&s.device.target_dir).unwrap().count() >= 4,
        "downloads"
    );

    // Revoking the release it would run makes no difference to the window, but a device
    // running a revoked release moves at once: put 1.0.0 in place by hand, revoke it.
    let installed = s.device.install_dir().join("releases/1.0.0");
    for (file, bytes) in expected_tree("1.0.0") {
        let dest = installed.join(&file);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::write(dest, bytes).unwrap();
    }
    std::os::unix::fs::symlink("releases/1.0.0", s.device.install_dir().join("current")).unwrap();
    let revoked = policy_for("2.0.0", "<revoked release=\"1.0.0\"/>")
        .replace("<channel", &format!("{window}\n  <channel"));
    publish_policy(&s.repo, &revoked);
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout
            .contains("running revoked 1.0.0; moving to 2.0.0 now"),
        "{run:#?}"
    );
    assert_eq!(assert_current_complete(&s.device), "2.0.0");
}

/// Adds release `release` for armv7 from a folder `fill` writes, and targets it.
fn add_release(s: &Scene, release: &str, fill: impl FnOnce(&Path)) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("release");
    std::fs::create_dir_all(&dir).unwrap();
    fill(&dir);
    s.repo.add_dir(&dir, release, "armv7").ok();
    s.repo
        .sign_with(&[
            example_key("targets.pem"),
            example_key("snapshot.pem"),
            example_key("timestamp.pem"),
        ])
        .ok();
    publish_policy(&s.repo, &policy_for(release, ""));
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_running_release_stays() {
    let s = scene(&policy_for("1.0.0", ""), "");
    // Downloads on a 64 KiB filesystem, the install folder on a 1 MiB one.
    let downloads = Tmpfs::mount(&s.device.target_dir, "64k");
    let install = Tmpfs::mount(&s.device.install_dir(), "1m");
    apply(&s.device, &s.config).ok();
    assert_eq!(assert_current_complete(&s.device), "1.0.0");

    // 3.0.0 holds 200 KiB: refused before a byte is downloaded.
    add_release(&s, "3.0.0", |dir| {
        std::fs::write(dir.join("big.bin"), vec![7u8; 200 * 1024]).unwrap();
    });
    let free = downloads.free();
    let run = apply(&s.device, &s.config).fails_with(1, "not enough free space in");
    assert!(run.stderr.contains("204800 bytes needed"), "{run:#?}");
    assert_eq!(downloads.free(), free);
    assert_eq!(assert_current_complete(&s.device), "1.0.0");

    // 4.0.0 is small to download but unpacks to 2 MiB: the disk fills while unpacking.
    add_release(&s, "4.0.0", |dir| {
        let code = format!(
            "import io, tarfile\nt = tarfile.open({:?}, 'w:gz')\ni = tarfile.TarInfo('zeros')\ni.size = 2 << 20\nt.addfile(i, io.BytesIO(bytes(2 << 20)))\nt.close()\n",
            dir.join("bundle.tar.gz").display().to_string()
        );
        let out = Command::new("python3")
            .arg("-c")
            .arg(code)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:#?}");
    });
    let free = install.free();
    let run = apply(&s.device, &s.config).fails_with(1, "No space left on device");
    assert!(run.stderr.contains(".staging/4.0.0/zeros"), "{run:#?}");
    assert_eq!(assert_current_complete(&s.device), "1.0.0");
    assert!(!s.device.install_dir().join(".staging/4.0.0").exists());
    assert!(!s.device.install_dir().join("journal.json").exists());
    // The space is given back (state.json may have grown by a page for the error).
    assert!(
        install.free() + 4096 >= free,
        "{} of {free} free",
        install.free()
    );
}

#[test]
fn the_service_installs_what_the_policy_asks_for() {
    let s = scene(
        &policy_for("1.0.0", "").replace("<channel", "<check every=\"1s\"/>\n  <channel"),
        "",
    );
    let mut child = spawn_run(&s.config);
    let deadline = Instant::now() + Duration::from_secs(60);
    while s.device.running().as_deref() != Some("1.0.0") {
        assert!(
            Instant::now() < deadline,
            "the service never installed 1.0.0"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    publish_policy(
        &s.repo,
        &policy_for("2.0.0", "").replace("<channel", "<check every=\"1s\"/>\n  <channel"),
    );
    while s.device.running().as_deref() != Some("2.0.0") {
        assert!(
            Instant::now() < deadline,
            "the service never moved to 2.0.0"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(assert_current_complete(&s.device), "2.0.0");
}
