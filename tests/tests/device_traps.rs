//! Device traps (issue 16): a plain-file artifact keeps the mode `repo add` recorded, a
//! release that failed here is shown blocked by `plan` until `updater retry`, `updater hold`
//! keeps a device where it is (after a `rollback` too) until `updater unhold`, and
//! `repo remove` unstages a release added by mistake.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use e2e_tests::{
    apply, changed_paths, plan_json, policy_for, publish_policy, repo, scene, tree_state, DemoRepo,
    Device, Run, Scene,
};

/// `updater --config CONFIG ARGS...` on `device`.
fn updater(device: &Device, config: &Path, args: &[&str]) -> Run {
    let mut all: Vec<&OsStr> = vec!["--config".as_ref(), config.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    device.updater(&all)
}

/// Signs what is staged with every example key but root's.
fn sign_all(r: &DemoRepo) {
    r.sign_all().ok();
}

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn an_executable_script_shipped_as_a_file_runs_and_data_stays_0644() {
    let marks = tempfile::tempdir().unwrap();
    let ran = marks.path().join("check-ran");
    let s = scene(&policy_for("1.0.0", ""), "");
    // The health check runs the release's own script, directly (no `sh` in front): it
    // can only run if it was installed executable.
    let check = s.device.install_dir().join("current/check.sh");
    let toml = format!(
        "\n[install]\nhealth_check = [\"{}\"]\ntimeout = \"5s\"\n",
        check.display()
    );
    let config = s.config.with_file_name("traps.toml");
    std::fs::write(&config, std::fs::read_to_string(&s.config).unwrap() + &toml).unwrap();

    let tmp = tempfile::tempdir().unwrap();
    let release = tmp.path().join("3.0.0");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(
        release.join("check.sh"),
        format!("#!/bin/sh\necho ok > {}\n", ran.display()),
    )
    .unwrap();
    std::fs::set_permissions(release.join("check.sh"), PermissionsExt::from_mode(0o755)).unwrap();
    // A data file writable by all and setuid at the source: installed 0644 all the same.
    std::fs::write(release.join("data.txt"), b"data\n").unwrap();
    std::fs::set_permissions(release.join("data.txt"), PermissionsExt::from_mode(0o4666)).unwrap();
    s.repo.add_dir(&release, "3.0.0", "armv7").ok();
    s.repo.set_policy(&policy_for("3.0.0", "")).ok();
    sign_all(&s.repo);

    // The signed index records the modes.
    let listed = s.repo.listed_targets();
    let mode = |name: &str| listed[name]["custom"]["mode"].clone();
    assert_eq!(mode("releases/3.0.0/armv7/check.sh"), "0755");
    assert_eq!(mode("releases/3.0.0/armv7/data.txt"), "0644");

    let run = apply(&s.device, &config).ok();
    assert!(run.stdout.contains("installed 3.0.0"), "{run:#?}");
    assert_eq!(std::fs::read_to_string(&ran).unwrap(), "ok\n");
    let current = s.device.install_dir().join("current");
    assert_eq!(mode_of(&current.join("check.sh")), 0o755);
    assert_eq!(mode_of(&current.join("data.txt")), 0o644);

    // A mode change is a content change: adding the release again with check.sh no longer
    // executable is refused, and nothing changes.
    std::fs::set_permissions(release.join("check.sh"), PermissionsExt::from_mode(0o644)).unwrap();
    let before = tree_state(s.repo.tmp.path());
    s.repo.add_dir(&release, "3.0.0", "armv7").fails_with(
        2,
        "release 3.0.0 for armv7 is already in the index with different content \
         (releases/3.0.0/armv7/check.sh has a different mode (0644 now, 0755 in the index)); \
         releases never change: add it under a new release number",
    );
    assert_eq!(
        changed_paths(&before, &tree_state(s.repo.tmp.path())),
        Vec::<String>::new()
    );
    // The same modes again: a no-op.
    std::fs::set_permissions(release.join("check.sh"), PermissionsExt::from_mode(0o755)).unwrap();
    let run = s.repo.add_dir(&release, "3.0.0", "armv7").ok();
    assert!(run.stdout.contains("nothing changed"), "{run:#?}");
    assert_eq!(
        changed_paths(&before, &tree_state(s.repo.tmp.path())),
        Vec::<String>::new()
    );
}

/// A scene whose device installed 1.0.0 and then failed 2.0.0's health check.
fn failed_scene() -> Scene {
    let s = scene(
        &policy_for("1.0.0", ""),
        "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \"grep -q 1.0.0 current/app.bin\"]\ntimeout = \"5s\"\n",
    );
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    apply(&s.device, &s.config).fails_with(1, "release 2.0.0 failed its health check");
    s
}

#[test]
fn plan_shows_a_failed_release_blocked_until_retry_clears_it() {
    // Nothing to clear on a device that never failed: said, exit 0, nothing written.
    let fresh = scene(&policy_for("1.0.0", ""), "");
    let before = fresh.device.state();
    let run = updater(&fresh.device, &fresh.config, &["retry"]).ok();
    assert_eq!(
        run.stdout,
        "nothing to clear: no release is blocked on this device\n"
    );
    assert_eq!(
        changed_paths(&before, &fresh.device.state()),
        Vec::<String>::new()
    );

    let s = failed_scene();
    let plan = plan_json(&s.device, &s.config);
    assert_eq!(plan["action"], "stay", "{plan}");
    assert_eq!(plan["waiting_for"], "failed", "{plan}");
    assert_eq!(plan["release"], "2.0.0", "{plan}");
    assert_eq!(plan["unblock"], "updater retry", "{plan}");
    let since = plan["blocked_since"].as_str().expect("a time").to_owned();
    assert_eq!(
        plan["reason"],
        format!(
            "staying on 1.0.0: 2.0.0 failed on this device at {since} (health check failed: \
             exited with exit status: 1); it is not tried again until the policy changes, or \
             until `updater retry` clears the block on this device"
        ),
        "{plan}"
    );
    let text = updater(&s.device, &s.config, &["plan"]).ok();
    assert!(
        text.stdout
            .contains(&format!("2.0.0 failed on this device at {since}")),
        "{text:#?}"
    );

    let run = updater(&s.device, &s.config, &["retry"]).ok();
    assert_eq!(
        run.stdout,
        format!(
            "cleared the block on 2.0.0: it failed on this device at {since} (health check \
             failed: exited with exit status: 1); the next apply tries it again\n"
        )
    );
    let plan = plan_json(&s.device, &s.config);
    assert_eq!(
        (&plan["action"], &plan["unblock"]),
        (&"install".into(), &serde_json::Value::Null),
        "{plan}"
    );
    // The next apply tries 2.0.0 again (and it fails again, blocked again).
    apply(&s.device, &s.config).fails_with(1, "release 2.0.0 failed its health check");
    assert_eq!(s.device.running().as_deref(), Some("1.0.0"));
    assert_eq!(plan_json(&s.device, &s.config)["waiting_for"], "failed");
}

#[test]
fn hold_keeps_a_device_where_it_is_until_unhold() {
    let s = scene(&policy_for("1.0.0", ""), "");
    apply(&s.device, &s.config).ok();
    let run = updater(&s.device, &s.config, &["hold", "--reason", "field trial"]).ok();
    assert!(run.stdout.starts_with("held on 1.0.0 since "), "{run:#?}");
    publish_policy(&s.repo, &policy_for("2.0.0", ""));

    let plan = plan_json(&s.device, &s.config);
    assert_eq!(plan["action"], "stay", "{plan}");
    assert_eq!(plan["waiting_for"], "hold", "{plan}");
    assert_eq!(plan["hold_reason"], "field trial", "{plan}");
    assert_eq!(plan["unblock"], "updater unhold", "{plan}");
    let since = plan["blocked_since"].as_str().expect("a time").to_owned();
    let stay = format!(
        "staying on 1.0.0: held since {since}: field trial (the policy would move it to \
         2.0.0); `updater unhold` lets it move"
    );
    assert_eq!(plan["reason"], stay.as_str(), "{plan}");
    // Across applies: nothing installed, nothing downloaded, the releases folder as it was.
    let releases = s.device.install_dir().join("releases");
    let before = tree_state(&releases);
    for _ in 0..2 {
        let run = apply(&s.device, &s.config).ok();
        assert_eq!(run.stdout, format!("{stay}\n"));
        assert_eq!(s.device.running().as_deref(), Some("1.0.0"));
    }
    assert_eq!(
        changed_paths(&before, &tree_state(&releases)),
        Vec::<String>::new()
    );

    let run = updater(&s.device, &s.config, &["unhold"]).ok();
    assert_eq!(
        run.stdout,
        format!("released the hold since {since}: field trial; the next apply follows the policy again\n")
    );
    let run = updater(&s.device, &s.config, &["unhold"]).ok();
    assert_eq!(run.stdout, "nothing to release: this device is not held\n");
    apply(&s.device, &s.config).ok();
    assert_eq!(s.device.running().as_deref(), Some("2.0.0"));
}

#[test]
fn rollback_then_hold_stays_on_the_older_release() {
    let s = scene(&policy_for("1.0.0", ""), "");
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    apply(&s.device, &s.config).ok();
    let run = updater(&s.device, &s.config, &["rollback"]).ok();
    assert_eq!(
        run.stdout,
        "rolled back: now running 1.0.0\nthe next apply moves to the policy's target again; \
         `updater hold --reason TEXT` keeps this device on 1.0.0\n"
    );
    updater(
        &s.device,
        &s.config,
        &["hold", "--reason", "2.0.0 breaks the scanner"],
    )
    .ok();
    for _ in 0..2 {
        let run = apply(&s.device, &s.config).ok();
        assert!(run.stdout.contains("held since"), "{run:#?}");
        assert_eq!(s.device.running().as_deref(), Some("1.0.0"));
    }
    // Without the hold, the next apply undoes the rollback (what the hint warns of).
    updater(&s.device, &s.config, &["unhold"]).ok();
    apply(&s.device, &s.config).ok();
    assert_eq!(s.device.running().as_deref(), Some("2.0.0"));
}

/// `repo remove REPO --release R [--platform P]`.
fn remove(r: &DemoRepo, release: &str, platform: Option<&str>) -> Run {
    let mut args: Vec<&OsStr> = vec![
        "remove".as_ref(),
        r.path.as_os_str(),
        "--release".as_ref(),
        release.as_ref(),
    ];
    if let Some(platform) = platform {
        args.extend([OsStr::new("--platform"), OsStr::new(platform)]);
    }
    repo(args)
}

#[test]
fn repo_remove_leaves_the_repository_as_before_add() {
    let r = DemoRepo::signed();
    // The whole temporary folder: the repository and where anything it leaked would land.
    let before = tree_state(r.tmp.path());
    r.add("2.0.0", "armv7").ok();
    let armv7_only = tree_state(r.tmp.path());
    r.add("2.0.0", "x86_64").ok();

    let run = remove(&r, "2.0.0", Some("x86_64")).ok();
    assert_eq!(
        run.stdout,
        "unstaged release 2.0.0 for x86_64: 4 file(s) removed; the repository is as it was before `repo add`\n"
    );
    assert_eq!(
        changed_paths(&armv7_only, &tree_state(r.tmp.path())),
        Vec::<String>::new()
    );
    let run = remove(&r, "2.0.0", None).ok();
    assert!(
        run.stdout
            .starts_with("unstaged release 2.0.0 for armv7: 4 file(s)"),
        "{run:#?}"
    );
    assert_eq!(
        changed_paths(&before, &tree_state(r.tmp.path())),
        Vec::<String>::new()
    );

    // Staged again and signed: the same release publishes as if never removed.
    r.add("2.0.0", "armv7").ok();
    r.sign().ok();
    r.verify(&[]).ok();
}

#[test]
fn repo_remove_refuses_a_published_or_unstaged_release_and_changes_nothing() {
    let r = DemoRepo::signed();
    // 1.0.0 is published; 2.0.0 is staged for armv7 only.
    r.add("2.0.0", "armv7").ok();
    let before = tree_state(r.tmp.path());
    let retire = format!("`repo retire {} --release 1.0.0`", r.path.display());
    for (release, platform, refusal) in [
        (
            "1.0.0",
            None,
            format!("release 1.0.0 is published: releases never change, so it cannot be unstaged; {retire} stages it to leave the catalogue"),
        ),
        (
            "1.0.0",
            Some("armv7"),
            format!("release 1.0.0 is published: releases never change, so it cannot be unstaged; {retire} stages it to leave the catalogue"),
        ),
        (
            "3.0.0",
            None,
            "release 3.0.0 is not staged: nothing to remove (`repo status` lists what is staged)".to_owned(),
        ),
        (
            "2.0.0",
            Some("x86_64"),
            "release 2.0.0 has no staged files for platform x86_64: nothing to remove (its staged platforms: armv7)".to_owned(),
        ),
    ] {
        remove(&r, release, platform).fails_with(2, &refusal);
        assert_eq!(
            changed_paths(&before, &tree_state(r.tmp.path())),
            Vec::<String>::new(),
            "{release} {platform:?}"
        );
    }
}
