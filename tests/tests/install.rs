//! `updater apply`: releases installed atomically from a served repository, health checks
//! that roll back, hostile bundles refused, and installs killed at every step.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{bin, example_key, DemoRepo, Device, Run, StaticServer, Tmpfs};
use updater::datetime::UtcTime;

fn policy_for(release: &str, extra: &str) -> String {
    format!(
        r#"<policy>
  <channel name="stable">
    <target release="{release}" downgrade="true"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
    {extra}
  </channel>
</policy>
"#
    )
}

/// Publishes a new policy with the policy, snapshot and timestamp keys.
fn publish_policy(r: &DemoRepo, xml: &str) {
    r.set_policy(xml).ok();
    r.sign_with(&[
        example_key("policy.pem"),
        example_key("snapshot.pem"),
        example_key("timestamp.pem"),
    ])
    .ok();
}

fn apply(device: &Device, config: &Path) -> Run {
    device.updater(&["--config".as_ref(), config.as_os_str(), "apply".as_ref()])
}

/// The files of fixture release `release` for armv7, as a device should have them.
fn expected_tree(release: &str) -> Vec<(String, Vec<u8>)> {
    let base = e2e_tests::fixture_release(release, "armv7");
    let mut files: Vec<(String, Vec<u8>)> = [
        "app.bin",
        "firmware.img",
        "pre-install.sh",
        "share/data.txt",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(base.join(f)).unwrap()))
    .collect();
    files.sort();
    files
}

/// Asserts that `current` names a complete release, and returns which.
fn assert_current_complete(device: &Device) -> String {
    let release = device.running().expect("current exists");
    let dir = device.install_dir().join("current");
    for (file, bytes) in expected_tree(&release) {
        assert_eq!(
            std::fs::read(dir.join(&file)).ok().as_deref(),
            Some(&bytes[..]),
            "current ({release}) lacks a complete {file}"
        );
    }
    release
}

struct Scene {
    repo: DemoRepo,
    /// Serves `repo` for as long as the scene lives.
    _server: StaticServer,
    device: Device,
    config: PathBuf,
}

fn scene(policy: &str, install_toml: &str) -> Scene {
    let repo = DemoRepo::with_policy(policy);
    let server = StaticServer::start(&repo.public());
    let device = Device::trusting(&repo.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, install_toml);
    Scene {
        repo,
        _server: server,
        device,
        config,
    }
}

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

    // A new policy (here: the same target, re-issued) allows another try.
    publish_policy(&s.repo, &policy_for("2.0.0", "<!-- re-issued -->"));
    let run = apply(&s.device, &s.config);
    assert!(run.stderr.contains("failed its health check"), "{run:#?}");
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

/// Starts `updater --config CONFIG COMMAND` and returns the child, for killing.
fn spawn(config: &Path, command_name: &str, pause: Option<&str>) -> std::process::Child {
    let mut command = Command::new(bin("updater"));
    command
        .args(["--config"])
        .arg(config)
        .arg(command_name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(step) = pause {
        command.env("UPDATER_TEST_PAUSE", step);
    }
    command.spawn().expect("spawn updater")
}

/// Waits until the paused child says so on stderr.
fn wait_for_pause(child: &mut std::process::Child) {
    use std::io::Read;
    let mut stderr = child.stderr.take().expect("stderr");
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("paused after step") {
        assert!(
            Instant::now() < deadline,
            "never paused: {}",
            String::from_utf8_lossy(&seen)
        );
        match stderr.read(&mut byte) {
            Ok(1) => seen.push(byte[0]),
            _ => {
                let status = child.wait();
                panic!(
                    "updater ended before pausing ({status:?}): {}",
                    String::from_utf8_lossy(&seen)
                )
            }
        }
    }
}

/// What must hold at every instant, even right after a kill: `current` names a complete
/// release, and `previous`, if there, names an existing folder.
fn assert_links_sound(device: &Device, when: &str) {
    assert!(device.running().is_some(), "{when}: no current");
    let release = device.running().unwrap_or_default();
    let dir = device.install_dir().join("current");
    for (file, bytes) in expected_tree(&release) {
        assert_eq!(
            std::fs::read(dir.join(&file)).ok().as_deref(),
            Some(&bytes[..]),
            "{when}: current ({release}) lacks a complete {file}"
        );
    }
    let previous = device.install_dir().join("previous");
    if std::fs::symlink_metadata(&previous).is_ok() {
        assert!(
            std::fs::metadata(&previous).is_ok_and(|m| m.is_dir()),
            "{when}: previous ({:?}) names a missing folder",
            std::fs::read_link(&previous)
        );
    }
}

/// After the next run: no journal, no staging leftovers, and the links sound.
fn assert_settled(s: &Scene, when: &str, run: &Run) {
    assert_links_sound(&s.device, when);
    let install = s.device.install_dir();
    assert!(!install.join("journal.json").exists(), "{when}: {run:#?}");
    let staging = install.join(".staging");
    assert!(
        !staging.exists() || std::fs::read_dir(&staging).unwrap().next().is_none(),
        "{when}: staging left behind"
    );
    let releases: Vec<_> = std::fs::read_dir(install.join("releases"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(
        releases.len() <= 2,
        "{when}: unnamed releases kept: {releases:?}"
    );
}

/// A health check that passes and logs which release it judged.
fn logging_health_check(log: &Path) -> String {
    format!(
        "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \"readlink current >> {}\"]\n",
        log.display()
    )
}

/// The release the health check judged last.
fn last_judged(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .last()
        .unwrap_or_default()
        .trim_start_matches("releases/")
        .to_owned()
}

/// A xorshift stream of kill delays, seeded from the clock (printed, to replay a failure).
struct Delays(u64);

impl Delays {
    fn new() -> Self {
        let seed = UtcTime::now().unix() as u64 | 1;
        eprintln!("kill delays seeded with {seed}");
        Delays(seed)
    }

    /// A delay below `below`, to the microsecond: a rollback is over in a few
    /// milliseconds, and its window between two link changes is far shorter.
    fn next(&mut self, below: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Duration::from_micros(self.0 % below.as_micros().max(1) as u64)
    }
}

/// Kills `command` at `pause` (a step boundary) or after `delay`.
fn kill_during(s: &Scene, command: &str, pause: Option<&str>, delay: Duration) {
    let mut child = spawn(&s.config, command, pause);
    if pause.is_some() {
        wait_for_pause(&mut child);
    } else {
        std::thread::sleep(delay);
    }
    let _ = child.kill();
    child.wait().unwrap();
}

#[test]
fn apply_and_downgrade_killed_at_every_step_never_commit_an_unchecked_release() {
    let marks = tempfile::tempdir().unwrap();
    let log = marks.path().join("health.log");
    let s = scene(&policy_for("1.0.0", ""), &logging_health_check(&log));
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    apply(&s.device, &s.config).ok();
    // From here each round installs the release `previous` names: 2 -> 1 is the downgrade
    // to previous, 1 -> 2 the upgrade to it; both replace a folder a link names.
    let points = [
        "staging",
        "exchanged",
        "staged",
        "switched",
        "trial",
        "checked",
        "previous",
    ];
    let mut delays = Delays::new();
    let mut rounds = 0;
    let mut target = "1.0.0";
    let schedule = points
        .iter()
        .map(|p| Some(*p))
        .chain(std::iter::repeat_n(None, 100));
    for (round, pause) in schedule.enumerate() {
        let when = format!("round {round} (kill at {pause:?}, installing {target})");
        publish_policy(&s.repo, &policy_for(target, &format!("<!-- {round} -->")));
        kill_during(&s, "apply", pause, delays.next(Duration::from_millis(150)));
        assert_links_sound(&s.device, &when);
        let run = apply(&s.device, &s.config);
        assert_settled(&s, &when, &run);
        assert_eq!(
            s.device.running().as_deref(),
            Some(target),
            "{when}: {run:#?}"
        );
        assert_eq!(
            last_judged(&log),
            target,
            "{when}: {target} is committed but its health check never judged it: {run:#?}"
        );
        target = if target == "1.0.0" { "2.0.0" } else { "1.0.0" };
        rounds += 1;
    }
    assert_eq!(rounds, points.len() + 100);
}

#[test]
fn a_release_failing_its_health_check_is_never_left_committed_whatever_the_kill() {
    let check = "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \
                 \"test $(readlink current) != releases/2.0.0\"]\n";
    let s = scene(&policy_for("1.0.0", ""), check);
    apply(&s.device, &s.config).ok();
    let points = [
        "staging",
        "staged",
        "switched",
        "trial",
        "reverting",
        "reverted",
    ];
    let mut delays = Delays::new();
    let schedule = points
        .iter()
        .map(|p| Some(*p))
        .chain(std::iter::repeat_n(None, 30));
    for (round, pause) in schedule.enumerate() {
        let when = format!("round {round} (kill at {pause:?})");
        // A new policy each round, so the failure recorded under the last one is no bar.
        publish_policy(&s.repo, &policy_for("2.0.0", &format!("<!-- {round} -->")));
        kill_during(&s, "apply", pause, delays.next(Duration::from_millis(150)));
        assert_links_sound(&s.device, &when);
        let run = apply(&s.device, &s.config);
        assert_settled(&s, &when, &run);
        assert_eq!(
            s.device.running().as_deref(),
            Some("1.0.0"),
            "{when}: 2.0.0 failed its health check yet stayed: {run:#?}"
        );
    }
}

#[test]
fn a_switch_interrupted_before_its_journal_entry_still_runs_the_health_check() {
    // The kill lands after `current` moved and before the journal said so: the next start
    // must see the switch on disk and judge the release, not call it "never switched to".
    let check = "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \
                 \"test $(readlink current) != releases/2.0.0\"]\n";
    let s = scene(&policy_for("1.0.0", ""), check);
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    kill_during(&s, "apply", Some("staged"), Duration::ZERO);
    // What the rename of `current` leaves on disk, had the kill come a moment later.
    let current = s.device.install_dir().join("current");
    let tmp = s.device.install_dir().join(".current.test");
    std::os::unix::fs::symlink("releases/2.0.0", &tmp).unwrap();
    std::fs::rename(&tmp, &current).unwrap();
    let run = apply(&s.device, &s.config);
    assert_eq!(s.device.running().as_deref(), Some("1.0.0"), "{run:#?}");
    assert!(
        run.stdout
            .contains("release 2.0.0 failed its health check and was rolled back"),
        "{run:#?}"
    );
    assert_settled(&s, "after recovery", &run);
}

#[test]
fn a_rollback_killed_at_any_moment_keeps_both_releases() {
    let marks = tempfile::tempdir().unwrap();
    let log = marks.path().join("health.log");
    let s = scene(&policy_for("1.0.0", ""), &logging_health_check(&log));
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    apply(&s.device, &s.config).ok();
    let points = ["rollback", "rollback-switched", "rollback-relinked"];
    let mut delays = Delays::new();
    let schedule = points
        .iter()
        .map(|p| Some(*p))
        .chain(std::iter::repeat_n(None, 100));
    for (round, pause) in schedule.enumerate() {
        let when = format!("round {round} (rollback killed at {pause:?})");
        let from = s.device.running().unwrap();
        let to = if from == "1.0.0" { "2.0.0" } else { "1.0.0" };
        kill_during(
            &s,
            "rollback",
            pause,
            delays.next(Duration::from_millis(12)),
        );
        assert_links_sound(&s.device, &when);
        // The next run finishes or forgets the rollback; the policy asks for the release
        // the rollback went to, so either way the device ends on it, with the release it
        // left kept as `previous`: never both links on one release and the other gone.
        publish_policy(&s.repo, &policy_for(to, &format!("<!-- {round} -->")));
        let run = apply(&s.device, &s.config);
        assert_settled(&s, &when, &run);
        assert_eq!(s.device.running().as_deref(), Some(to), "{when}: {run:#?}");
        let previous = std::fs::read_link(s.device.install_dir().join("previous"));
        assert_eq!(
            previous.ok(),
            Some(PathBuf::from(format!("releases/{from}"))),
            "{when}: the release rolled back from is no longer kept: {run:#?}"
        );
    }
}

#[test]
fn a_release_that_kills_the_device_during_its_trial_is_given_up_after_three_tries() {
    // The health check of 2.0.0 kills the updater, as a release that hangs or reboots the
    // device during its trial would. Each start tries it again, three times at most.
    let check = "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \
                 \"test $(readlink current) != releases/2.0.0 || kill -9 $PPID\"]\n";
    let s = scene(&policy_for("1.0.0", ""), check);
    apply(&s.device, &s.config).ok();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    let mut runs = Vec::new();
    for _ in 0..6 {
        runs.push(apply(&s.device, &s.config));
    }
    assert_eq!(s.device.running().as_deref(), Some("1.0.0"), "{runs:#?}");
    let gave_up = runs
        .iter()
        .position(|r| {
            r.stdout
                .contains("interrupted 3 times during its post-install scripts")
        })
        .unwrap_or_else(|| panic!("never gave up: {runs:#?}"));
    assert_eq!(gave_up, 3, "three trials, then given up: {runs:#?}");
    assert!(
        runs[5].stdout.contains("2.0.0 failed on this device"),
        "{runs:#?}"
    );
    assert_settled(&s, "after giving up", &runs[5]);
}

#[test]
fn a_corrupt_journal_or_state_is_set_aside_and_installs_go_on() {
    let s = scene(&policy_for("1.0.0", ""), "");
    apply(&s.device, &s.config).ok();
    let install = s.device.install_dir();
    std::fs::write(install.join("journal.json"), b"{\"operation\": \"insta").unwrap();
    std::fs::write(install.join("state.json"), b"\x00\x01 not json").unwrap();
    publish_policy(&s.repo, &policy_for("2.0.0", ""));
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout
            .contains("journal.json is not a journal this updater understands")
            && run.stdout.contains("journal.json.corrupt")
            && run.stdout.contains("state.json could not be read")
            && run.stdout.contains("installed 2.0.0, was 1.0.0"),
        "{run:#?}"
    );
    assert_eq!(
        std::fs::read(install.join("state.json.corrupt")).unwrap(),
        b"\x00\x01 not json"
    );
    assert_settled(&s, "after a corrupt journal", &run);
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
fn a_hook_dies_with_the_updater() {
    let marks = tempfile::tempdir().unwrap();
    let pid_file = marks.path().join("hook.pid");
    let check = format!(
        "\n[install]\nhealth_check = [\"/bin/sh\", \"-c\", \"echo $$ > {}; exec sleep 300\"]\n\
         timeout = \"600s\"\n",
        pid_file.display()
    );
    let s = scene(&policy_for("1.0.0", ""), &check);
    let mut child = spawn(&s.config, "apply", None);
    let deadline = Instant::now() + Duration::from_secs(60);
    let pid = loop {
        if let Some(pid) = std::fs::read_to_string(&pid_file)
            .ok()
            .and_then(|t| t.trim().parse::<u32>().ok())
        {
            break pid;
        }
        assert!(Instant::now() < deadline, "the health check never started");
        std::thread::sleep(Duration::from_millis(50));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while proc_dir.exists() && !is_zombie(&proc_dir) {
        assert!(
            Instant::now() < deadline,
            "the health check (pid {pid}) outlived the killed updater"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A process that has exited but not been reaped (its parent is gone and init has not yet
/// collected it) counts as dead.
fn is_zombie(proc_dir: &Path) -> bool {
    std::fs::read_to_string(proc_dir.join("stat"))
        .ok()
        .and_then(|s| {
            s.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(true)
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
    let mut child = Command::new(bin("updater"))
        .arg("--config")
        .arg(&s.config)
        .arg("run")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
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
