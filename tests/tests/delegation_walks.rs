//! Walks that list everything (`updater targets`, `repo verify`) visit every role or fail
//! loudly past their limit: a 1,024-bin repository is checked whole, and one past the
//! listing limit is an error naming it, with exit 1 and nothing listed as verified.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use e2e_tests::{bin, bin_role, repo, repo_with_bins, run_bounded, tree_state, Device, Run};

const BINS: usize = 1024;
/// The listing limit a test build takes from `UPDATER_TEST_MAX_LISTED_ROLES`.
const LOW_LIMIT: usize = 100;

/// `updater targets` from the served folder `public` (a local mirror), with `env` set.
fn updater_targets(device: &Device, public: &Path, env: &[(&str, String)]) -> Run {
    let mut command = Command::new(bin("updater"));
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("--metadata-dir")
        .arg(&device.metadata_dir)
        .arg("--metadata-url")
        .arg(public.join("metadata"))
        .arg("targets");
    run_bounded(&mut command, Duration::from_secs(120))
}

fn repo_verify(path: &Path, root: &Path, env: &[(&str, String)]) -> Run {
    let mut command = Command::new(bin("repo"));
    command
        .envs(env.iter().map(|(k, v)| (k, v)))
        .arg("verify")
        .arg(path)
        .arg("--root")
        .arg(root)
        .arg("--quiet");
    run_bounded(&mut command, Duration::from_secs(120))
}

#[test]
fn repo_verify_checks_every_one_of_1024_bins_and_updater_targets_lists_them_all() {
    let r = repo_with_bins(BINS);
    let run = r.verify(&[]).ok();
    let bins: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| l.starts_with("bin-"))
        .collect();
    assert_eq!(bins.len(), BINS, "{}", run.stdout);
    assert!(bins[BINS - 1].starts_with(&bin_role(BINS - 1)), "{bins:?}");
    // 8 artifacts of release 1.0.0 and one per bin, every one hashed.
    assert!(
        run.stdout
            .contains(&format!("ok: {} artifact(s)", 8 + BINS)),
        "{}",
        run.stdout
    );

    let device = Device::trusting(&r.root_json());
    let listed = updater_targets(&device, &r.public(), &[]).ok();
    let in_bins = listed
        .stdout
        .lines()
        .filter(|l| l.starts_with("bins/"))
        .count();
    assert_eq!(in_bins, BINS, "{}", listed.stdout);
    assert_eq!(listed.stdout.lines().count(), 8 + BINS, "{}", listed.stdout);
}

#[test]
fn a_walk_past_the_listing_limit_fails_loudly_in_repo_verify_and_updater_targets() {
    let r = repo_with_bins(BINS);
    let env = [("UPDATER_TEST_MAX_LISTED_ROLES", LOW_LIMIT.to_string())];
    // The top-level role, the slot of release 1.0.0 and 98 bins visited; 926 bins queued.
    let refusal = format!(
        "delegations: more than {LOW_LIMIT} roles to walk (visited {LOW_LIMIT}, at least {} more still to visit); the walk stops at its limit rather than give a partial answer",
        BINS + 2 - LOW_LIMIT
    );

    let before = tree_state(r.tmp.path());
    let run = repo_verify(&r.path, &r.root_json(), &env).fails_with(1, &refusal);
    assert!(run.stderr.contains("is not trustworthy"), "{}", run.stderr);
    assert!(!run.stdout.contains("ok:"), "{}", run.stdout);
    assert_eq!(
        tree_state(r.tmp.path()),
        before,
        "repo verify changed the repository"
    );

    let device = Device::trusting(&r.root_json());
    // The device trusts the top-level roles first, as a refresh would.
    device
        .updater(&[
            "--metadata-url".as_ref(),
            r.public().join("metadata").as_os_str(),
            "refresh".as_ref(),
        ])
        .ok();
    let listed = updater_targets(&device, &r.public(), &env).fails_with(1, &refusal);
    assert_eq!(listed.stdout, "", "nothing is listed: {}", listed.stdout);

    // `repo verify` of the same repository under the real limit passes, so the refusal is
    // the limit's and nothing else's.
    repo([
        "verify".as_ref(),
        r.path.as_os_str(),
        "--root".as_ref(),
        r.root_json().as_os_str(),
        "--quiet".as_ref(),
    ])
    .ok();
}
