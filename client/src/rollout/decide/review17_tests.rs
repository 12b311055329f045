//! Review 17 (hostile review of the rollout logic): reproductions of what the README and
//! docs/plan-json.md promise but `decide` does not keep.

use super::*;
use crate::rollout::index::of_release_files as index;
use crate::rollout::policy::parse;
use crate::rollout::stranded::stranded;

fn policy(body: &str) -> Policy {
    parse(format!("<policy><channel name=\"stable\">{body}</channel></policy>").as_bytes()).unwrap()
}

fn device(running: &str) -> Device {
    Device {
        id: "kiosk-17".into(),
        platform: "armv7".into(),
        channel: "stable".into(),
        groups: BTreeSet::new(),
        running: Some(Release::new(running).unwrap()),
    }
}

fn now() -> UtcTime {
    UtcTime::parse("2026-12-01T12:00:00Z").unwrap()
}

const EVERYONE: &str = "<wave start=\"2026-01-01T00:00:00Z\" percent=\"100\"/>";

/// `<via release="1.0.0" below="2.0.0"/>` is accepted (release is not above below), and
/// `repo policy check` finds nothing stranded; yet a device running 1.5.0 (below 2.0.0,
/// above the stone) is sent *back* to the stone, which `decide` then refuses as a
/// downgrade: the device stays on 1.5.0 for good, told that "the target" is 1.0.0.
#[test]
fn a_stepping_stone_below_the_running_release_strands_the_device() {
    let idx = index(&[
        ("0.5.0", "armv7"),
        ("1.0.0", "armv7"),
        ("1.5.0", "armv7"),
        ("3.0.0", "armv7"),
    ]);
    let p = policy(&format!(
        "<target release=\"3.0.0\">{EVERYONE}</target><via release=\"1.0.0\" below=\"2.0.0\"/>"
    ));
    assert!(
        stranded(&p, &idx).is_empty(),
        "repo policy check accepts it"
    );
    let d = decide(&p, &idx, &device("1.5.0"), now());
    assert_eq!(
        (d.action, d.release.as_ref().map(Release::to_string)),
        (Action::Install, Some("3.0.0".to_owned())),
        "{}",
        d.reason
    );
}

/// The same stone with `downgrade="true"` on the target: the device on 1.5.0 is moved back
/// to 1.0.0 (a downgrade nobody asked for), then forward to 3.0.0.
#[test]
fn a_stepping_stone_never_moves_a_device_backwards() {
    let idx = index(&[("1.0.0", "armv7"), ("1.5.0", "armv7"), ("3.0.0", "armv7")]);
    let p = policy(&format!(
        "<target release=\"3.0.0\" downgrade=\"true\">{EVERYONE}</target><via release=\"1.0.0\" below=\"2.0.0\"/>"
    ));
    let d = decide(&p, &idx, &device("1.5.0"), now());
    assert_eq!(
        d.release.as_ref().map(Release::to_string),
        Some("3.0.0".to_owned()),
        "{}",
        d.reason
    );
}

/// The one rule for ids and groups is applied once on each side; it must give the same
/// form when applied to its own output (a policy author who copies the id `plan --json`
/// prints must match the device).
#[test]
fn the_matching_form_is_its_own_matching_form() {
    let tricky = [
        "İ\u{316}",
        "ΟΔΟΣ",
        "ΟΔΟΣ-1",
        "STRAẞE",
        "\u{212A}elvin",
        "A\u{30A}\u{323}",
        "Ω\u{345}\u{301}",
        "ǅ",
        "ﬀ",
        "I\u{307}\u{316}",
    ];
    for s in tricky {
        let once = crate::conventions::matching_form(s);
        assert_eq!(crate::conventions::matching_form(&once), once, "{s:?}");
    }
    for c in (0u32..0x3_0000).filter_map(char::from_u32) {
        for m in ["", "\u{316}", "\u{301}", "\u{345}"] {
            let s = format!("{c}{m}");
            let once = crate::conventions::matching_form(&s);
            assert_eq!(
                crate::conventions::matching_form(&once),
                once,
                "{s:?} -> {once:?}"
            );
        }
    }
}

/// Against many windows (crossing midnight, one minute long, one day a week), moments and
/// random draws: `run` never wakes at `now` again (no tight loop), never sleeps past the
/// moment `plan` announced plus the window's remaining half, and when it wakes at or after
/// `at`, the decision there is to install.
#[test]
fn run_wakes_inside_the_window_plan_announces_and_installs_there() {
    use crate::rollout::wake::{next_wake, WakePlan};
    let windows = [
        "<window days=\"mon-fri\" from=\"02:00\" to=\"04:00\"/>",
        "<window days=\"sun\" from=\"23:59\" to=\"00:00\"/>",
        "<window days=\"fri\" from=\"22:00\" to=\"02:00\"/>",
        "<window from=\"12:00\" to=\"12:01\"/>",
        "<window days=\"sat,mon\" from=\"23:00\" to=\"00:30\"/>",
        "",
    ];
    let idx = index(&[("1.0.0", "armv7"), ("2.0.0", "armv7")]);
    let start = UtcTime::parse("2026-11-23T00:00:00Z").unwrap();
    for window in windows {
        let xml = format!(
            "<policy><check every=\"6h\" jitter=\"30m\"/>{window}<channel name=\"stable\"><target release=\"2.0.0\"><wave start=\"2026-11-23T00:00:00Z\" percent=\"5\"/><wave start=\"2026-11-26T00:00:00Z\" percent=\"100\"/></target></channel></policy>"
        );
        let p = parse(xml.as_bytes()).unwrap();
        for step in 0..300i64 {
            let now = start.plus_seconds(step * 7 * 60 * 7 + 13);
            for id in ["a", "b", "c", "d"] {
                let mut dev = device("1.0.0");
                dev.id = id.into();
                let d = decide(&p, &idx, &dev, now);
                for random in [0u64, u64::MAX, 0x8000_0000_8000_0000, 0x1234_5678_9abc_def0] {
                    let wake = next_wake(&WakePlan::new(&p, &d), now, random);
                    assert!(wake > now, "{window} {now} {d:?}");
                    let Some(at) = d.at.filter(|_| d.action == Action::Wait) else {
                        continue;
                    };
                    if wake < at {
                        continue;
                    }
                    if let Some(w) = &p.window {
                        assert!(in_window(w, wake), "{window} {now} {wake} {d:?}");
                    }
                    let later = decide(&p, &idx, &dev, wake);
                    assert_eq!(
                        later.action,
                        Action::Install,
                        "{window} {now} {wake} {later:?}"
                    );
                }
            }
        }
    }
}

/// A platform retired on purpose (armv6 last shipped in 1.0.0; its devices sit in a
/// `legacy` channel whose target is 1.0.0) makes every later target of every other channel
/// "stranding" for ever: the index keeps 1.0.0's armv6 artifact, knows no channels, and
/// `repo` has no way to say "no armv6 device is in this channel". A sane policy refused.
#[test]
fn a_retired_platform_in_another_channel_does_not_block_the_policy() {
    let idx = index(&[("1.0.0", "armv6"), ("1.0.0", "armv7"), ("2.0.0", "armv7")]);
    let xml = format!(
        "<policy><channel name=\"legacy\"><target release=\"1.0.0\">{EVERYONE}</target></channel><channel name=\"stable\"{{declared}}><target release=\"2.0.0\">{EVERYONE}</target></channel></policy>"
    );
    let found = |declared: &str| -> Vec<String> {
        let p = parse(xml.replace("{declared}", declared).as_bytes()).unwrap();
        stranded(&p, &idx).iter().map(|s| s.to_string()).collect()
    };
    // Inferred from the index, armv6 counts: refused, naming it.
    assert_eq!(
        found(""),
        ["channel \"stable\": target 2.0.0 has no artifact for platform armv6, so armv6 devices running 1.0.0 cannot move to it"]
    );
    // Declared by the release admin, only armv7 counts.
    assert!(found(" platforms=\"armv7\"").is_empty());
}

/// A device leaving a revoked release below a stepping stone passes through the stone (it
/// used to go straight to the target, skipping the step the `via` row promises).
/// Was: a device on a revoked release below a stepping stone goes straight to the target,
/// skipping the stone the policy says every device below `below` installs first (the
/// README's `via` row). The code and `stranded` do it on purpose ("a device on a revoked
/// release goes straight to the target"), but the two README rows contradict each other.
#[test]
fn leaving_a_revoked_release_still_passes_through_the_stepping_stone() {
    let idx = index(&[("0.5.0", "armv7"), ("1.0.0", "armv7"), ("2.0.0", "armv7")]);
    let p = policy(&format!(
        "<target release=\"2.0.0\">{EVERYONE}</target><via release=\"1.0.0\" below=\"1.0.0\"/><revoked release=\"0.5.0\"/>"
    ));
    let d = decide(&p, &idx, &device("0.5.0"), now());
    assert_eq!(
        d.release.as_ref().map(Release::to_string),
        Some("1.0.0".to_owned()),
        "{}",
        d.reason
    );
}
