//! The signed rollout policy end to end: `repo policy`, the delegated `policy` role, and
//! `updater plan` on devices over HTTP on 127.0.0.1, with an injected clock.

use std::path::{Path, PathBuf};

use e2e_tests::{
    example_key, read_json, relist_in_snapshot, repo, resign, tree_state, DemoRepo, Device,
    StaticServer,
};
use serde_json::{json, Value};
use updater::datetime::UtcTime;
use updater::rollout::decide::{bucket, share_at};
use updater::rollout::policy::{Release, Wave};

fn repo_with_policy(xml: &str) -> DemoRepo {
    DemoRepo::with_policy(xml)
}

fn set_policy(r: &DemoRepo, xml: &str) -> e2e_tests::Run {
    r.set_policy(xml)
}

/// Publishes a new policy with only the policy, snapshot and timestamp keys.
fn publish_policy(r: &DemoRepo, xml: &str) {
    set_policy(r, xml).ok();
    r.sign_with(&[
        example_key("policy.pem"),
        example_key("snapshot.pem"),
        example_key("timestamp.pem"),
    ])
    .ok();
}

fn configure(device: &Device, id: &str, url: &str, running: Option<&str>) -> PathBuf {
    device.configure(id, url, running, "")
}

fn plan(device: &Device, config: &Path, now: UtcTime) -> Value {
    let run = device
        .updater(&[
            "--config".as_ref(),
            config.as_os_str(),
            "plan".as_ref(),
            "--json".as_ref(),
            "--now".as_ref(),
            now.to_string().as_ref(),
        ])
        .ok();
    serde_json::from_str(run.stdout.trim()).expect("plan --json prints one JSON object")
}

fn three_waves(base: UtcTime, extra: &str) -> (String, Vec<Wave>) {
    let waves = vec![
        Wave {
            start: base,
            share: 2000,
        },
        Wave {
            start: base.plus_seconds(3600),
            share: 5000,
        },
        Wave {
            start: base.plus_seconds(7200),
            share: 10_000,
        },
    ];
    let xml = format!(
        r#"<policy>
  <channel name="stable">
    <target release="2.0.0">
      <early device="aa:00:00:00:00:01"/>
      <wave start="{}" percent="20"/>
      <wave start="{}" percent="50"/>
      <wave start="{}" percent="100"/>
    </target>
    {extra}
  </channel>
</policy>
"#,
        waves[0].start, waves[1].start, waves[2].start
    );
    (xml, waves)
}

#[test]
fn devices_follow_a_three_wave_rollout_and_stop_at_a_halt() {
    let base = UtcTime::now().plus_seconds(600);
    let (xml, waves) = three_waves(base, "");
    let r = repo_with_policy(&xml);
    let server = StaticServer::start(&r.public());
    let release = Release::new("2.0.0").unwrap();

    let mut ids: Vec<String> = (2..14).map(|i| format!("02:00:00:00:00:{i:02x}")).collect();
    ids.push("aa:00:00:00:00:01".into()); // the early device
    let devices: Vec<(String, Device, PathBuf)> = ids
        .into_iter()
        .map(|id| {
            let device = Device::trusting(&r.root_json());
            let config = configure(&device, &id, &server.url(), Some("1.0.0"));
            (id, device, config)
        })
        .collect();

    let moments = [-60, 0, 1800, 3600, 5400, 7200, 9000];
    let mut seen_eligible = Vec::new();
    for offset in moments {
        let now = base.plus_seconds(offset);
        let mut eligible = Vec::new();
        for (id, device, config) in &devices {
            let decision = plan(device, config, now);
            let expected = if id == "aa:00:00:00:00:01" {
                now >= base
            } else {
                bucket("stable", &release, id) < share_at(&waves, now)
            };
            let action = decision["action"].as_str().unwrap();
            assert_eq!(
                action == "install",
                expected,
                "{id} at {now} (share {}): {decision}",
                share_at(&waves, now)
            );
            if expected {
                assert_eq!(decision["release"], "2.0.0");
                eligible.push(id.clone());
            } else {
                assert_eq!(action, "wait", "{decision}");
            }
        }
        seen_eligible.push(eligible.len());
    }
    // Nobody before the first wave, everybody after the last, never fewer as time passes.
    assert_eq!(seen_eligible.first(), Some(&0));
    assert_eq!(seen_eligible.last(), Some(&devices.len()));
    assert!(
        seen_eligible.windows(2).all(|w| w[0] <= w[1]),
        "{seen_eligible:?}"
    );

    // The admin halts the channel with the policy key alone; every device stays.
    let (halted, _) = three_waves(base, "<halt/>");
    publish_policy(&r, &halted);
    for (id, device, config) in &devices {
        let decision = plan(device, config, base.plus_seconds(9000));
        assert_eq!(decision["action"], "stay", "{id}: {decision}");
        assert_eq!(
            decision["reason"],
            "channel \"stable\" is halted; staying on 1.0.0"
        );
    }
}

#[test]
fn plan_explains_itself_in_words() {
    let base = UtcTime::now().plus_seconds(-60);
    let (xml, _) = three_waves(base, "<revoked release=\"1.0.0\"/>");
    let r = repo_with_policy(&xml);
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = configure(&device, "02:00:00:00:00:99", &server.url(), Some("1.0.0"));
    let run = device
        .updater(&["--config".as_ref(), config.as_os_str(), "plan".as_ref()])
        .ok();
    assert_eq!(
        run.stdout,
        "device 02:00:00:00:00:99 (armv7, channel stable), running 1.0.0\n\
         running revoked 1.0.0; moving to 2.0.0 now\n"
    );
}

#[test]
fn a_policy_naming_a_missing_release_is_refused_by_repo_and_ignored_by_devices() {
    let r = repo_with_policy(&three_waves(UtcTime::now(), "").0);
    let missing = three_waves(UtcTime::now(), "").0.replace("2.0.0", "3.0.0");
    let file = r.tmp.path().join("missing.xml");
    std::fs::write(&file, &missing).unwrap();
    repo([
        "policy".as_ref(),
        "check".as_ref(),
        r.path.as_os_str(),
        file.as_os_str(),
    ])
    .fails_with(
        1,
        "policy names releases the index does not hold: 3.0.0 (channel \"stable\")",
    );
    set_policy(&r, &missing).fails_with(1, "3.0.0 (channel \"stable\")");

    // Signed anyway, by hand, with the policy key: the device stays and says why.
    sign_policy_by_hand(&r, &missing);
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = configure(&device, "02:00:00:00:00:02", &server.url(), Some("1.0.0"));
    let decision = plan(&device, &config, UtcTime::now().plus_seconds(3600));
    assert_eq!(decision["action"], "stay");
    assert_eq!(
        decision["reason"],
        "release 3.0.0 is not in the signed index; staying on 1.0.0"
    );
}

/// Publishes `xml` as the policy, signed with the policy key, past `repo`'s own checks.
fn sign_policy_by_hand(r: &DemoRepo, xml: &str) {
    let digest = updater::hash::digest_reader(xml.as_bytes()).unwrap();
    for hash in [digest.sha256.to_hex(), digest.sha512.to_hex()] {
        std::fs::write(
            r.public()
                .join("targets")
                .join(format!("{hash}.policy.xml")),
            xml,
        )
        .unwrap();
    }
    resign(
        &r.metadata("1.policy.json"),
        &[&example_key("policy.pem")],
        |signed| {
            signed["targets"]["policy.xml"] = json!({
                "length": digest.length,
                "hashes": {"sha256": digest.sha256.to_hex(), "sha512": digest.sha512.to_hex()},
            });
        },
    );
    // Snapshot lists each role's hashes: the re-signed role is listed anew, as a release
    // team holding the snapshot and timestamp keys would publish it.
    relist_in_snapshot(r, "1.policy.json");
}

#[test]
fn a_wave_start_outside_years_1970_to_9999_is_refused_by_repo_and_by_devices() {
    // Once read as 2026 BC, this start put the ramp toward 50% four thousand years in, so
    // the 10% canary was about 50% of the fleet at once.
    let base = UtcTime::now().plus_seconds(600);
    let good = three_waves(base, "").0;
    let r = repo_with_policy(&good);
    let canary_start = base.to_string();
    for (start, why) in [
        (
            format!("-{canary_start}"),
            "is not a time of the form YYYY-MM-DDTHH:MM:SSZ",
        ),
        (
            format!("+{canary_start}"),
            "is not a time of the form YYYY-MM-DDTHH:MM:SSZ",
        ),
        (
            format!("0{}", &canary_start[1..]),
            "is before 1970-01-01T00:00:00Z, the earliest time accepted",
        ),
    ] {
        let odd = good.replacen(&canary_start, &start, 1);
        assert_ne!(odd, good);
        let message = format!("policy.xml line 5: <wave start>: {start:?} {why}");

        let file = r.tmp.path().join("odd.xml");
        std::fs::write(&file, &odd).unwrap();
        let repo_before = tree_state(&r.path);
        repo([
            "policy".as_ref(),
            "check".as_ref(),
            r.path.as_os_str(),
            file.as_os_str(),
        ])
        // `repo policy check` names the file it was given; the device, the published name.
        .fails_with(
            1,
            &format!("{}{}", file.display(), &message["policy.xml".len()..]),
        );
        set_policy(&r, &odd).fails_with(1, &message);
        assert_eq!(repo_before, tree_state(&r.path), "{start}");

        // Signed anyway, by hand: the device refuses the policy, and installs nothing.
        sign_policy_by_hand(&r, &odd);
        let server = StaticServer::start(&r.public());
        let device = Device::trusting(&r.root_json());
        // Its own id is an early device: with any policy it would install at once.
        let config = configure(&device, "aa:00:00:00:00:01", &server.url(), Some("1.0.0"));
        // Everything but the record of the last check, which names the refusal.
        let installed = || {
            let mut tree = tree_state(&device.install_dir());
            tree.remove("state.json");
            tree
        };
        let install_before = installed();
        for command in ["plan", "apply"] {
            device
                .updater(&[
                    "--config".as_ref(),
                    config.as_os_str(),
                    command.as_ref(),
                    "--now".as_ref(),
                    UtcTime::now().plus_seconds(3600).to_string().as_ref(),
                ])
                .fails_with(1, &message);
        }
        assert_eq!(install_before, installed(), "{start}");
        let state = read_json(&device.install_dir().join("state.json"));
        assert_eq!(state["running"], "1.0.0");
        assert!(
            state["last_error"]
                .as_str()
                .is_some_and(|e| e.contains(&message)),
            "{state}"
        );
        assert!(tree_state(&device.target_dir).is_empty(), "{start}");
    }
}

#[test]
fn a_date_given_to_now_is_checked_like_any_other() {
    let r = repo_with_policy(&three_waves(UtcTime::now(), "").0);
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = configure(&device, "02:00:00:00:00:02", &server.url(), Some("1.0.0"));
    // A malformed --now is a bad command line: exit 2, like every other usage error, for
    // `plan` and `apply` alike, and nothing on the device changes.
    for now in [
        "-2026-11-23T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "2026-13-01T00:00:00Z",
        "yesterday",
    ] {
        for command in ["plan", "apply"] {
            let before = device.state();
            device
                .updater(&[
                    "--config".as_ref(),
                    config.as_os_str(),
                    command.as_ref(),
                    format!("--now={now}").as_ref(),
                ])
                .fails_with(
                    2,
                    &format!("invalid value '{now}' for '--now <TIME>': {now:?} is"),
                );
            assert_eq!(before, device.state(), "{command} --now={now}");
        }
    }
}

#[test]
fn only_the_policy_role_may_sign_the_policy() {
    let xml = three_waves(UtcTime::now(), "").0;
    let r = repo_with_policy(&xml);
    let server = StaticServer::start(&r.public());

    // The policy role's file signed with the targets key instead of the policy key.
    let policy_json = r.metadata("1.policy.json");
    let original = std::fs::read(&policy_json).unwrap();
    resign(&policy_json, &[&example_key("targets.pem")], |_| {});
    relist_in_snapshot(&r, "1.policy.json");
    let device = Device::trusting(&r.root_json());
    let config = configure(&device, "02:00:00:00:00:02", &server.url(), Some("1.0.0"));
    device
        .updater(&["--config".as_ref(), config.as_os_str(), "plan".as_ref()])
        .fails_with(1, "policy: 0 of 1 required signatures are valid");
    // The refused role was not kept.
    assert!(!device.metadata_dir.join("policy.json").exists());
    std::fs::write(&policy_json, original).unwrap();
    relist_in_snapshot(&r, "1.policy.json");

    // The top-level targets role listing policy.xml itself, signed by the targets key.
    let targets_json = r.metadata("1.targets.json");
    let listed = read_json(&policy_json)["signed"]["targets"]["policy.xml"].clone();
    resign(&targets_json, &[&example_key("targets.pem")], |signed| {
        signed["targets"]["policy.xml"] = listed;
    });
    relist_in_snapshot(&r, "1.targets.json");
    let device = Device::trusting(&r.root_json());
    let config = configure(&device, "02:00:00:00:00:02", &server.url(), Some("1.0.0"));
    device
        .updater(&["--config".as_ref(), config.as_os_str(), "plan".as_ref()])
        .fails_with(
            1,
            "target policy.xml: listed by the top-level targets role; only the delegated policy role may sign the policy",
        );
}

#[test]
fn an_artifact_listed_by_the_policy_role_is_ignored() {
    let xml = three_waves(UtcTime::now(), "").0;
    let r = repo_with_policy(&xml);
    // The policy key adds a release artifact of its own, with the bytes in place.
    let name = "releases/9.9.9/armv7/app.bin";
    let bytes = b"not signed by the release keys\n";
    let digest = updater::hash::digest_reader(&bytes[..]).unwrap();
    let dir = r.public().join("targets/releases/9.9.9/armv7");
    std::fs::create_dir_all(&dir).unwrap();
    for hash in [digest.sha256.to_hex(), digest.sha512.to_hex()] {
        std::fs::write(dir.join(format!("{hash}.app.bin")), bytes).unwrap();
    }
    resign(
        &r.metadata("1.policy.json"),
        &[&example_key("policy.pem")],
        |signed| {
            signed["targets"][name] = json!({
                "length": bytes.len(),
                "hashes": {"sha256": digest.sha256.to_hex(), "sha512": digest.sha512.to_hex()},
            });
        },
    );
    relist_in_snapshot(&r, "1.policy.json");
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    device.refresh(&[&server.url()]).ok();
    let before = device.state();
    device
        .download(&[&server.url()], &[name], &[])
        .fails_with(1, &format!("{name}: no trusted role lists this target"));
    assert_eq!(before, device.state());
    let listing = device
        .updater(&[
            "--metadata-url",
            &format!("{}/metadata", server.url()),
            "targets",
        ])
        .ok();
    assert!(!listing.stdout.contains("9.9.9"), "{listing:#?}");
    assert!(listing.stdout.contains("policy.xml"), "{listing:#?}");
}

#[test]
fn hostile_xml_gets_a_clear_error_and_no_panic() {
    let r = DemoRepo::init();
    r.add("1.0.0", "armv7").ok();
    let mut bomb =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE policy [\n<!ENTITY a \"lol\">\n");
    for i in 1..10 {
        bomb.push_str(&format!("<!ENTITY a{i} \"{}\">\n", "&a;".repeat(10)));
    }
    bomb.push_str("]>\n<policy><channel name=\"&a9;\"/></policy>\n");
    let xxe = "<!DOCTYPE policy [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<policy><channel name=\"&x;\"/></policy>";
    let deep = format!(
        "{}{}",
        "<policy>".repeat(10_000),
        "</policy>".repeat(10_000)
    );
    let mut huge = b"<policy>".to_vec();
    huge.resize(50 * 1024 * 1024, b' ');
    huge.extend_from_slice(b"</policy>");
    let mut not_utf8 = b"<policy>\n  <channel name=\"".to_vec();
    not_utf8.extend_from_slice(&[0xc3, 0x28]);
    not_utf8.extend_from_slice(b"\"/>\n</policy>\n");
    let cases: [(&[u8], i32, &str); 5] = [
        (
            bomb.as_bytes(),
            1,
            "hostile.xml line 2: a DTD is not allowed",
        ),
        (
            xxe.as_bytes(),
            1,
            "hostile.xml line 1: a DTD is not allowed",
        ),
        (
            deep.as_bytes(),
            1,
            "hostile.xml line 1: <policy> is not allowed inside <policy>",
        ),
        (&huge, 2, "is larger than its limit of 1048576 bytes"),
        (&not_utf8, 1, "hostile.xml line 2: invalid UTF-8 at byte 26"),
    ];
    for (bytes, code, message) in cases {
        let file = r.tmp.path().join("hostile.xml");
        std::fs::write(&file, bytes).unwrap();
        repo([
            "policy".as_ref(),
            "check".as_ref(),
            r.path.as_os_str(),
            file.as_os_str(),
        ])
        .fails_with(code, message);
    }
}
