//! `updater apply`, `downgrade` and `rollback` killed at every step: the device always names
//! a complete release, never keeps a release that has not passed its health check, and the
//! next run settles what the killed one left.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use e2e_tests::{
    apply, expected_tree, policy_for, publish_policy, scene, spawn, Device, Run, Scene,
};
use updater::datetime::UtcTime;

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
