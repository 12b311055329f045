use super::*;
use crate::conventions::{ArtifactKind, LayoutError};
use crate::metadata::TargetInfo;
use crate::rollout::index::{of_release_files, targets_listing};
use crate::rollout::policy::parse;
use proptest::prelude::*;

const T0: i64 = 1_795_000_000; // 2026-11-18

fn at(offset: i64) -> UtcTime {
    UtcTime::from_unix(T0 + offset).unwrap()
}

fn index(releases: &[&str], platforms: &[&str]) -> Index {
    let files: Vec<(&str, &str)> = releases
        .iter()
        .flat_map(|r| platforms.iter().map(move |p| (*r, *p)))
        .collect();
    of_release_files(&files)
}

fn device(id: &str, running: Option<&str>) -> Device {
    Device {
        id: id.into(),
        platform: "armv7".into(),
        channel: "stable".into(),
        groups: BTreeSet::new(),
        running: running.map(|r| Release::new(r).unwrap()),
    }
}

fn policy(body: &str) -> Policy {
    parse(format!("<policy><channel name=\"stable\">{body}</channel></policy>").as_bytes()).unwrap()
}

fn waves(list: &[(i64, &str)]) -> String {
    list.iter()
        .map(|(t, p)| format!("<wave start=\"{}\" percent=\"{p}\"/>", at(*t)))
        .collect()
}

fn three_waves() -> Policy {
    policy(&format!(
        "<target release=\"2.0.0\">{}</target>",
        waves(&[(0, "10"), (86_400, "50"), (3 * 86_400, "100")])
    ))
}

/// The device reads every label `repo add` writes, and refuses (never skips) a name under
/// `releases/` outside the rule.
#[test]
fn index_reads_every_label_repo_add_writes_and_refuses_the_rest() {
    let label = format!("3.0.0-{}", "x".repeat(122));
    let name = format!("releases/{label}/armv7/app.bin");
    let idx = Index::from_targets(&targets_listing(&[&name, "policy.xml"])).unwrap();
    assert!(idx.has_release(&Release::new(&label).unwrap()));

    let long = format!("3.0.0-{}", "x".repeat(123));
    let name = format!("releases/{long}/armv7/app.bin");
    let refused = Index::from_targets(&targets_listing(&[&name])).unwrap_err();
    assert!(
        matches!(&refused, LayoutError::Label { source, .. } if source.value == long),
        "{refused}"
    );
    assert!(matches!(
        Index::from_targets(&targets_listing(&["releases/1.0.0/app.bin"])),
        Err(LayoutError::Shape { .. })
    ));
}

/// A bundle no device can unpack, listed by hand: the device stays, saying why in the
/// sentence `repo add` refuses such a file with.
#[test]
fn a_bundle_the_device_cannot_unpack_keeps_it_where_it_is() {
    let mut targets = targets_listing(&["releases/2.0.0/armv7/app.bin"]);
    let name = crate::names::TargetName::new("releases/2.0.0/armv7/app.tar.xz").unwrap();
    let info: TargetInfo = serde_json::from_value(serde_json::json!({
        "length": 1, "hashes": {"sha512": "00"}, "custom": {"kind": "bundle"}
    }))
    .unwrap();
    targets.targets.insert(name, info);
    let idx = Index::from_targets(&targets).unwrap();
    let p = policy(&format!(
        "<target release=\"2.0.0\">{}</target>",
        waves(&[(0, "100")])
    ));
    let d = decide(&p, &idx, &device("aa", Some("1.0.0")), at(1));
    let sentence = ArtifactKind::of_file("app.tar.xz").unwrap_err().to_string();
    assert_eq!(d.action, Action::Stay);
    assert_eq!(
        d.reason,
        format!("release 2.0.0 cannot be installed: {sentence}; staying on 1.0.0")
    );
}

/// Semver precedence: a release candidate moves up to its release without a downgrade.
#[test]
fn a_release_candidate_moves_up_to_its_release() {
    let idx = index(&["2.5.0-rc1", "2.5.0"], &["armv7"]);
    let p = policy(&format!(
        "<target release=\"2.5.0\">{}</target>",
        waves(&[(0, "100")])
    ));
    let d = decide(&p, &idx, &device("aa", Some("2.5.0-rc1")), at(1));
    assert_eq!(d.action, Action::Install, "{}", d.reason);
    assert_eq!(d.release.as_ref().map(Release::as_str), Some("2.5.0"));
}

#[test]
fn share_follows_the_waves_and_ramps_between_them() {
    let p = three_waves();
    let w = &p.channels["stable"].target.as_ref().unwrap().waves;
    assert_eq!(share_at(w, at(-1)), 0);
    assert_eq!(share_at(w, at(0)), 1000);
    assert_eq!(share_at(w, at(43_200)), 3000);
    assert_eq!(share_at(w, at(86_400)), 5000);
    assert_eq!(share_at(w, at(10 * 86_400)), 10_000);
}

#[test]
fn a_device_is_told_when_it_becomes_eligible() {
    let p = three_waves();
    let idx = index(&["1.0.0", "2.0.0"], &["armv7"]);
    // Find a device in the first ramp (bucket between 1000 and 5000).
    let id = (0..)
        .map(|i| format!("dev-{i}"))
        .find(|id| (1000..5000).contains(&bucket("stable", &Release::new("2.0.0").unwrap(), id)))
        .unwrap();
    let before = decide(&p, &idx, &device(&id, Some("1.0.0")), at(0));
    assert_eq!(before.action, Action::Wait);
    assert_eq!(before.wave, Some(2));
    let when = before.at.unwrap();
    assert!(
        before
            .reason
            .contains(&format!("eligible at {when} (wave 2, bucket")),
        "{}",
        before.reason
    );
    let just_before = decide(&p, &idx, &device(&id, Some("1.0.0")), when.plus_seconds(-1));
    assert_eq!(just_before.action, Action::Wait);
    let then = decide(&p, &idx, &device(&id, Some("1.0.0")), when);
    assert_eq!(then.action, Action::Install);
    assert_eq!(
        then.reason,
        format!(
            "install 2.0.0 now (wave 2, bucket {} of 10000)",
            then.bucket.unwrap()
        )
    );
}

#[test]
fn shares_over_100000_devices_match_each_wave_within_one_point() {
    let p = policy(&format!(
        "<target release=\"2.0.0\">{}</target>",
        waves(&[
            (0, "1"),
            (100, "10"),
            (200, "33.33"),
            (300, "50"),
            (400, "100")
        ])
    ));
    let idx = index(&["2.0.0"], &["armv7"]);
    let ids: Vec<String> = (0..100_000).map(|i| format!("{:012x}", i * 7919)).collect();
    for (t, percent) in [
        (0, 1.0),
        (100, 10.0),
        (200, 33.33),
        (300, 50.0),
        (400, 100.0),
    ] {
        let eligible = ids
            .iter()
            .filter(|id| decide(&p, &idx, &device(id, None), at(t)).action == Action::Install)
            .count();
        let share = eligible as f64 / 1000.0;
        assert!(
            (share - percent).abs() <= 1.0,
            "at wave {percent}%: {share}% eligible"
        );
    }
}

#[test]
fn zero_percent_is_nobody_and_hundred_is_everybody() {
    let idx = index(&["2.0.0"], &["armv7"]);
    let nobody = policy(&format!(
        "<target release=\"2.0.0\">{}</target>",
        waves(&[(0, "0")])
    ));
    let everybody = policy(&format!(
        "<target release=\"2.0.0\">{}</target>",
        waves(&[(0, "100")])
    ));
    for i in 0..2000 {
        let dev = device(&format!("d{i}"), Some("1.0.0"));
        assert_eq!(decide(&nobody, &idx, &dev, at(1000)).action, Action::Wait);
        assert_eq!(
            decide(&everybody, &idx, &dev, at(0)).action,
            Action::Install
        );
        assert_eq!(decide(&everybody, &idx, &dev, at(-1)).action, Action::Wait);
    }
}

#[test]
fn early_devices_and_groups_come_first() {
    let p = policy(&format!(
            "<target release=\"2.0.0\"><early device=\"AA:BB:CC:00:11:22\"/><early group=\"lab\"/>{}</target>",
            waves(&[(0, "0"), (86_400, "0"), (2 * 86_400, "100")])
        ));
    let idx = index(&["2.0.0"], &["armv7"]);
    let canary = device("aa:bb:cc:00:11:22", Some("1.0.0"));
    assert_eq!(decide(&p, &idx, &canary, at(-1)).action, Action::Wait);
    let d = decide(&p, &idx, &canary, at(0));
    assert_eq!(
        (d.action, d.reason.as_str()),
        (Action::Install, "install 2.0.0 now (an early device)")
    );
    let mut lab = device("somebody", Some("1.0.0"));
    lab.groups.insert("lab".into());
    assert_eq!(decide(&p, &idx, &lab, at(0)).action, Action::Install);
    assert_eq!(
        decide(&p, &idx, &device("somebody", Some("1.0.0")), at(0)).action,
        Action::Wait
    );
}

#[test]
fn halt_stops_everything_except_leaving_a_revoked_release() {
    let p = policy(&format!(
        "<target release=\"2.0.0\">{}</target><revoked release=\"1.5.0\"/><halt/>",
        waves(&[(0, "100")])
    ));
    let idx = index(&["1.0.0", "1.5.0", "2.0.0"], &["armv7"]);
    let d = decide(&p, &idx, &device("x", Some("1.0.0")), at(10));
    assert_eq!(
        (d.action, d.reason.as_str()),
        (
            Action::Stay,
            "channel \"stable\" is halted; staying on 1.0.0"
        )
    );
    let d = decide(&p, &idx, &device("x", Some("1.5.0")), at(10));
    assert_eq!(
        (d.action, d.reason.as_str()),
        (
            Action::Install,
            "running revoked 1.5.0; moving to 2.0.0 now"
        )
    );
}

#[test]
fn a_downgrade_happens_only_when_the_policy_says_so() {
    let idx = index(&["1.0.0", "2.0.0"], &["armv7"]);
    let plain = policy(&format!(
        "<target release=\"1.0.0\">{}</target>",
        waves(&[(0, "100")])
    ));
    let d = decide(&plain, &idx, &device("x", Some("2.0.0")), at(10));
    assert_eq!(d.action, Action::Stay);
    assert!(
        d.reason.contains("does not allow a downgrade"),
        "{}",
        d.reason
    );
    let explicit = policy(&format!(
        "<target release=\"1.0.0\" downgrade=\"true\">{}</target>",
        waves(&[(0, "100")])
    ));
    let d = decide(&explicit, &idx, &device("x", Some("2.0.0")), at(10));
    assert_eq!(d.action, Action::Install);
    assert!(
        d.reason.starts_with("downgrade from 2.0.0 to 1.0.0"),
        "{}",
        d.reason
    );
}

#[test]
fn stepping_stones_missing_releases_and_platforms() {
    let p = policy(&format!(
        "<target release=\"3.0.0\">{}</target><via release=\"2.0.0\" below=\"2.0.0\"/>",
        waves(&[(0, "100")])
    ));
    let idx = index(&["1.0.0", "2.0.0", "3.0.0"], &["armv7"]);
    let d = decide(&p, &idx, &device("x", Some("1.0.0")), at(10));
    assert_eq!(d.release.as_ref().map(Release::as_str), Some("2.0.0"));
    assert!(
        d.reason
            .starts_with("install stepping stone 2.0.0 (on the way to 3.0.0) now"),
        "{}",
        d.reason
    );
    let d = decide(&p, &idx, &device("x", Some("2.0.0")), at(10));
    assert_eq!(d.release.as_ref().map(Release::as_str), Some("3.0.0"));
    let mut riscv = device("x", Some("2.0.0"));
    riscv.platform = "riscv64".into();
    let d = decide(&p, &idx, &riscv, at(10));
    assert_eq!(
        d.reason,
        "no artifact for platform riscv64 in release 3.0.0; staying on 2.0.0"
    );
    let missing = index(&["1.0.0"], &["armv7"]);
    let d = decide(&p, &missing, &device("x", Some("2.0.0")), at(10));
    assert_eq!(
        d.reason,
        "release 3.0.0 is not in the signed index; staying on 2.0.0"
    );
}

#[test]
fn install_window_defers_the_install() {
    let p = parse(
            format!(
                "<policy><window days=\"mon-fri\" from=\"02:00\" to=\"04:00\"/><channel name=\"stable\"><target release=\"2.0.0\">{}</target></channel></policy>",
                waves(&[(0, "100")])
            )
            .as_bytes(),
        )
        .unwrap();
    let idx = index(&["2.0.0"], &["armv7"]);
    // 2026-11-20 is a Friday; 12:00 is outside the window, the next opening is Monday 02:00.
    let friday_noon = UtcTime::parse("2026-11-20T12:00:00Z").unwrap();
    let d = decide(&p, &idx, &device("x", Some("1.0.0")), friday_noon);
    assert_eq!(d.action, Action::Wait);
    assert_eq!(d.waiting_for, Some(Waiting::Window));
    assert_eq!(d.at, Some(UtcTime::parse("2026-11-23T02:00:00Z").unwrap()));
    let monday = UtcTime::parse("2026-11-23T03:59:00Z").unwrap();
    assert_eq!(
        decide(&p, &idx, &device("x", Some("1.0.0")), monday).at,
        Some(monday)
    );
}

fn arb_waves() -> impl Strategy<Value = Vec<(i64, u32)>> {
    prop::collection::vec((1i64..200_000, 0u32..=10_000), 1..6).prop_map(|steps| {
        let (mut t, mut s) = (0i64, 0u32);
        steps
            .into_iter()
            .map(|(dt, ds)| {
                t += dt;
                s = (s + ds / 4).min(10_000);
                (t, s)
            })
            .collect()
    })
}

fn to_waves(list: &[(i64, u32)]) -> Vec<Wave> {
    list.iter()
        .map(|(t, s)| Wave {
            start: at(*t),
            share: *s,
        })
        .collect()
}

proptest! {
    #[test]
    fn eligibility_never_shrinks_as_time_passes(w in arb_waves(), b in 0u32..10_000, t1 in -1000i64..1_500_000, dt in 0i64..500_000) {
        let waves = to_waves(&w);
        let eligible = |t: UtcTime| eligible_at(&waves, b).is_some_and(|(e, _)| e <= t);
        prop_assert!(!eligible(at(t1)) || eligible(at(t1 + dt)));
        // The moment reported agrees with the share at that moment.
        if let Some((e, _)) = eligible_at(&waves, b) {
            prop_assert!(share_at(&waves, e) > b);
            prop_assert!(share_at(&waves, e.plus_seconds(-1)) <= b);
        }
    }

    #[test]
    fn eligibility_never_shrinks_as_a_percent_grows(w in arb_waves(), b in 0u32..10_000, which in 0usize..6, more in 0u32..10_000) {
        let waves = to_waves(&w);
        let mut grown = waves.clone();
        let i = which % grown.len();
        // Raise wave i (and any later wave below it) so the shares stay in order.
        let raised = (grown[i].share + more).min(10_000);
        for wave in grown.iter_mut().skip(i) {
            wave.share = wave.share.max(raised);
        }
        match (eligible_at(&waves, b), eligible_at(&grown, b)) {
            (Some((before, _)), Some((after, _))) => prop_assert!(after <= before),
            (Some(_), None) => prop_assert!(false, "a larger percent left a device out"),
            _ => {}
        }
    }

    #[test]
    fn the_same_device_gets_the_same_answer(id in "[0-9a-f:]{1,20}", t in -1000i64..400_000) {
        let p = three_waves();
        let idx = index(&["1.0.0", "2.0.0"], &["armv7"]);
        let dev = device(&id, Some("1.0.0"));
        prop_assert_eq!(decide(&p, &idx, &dev, at(t)), decide(&p, &idx, &dev, at(t)));
    }
}
