//! Policies that would leave devices with nowhere to go are refused by `repo policy check`,
//! `repo policy set` and `repo sign`, naming the channel, the release, the platform and the
//! releases whose devices would be stuck; and early device ids and groups match under one
//! rule (NFC, then Unicode lower case) on the device and in the policy.

use e2e_tests::{fixture_release, repo, tree_state, DemoRepo, Device, StaticServer};
use serde_json::Value;
use std::ffi::OsStr;

/// A repository holding `(release, platform)` pairs (the bytes of the 1.0.0 fixture for
/// that platform), its targets signed.
fn repo_holding(releases: &[(&str, &str)]) -> DemoRepo {
    let r = DemoRepo::init();
    for (release, platform) in releases {
        r.add_dir(&fixture_release("1.0.0", platform), release, platform)
            .ok();
    }
    r.sign().ok();
    r
}

fn policy(channel_body: &str) -> String {
    format!("<policy>\n  <channel name=\"stable\">\n{channel_body}\n  </channel>\n</policy>\n")
}

fn target(release: &str, early: &str) -> String {
    format!(
        "    <target release=\"{release}\">\n{early}      <wave start=\"2026-01-01T00:00:00Z\" percent=\"100\"/>\n    </target>"
    )
}

/// `repo policy check` and `repo policy set` of `xml` both exit 1 with `message`, and
/// nothing changes in the repository or beside it (where the policy files are).
fn refused_by_check_and_set(r: &DemoRepo, xml: &str, message: &str) {
    let file = r.tmp.path().join("candidate.xml");
    std::fs::write(&file, xml).unwrap();
    std::fs::write(r.tmp.path().join("policy.xml"), xml).unwrap(); // what set_policy writes
    let before = tree_state(r.tmp.path());
    for command in ["check", "set"] {
        let run = repo([
            OsStr::new("policy"),
            OsStr::new(command),
            r.path.as_os_str(),
            file.as_os_str(),
        ])
        .fails_with(1, message);
        assert_eq!(run.stderr, format!("error: {message}\n"), "{command}");
        assert!(run.stdout.is_empty(), "{command}: {run:#?}");
    }
    r.set_policy(xml).fails_with(1, message);
    assert_eq!(before, tree_state(r.tmp.path()));
}

/// `repo sign` with the targets and policy keys refuses `xml` staged by hand (past `repo
/// policy set`), exiting 2 as for its other refusals, and publishes nothing.
fn refused_by_sign(r: &DemoRepo, xml: &str, message: &str) {
    let staged = r.path.join("staged").join("policy.xml");
    std::fs::write(&staged, xml).unwrap();
    let before = tree_state(r.tmp.path());
    r.sign_all()
        .fails_with(2, &format!("the staged {}: {message}", staged.display()));
    assert_eq!(before, tree_state(r.tmp.path()));
    std::fs::remove_file(staged).unwrap();
}

fn checked(r: &DemoRepo, xml: &str) -> String {
    let file = r.tmp.path().join("candidate.xml");
    std::fs::write(&file, xml).unwrap();
    repo([
        OsStr::new("policy"),
        OsStr::new("check"),
        r.path.as_os_str(),
        file.as_os_str(),
    ])
    .ok()
    .stdout
}

#[test]
fn a_revocation_in_a_channel_without_a_target_is_refused() {
    let r = repo_holding(&[("1.0.0", "armv7"), ("1.1.0", "armv7"), ("2.0.0", "armv7")]);
    let xml = policy("    <revoked release=\"1.1.0\"/>");
    let message = "policy leaves devices with nowhere to go: channel \"stable\" revokes 1.1.0 but has no <target>, so devices running 1.1.0 cannot leave it";
    refused_by_check_and_set(&r, &xml, message);
    refused_by_sign(&r, &xml, message);

    // With a target, the preview promises the move the devices can make.
    let fixed = policy(&format!(
        "{}\n    <revoked release=\"1.1.0\"/>",
        target("2.0.0", "")
    ));
    let preview = checked(&r, &fixed);
    assert!(
        preview.contains("\n  revoked 1.1.0: devices running it move to 2.0.0 at once\n"),
        "{preview}"
    );
}

#[test]
fn a_target_without_an_artifact_for_a_platform_devices_run_is_refused() {
    let r = repo_holding(&[
        ("1.0.0", "armv7"),
        ("1.0.0", "x86_64"),
        ("1.1.0", "x86_64"),
        ("2.0.0", "armv7"),
    ]);
    let xml = policy(&target("2.0.0", ""));
    let message = "policy leaves devices with nowhere to go: channel \"stable\": target 2.0.0 has no artifact for platform x86_64, so x86_64 devices running 1.0.0 or 1.1.0 cannot move to it";
    refused_by_check_and_set(&r, &xml, message);
    refused_by_sign(&r, &xml, message);
    // The same with the devices' release revoked: they would be stuck on a revoked release.
    let revoked = policy(&format!(
        "{}\n    <revoked release=\"1.1.0\"/>",
        target("2.0.0", "")
    ));
    refused_by_check_and_set(&r, &revoked, message);
}

#[test]
fn a_stepping_stone_without_an_artifact_for_a_platform_devices_run_is_refused() {
    let r = repo_holding(&[
        ("1.0.0", "armv7"),
        ("1.0.0", "x86_64"),
        ("1.5.0", "armv7"),
        ("2.0.0", "armv7"),
        ("2.0.0", "x86_64"),
    ]);
    let xml = policy(&format!(
        "{}\n    <via release=\"1.5.0\" below=\"1.5.0\"/>",
        target("2.0.0", "")
    ));
    let message = "policy leaves devices with nowhere to go: channel \"stable\": stepping stone 1.5.0 has no artifact for platform x86_64, so x86_64 devices running 1.0.0 cannot move to it";
    refused_by_check_and_set(&r, &xml, message);
    refused_by_sign(&r, &xml, message);
}

#[test]
fn early_entries_that_name_one_device_or_group_twice_are_refused() {
    let r = repo_holding(&[("1.0.0", "armv7"), ("2.0.0", "armv7")]);
    let xml = policy(&target(
        "2.0.0",
        "      <early device=\"Ärger-01\"/>\n      <early device=\"ärger-01\"/>\n",
    ));
    refused_by_check_and_set(
        &r,
        &xml,
        "policy.xml line 5: <early device=\"ärger-01\"> names the same device as \"Ärger-01\" on line 4 (ids and groups match after NFC and lower-casing)",
    );
    let groups = policy(&target(
        "2.0.0",
        "      <early group=\"Équipe\"/>\n      <early group=\"E\u{301}QUIPE\"/>\n",
    ));
    refused_by_check_and_set(
        &r,
        &groups,
        "policy.xml line 5: <early group=\"E\\u{301}QUIPE\"> names the same group as \"Équipe\" on line 4 (ids and groups match after NFC and lower-casing)",
    );
}

/// `updater plan --json` of a device configured with `id` and `groups`, running 1.0.0.
fn plan(r: &DemoRepo, url: &str, id: &str, groups: &str) -> Value {
    let device = Device::trusting(&r.root_json());
    let config = device.configure(id, url, Some("1.0.0"), "");
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "channel = \"stable\"\n",
        &format!("channel = \"stable\"\ngroups = [{groups}]\n"),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let run = device
        .updater(&[
            OsStr::new("--config"),
            config.as_os_str(),
            OsStr::new("plan"),
            OsStr::new("--json"),
            OsStr::new("--now"),
            OsStr::new("2026-06-01T00:00:00Z"),
        ])
        .ok();
    serde_json::from_str(run.stdout.trim()).unwrap()
}

#[test]
fn early_ids_and_groups_match_whatever_their_case_and_composition() {
    // Nobody is in the waves (0%): only early devices install.
    let xml = policy(
        "    <target release=\"2.0.0\">\n      <early device=\"Ärger-01\"/>\n      <early group=\"Équipe-Nord\"/>\n      <wave start=\"2026-01-01T00:00:00Z\" percent=\"0\"/>\n    </target>"
    );
    let r = DemoRepo::with_policy(&xml);
    let server = StaticServer::start(&r.public());
    let url = server.url();
    for (id, groups, action) in [
        ("ärger-01", "", "install"),
        ("A\u{308}RGER-01", "", "install"),
        ("02:00:00:00:00:01", "\"équipe-nord\"", "install"),
        ("02:00:00:00:00:01", "\"E\u{301}QUIPE-NORD\"", "install"),
        ("02:00:00:00:00:01", "\"equipe-nord\"", "wait"),
        ("arger-01", "", "wait"),
    ] {
        let decision = plan(&r, &url, id, groups);
        assert_eq!(decision["action"], action, "{id} [{groups}]: {decision}");
        if action == "install" {
            assert_eq!(decision["reason"], "install 2.0.0 now (an early device)");
        }
    }
}
