//! `decide`'s schedule step: one meaning per field. `install` is now; a `wait` carries the
//! moment the install can happen, window included, and what it waits for.

use super::*;
use crate::rollout::policy::parse;

fn t(text: &str) -> UtcTime {
    UtcTime::parse(text).unwrap()
}

fn index() -> Index {
    let targets = serde_json::json!({
        "_type": "targets", "spec_version": "1.0.31", "version": 1,
        "expires": "2030-01-01T00:00:00Z",
        "targets": {"releases/2.0.0/armv7/app.bin": {"length": 1, "hashes": {"sha512": "00"}}}
    });
    Index::from_targets(&serde_json::from_value(targets).unwrap()).unwrap()
}

fn device(id: &str) -> Device {
    Device {
        id: id.into(),
        platform: "armv7".into(),
        channel: "stable".into(),
        groups: BTreeSet::new(),
        running: Some(Release::new("1.0.0").unwrap()),
    }
}

/// The README's example: weekdays 02:00-04:00, 10% on Monday 2026-11-23, a ramp to 50% by
/// Tuesday and to 100% by Thursday.
fn readme_policy(extra: &str) -> Policy {
    parse(
        format!(
            r#"<policy><check every="6h" jitter="30m"/><window days="mon-fri" from="02:00" to="04:00"/>
<channel name="stable"><target release="2.0.0">
<wave start="2026-11-23T00:00:00Z" percent="10"/><wave start="2026-11-24T00:00:00Z" percent="50"/>
<wave start="2026-11-26T00:00:00Z" percent="100"/></target>{extra}</channel></policy>"#
        )
        .as_bytes(),
    )
    .unwrap()
}

/// A device id whose bucket for 2.0.0 lies in `range`.
fn id_in(range: std::ops::Range<u32>) -> String {
    let release = Release::new("2.0.0").unwrap();
    (0..)
        .map(|i| format!("dev-{i}"))
        .find(|id| range.contains(&bucket("stable", &release, id)))
        .unwrap()
}

#[test]
fn install_means_now_and_at_is_now() {
    let p = readme_policy("");
    let now = t("2026-11-23T02:30:00Z");
    let d = decide(&p, &index(), &device(&id_in(0..1000)), now);
    assert_eq!(
        (d.action, d.at, d.waiting_for),
        (Action::Install, Some(now), None)
    );
}

#[test]
fn an_eligible_device_outside_the_window_waits_for_its_opening() {
    let p = readme_policy("");
    let d = decide(
        &p,
        &index(),
        &device(&id_in(0..1000)),
        t("2026-11-23T12:00:00Z"),
    );
    assert_eq!(d.action, Action::Wait);
    assert_eq!(d.waiting_for, Some(Waiting::Window));
    assert_eq!(d.at, Some(t("2026-11-24T02:00:00Z")));
}

#[test]
fn a_wait_for_the_wave_names_a_moment_inside_the_window() {
    let p = readme_policy("");
    // A bucket the Monday-Tuesday ramp reaches in the afternoon: eligible at a moment
    // outside the window, installing at the next opening (Tuesday 02:00).
    let id = id_in(2000..2100);
    let d = decide(&p, &index(), &device(&id), t("2026-11-23T01:00:00Z"));
    assert_eq!(d.action, Action::Wait);
    assert_eq!(d.waiting_for, Some(Waiting::Wave));
    assert_eq!(d.at, Some(t("2026-11-24T02:00:00Z")), "{}", d.reason);
    assert!(
        d.reason
            .contains("installing at 2026-11-24T02:00:00Z when the install window opens"),
        "{}",
        d.reason
    );
    // At that moment it installs.
    let then = decide(&p, &index(), &device(&id), t("2026-11-24T02:00:00Z"));
    assert_eq!(then.action, Action::Install);
}

#[test]
fn eligibility_inside_the_window_is_the_moment_itself() {
    let p = readme_policy("");
    // The ramp Tuesday-Thursday adds 5000 basis points in 48 hours (about 104 an hour), so
    // buckets 5250..5260 become eligible around 02:30 on Tuesday.
    let id = id_in(5250..5260);
    let d = decide(&p, &index(), &device(&id), t("2026-11-24T01:00:00Z"));
    assert_eq!(d.waiting_for, Some(Waiting::Wave));
    let at = d.at.unwrap();
    assert!(
        at > t("2026-11-24T02:00:00Z") && at < t("2026-11-24T04:00:00Z"),
        "{at}"
    );
    assert!(!d.reason.contains("window opens"), "{}", d.reason);
}

#[test]
fn halted_and_out_of_the_rollout_say_what_they_wait_for() {
    let halted = decide(
        &readme_policy("<halt/>"),
        &index(),
        &device("x"),
        t("2026-11-27T02:00:00Z"),
    );
    assert_eq!(
        (halted.action, halted.at, halted.waiting_for),
        (Action::Stay, None, Some(Waiting::Halt))
    );
    let p = parse(
        br#"<policy><channel name="stable"><target release="2.0.0"><wave start="2026-11-23T00:00:00Z" percent="10"/></target></channel></policy>"#,
    )
    .unwrap();
    let out = decide(
        &p,
        &index(),
        &device(&id_in(5000..10_000)),
        t("2026-11-27T02:00:00Z"),
    );
    assert_eq!(
        (out.action, out.at, out.waiting_for),
        (Action::Wait, None, Some(Waiting::Rollout))
    );
}

#[test]
fn the_window_helpers_agree() {
    let p = readme_policy("");
    let w = p.window.as_ref().unwrap();
    assert_eq!(
        open_from(w, t("2026-11-23T03:00:00Z")),
        t("2026-11-23T03:00:00Z")
    );
    assert_eq!(
        open_from(w, t("2026-11-21T03:00:00Z")),
        t("2026-11-23T02:00:00Z")
    );
    assert_eq!(
        closes_after(w, t("2026-11-23T03:00:00Z")),
        t("2026-11-23T04:00:00Z")
    );
    let night = parse(br#"<policy><window from="22:00" to="02:00"/></policy>"#).unwrap();
    let n = night.window.as_ref().unwrap();
    assert_eq!(
        closes_after(n, t("2026-11-23T23:00:00Z")),
        t("2026-11-24T02:00:00Z")
    );
    assert_eq!(
        closes_after(n, t("2026-11-24T01:00:00Z")),
        t("2026-11-24T02:00:00Z")
    );
}

proptest::proptest! {
    /// Over any moment, device and window: `install` is now; a `wait` with a moment names
    /// one after now and inside the window; `run`'s wake-up is after now and never later
    /// than that moment's window allows.
    #[test]
    fn install_is_now_and_a_wait_names_a_moment_inside_the_window(
        offset in 0i64..14 * 86_400,
        device_number in 0u32..100_000,
        from in 0u32..24,
        hours in 1u32..24,
        random: u64,
    ) {
        let to = (from + hours) % 24;
        let p = parse(format!(
            r#"<policy><check every="6h" jitter="30m"/><window days="mon-fri" from="{from:02}:00" to="{to:02}:00"/>
<channel name="stable"><target release="2.0.0">
<wave start="2026-11-23T00:00:00Z" percent="10"/><wave start="2026-11-26T00:00:00Z" percent="100"/>
</target></channel></policy>"#
        ).as_bytes()).unwrap();
        let w = p.window.as_ref().unwrap();
        let now = t("2026-11-22T00:00:00Z").plus_seconds(offset);
        let d = decide(&p, &index(), &device(&format!("dev-{device_number}")), now);
        match d.action {
            Action::Install => {
                proptest::prop_assert_eq!(d.at, Some(now));
                proptest::prop_assert!(in_window(w, now));
            }
            Action::Wait => {
                if let Some(at) = d.at {
                    proptest::prop_assert!(at > now && in_window(w, at), "{}", d.reason);
                }
            }
            Action::Stay => proptest::prop_assert_eq!(d.at, None),
        }
        let plan = crate::rollout::wake::WakePlan::new(&p, &d);
        let wake = crate::rollout::wake::next_wake(&plan, now, random);
        proptest::prop_assert!(wake > now);
        if let (Action::Wait, Some(at)) = (d.action, d.at) {
            // Waking for the moment: inside the same opening of the window.
            if wake >= at {
                proptest::prop_assert!(wake < closes_after(w, at), "{wake} for {at}");
            }
        }
    }
}
