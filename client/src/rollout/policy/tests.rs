use super::*;

const GOOD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<!-- rollout of 2.4.1 -->
<policy>
  <check every="6h" jitter="30m"/>
  <window days="mon-fri" from="02:00" to="04:00"/>
  <channel name="stable">
    <target release="2.4.1">
      <early device="00:11:22:33:44:55"/>
      <early group="lab"/>
      <wave start="2026-11-23T00:00:00Z" percent="10"/>
      <wave start="2026-11-24T00:00:00Z" percent="50"/>
      <wave start="2026-11-26T00:00:00Z" percent="100"/>
    </target>
    <via release="2.0.0" below="2.0.0"/>
    <revoked release="2.3.0"/>
  </channel>
  <channel name="beta">
    <target release="2.5.0-rc1"><wave start="2026-11-20T00:00:00Z" percent="12.5"/></target>
    <halt/>
  </channel>
</policy>
"#;

fn error_of(text: &str) -> PolicyError {
    parse(text.as_bytes()).expect_err("must be refused")
}

#[test]
fn reads_every_part() {
    let p = parse(GOOD.as_bytes()).unwrap();
    assert_eq!(p.check_every, "6h".parse().unwrap());
    assert_eq!(
        p.window.as_ref().unwrap().days,
        [true, true, true, true, true, false, false]
    );
    let stable = &p.channels["stable"];
    let target = stable.target.as_ref().unwrap();
    assert_eq!(target.release.as_str(), "2.4.1");
    assert_eq!(
        target.waves.iter().map(|w| w.share).collect::<Vec<_>>(),
        [1000, 5000, 10_000]
    );
    assert!(target.early_devices.contains("00:11:22:33:44:55"));
    assert!(stable.revoked.contains(&Release::new("2.3.0").unwrap()));
    assert_eq!(stable.vias.len(), 1);
    assert!(p.channels["beta"].halt);
    assert_eq!(
        p.channels["beta"].target.as_ref().unwrap().waves[0].share,
        1250
    );
}

#[test]
fn wrong_values_are_refused_with_their_line() {
    let cases = [
            (
                GOOD.replace("<halt/>", "<hlat/>"),
                19,
                "unknown element <hlat>",
            ),
            (
                GOOD.replace("percent=\"50\"", "percnt=\"50\""),
                11,
                "<wave> has no attribute \"percnt\"",
            ),
            (
                GOOD.replace("percent=\"50\"", "percent=\"150\""),
                11,
                "must be a number from 0 to 100",
            ),
            (
                GOOD.replace("percent=\"50\"", "percent=\"-5\""),
                11,
                "must be a number from 0 to 100",
            ),
            (
                GOOD.replace("2026-11-24T00:00:00Z", "2026-11-22T00:00:00Z"),
                11,
                "waves must be in time order",
            ),
            (
                GOOD.replace("percent=\"50\"", "percent=\"5\""),
                11,
                "percent may not go down",
            ),
            (
                GOOD.replace("2026-11-24T00:00:00Z", "tomorrow"),
                11,
                "<wave start>: \"tomorrow\" is not a time",
            ),
            (
                GOOD.replace("2026-11-23T00:00:00Z", "-2026-11-23T00:00:00Z"),
                10,
                "<wave start>: \"-2026-11-23T00:00:00Z\" is not a time of the form YYYY-MM-DDTHH:MM:SSZ",
            ),
            (
                GOOD.replace("2026-11-23T00:00:00Z", "1026-11-23T00:00:00Z"),
                10,
                "<wave start>: \"1026-11-23T00:00:00Z\" is before 1970-01-01T00:00:00Z",
            ),
            (
                GOOD.replace("from=\"02:00\"", "from=\"+2:00\""),
                5,
                "<window from>: \"+2:00\" is not a time of day HH:MM",
            ),
            (
                GOOD.replace("to=\"04:00\"", "to=\"04:-0\""),
                5,
                "<window to>: \"04:-0\" is not a time of day HH:MM",
            ),
        ];
    assert_refused_at(&cases);
}

#[test]
fn wrong_structure_is_refused_with_their_line() {
    let cases = [
            (
                GOOD.replace("name=\"beta\"", "name=\"stable\""),
                17,
                "channel \"stable\" is defined twice",
            ),
            (
                GOOD.replace("every=\"6h\"", "every=\"6 hours\""),
                4,
                "is not a period",
            ),
            (
                GOOD.replace("from=\"02:00\"", "from=\"25:00\""),
                5,
                "is not a time of day",
            ),
            (
                GOOD.replace("<via release", "<wave release"),
                14,
                "<wave> is not allowed inside <channel>",
            ),
            (
                GOOD.replace("release=\"2.3.0\"", "release=\"../x\""),
                15,
                "release \"../x\" must be 1-128 characters of letters, digits and . _ + - ~ (and not . or ..)",
            ),
            (
                GOOD.replace("<halt/>", "halt"),
                19,
                "unexpected text \"halt\"",
            ),
            (
                GOOD.replace("<halt/>", "<![CDATA[x]]>"),
                19,
                "CDATA is not allowed",
            ),
        ];
    assert_refused_at(&cases);
    assert!(
        error_of("<policy><channel name=\"a\"><target release=\"1\"/></channel></policy>")
            .message
            .contains("has no <wave>")
    );
}

/// Each policy text is refused at its line with a message containing the needle.
fn assert_refused_at(cases: &[(String, usize, &str)]) {
    for (text, line, needle) in cases {
        let e = error_of(text);
        assert!(e.message.contains(needle), "{needle}: got {e}");
        assert_eq!(e.line, *line, "{needle}: got {e}");
    }
}

#[test]
fn lines_are_counted_right_however_far_into_a_large_policy() {
    let devices: String = (0..30_000)
        .map(|i| format!("      <early device=\"d{i:06}\"/>\n"))
        .collect();
    let big = GOOD.replace(
        "      <early group=\"lab\"/>\n",
        &format!("{devices}      <early group=\"lab\"/>\n"),
    );
    let p = parse(big.as_bytes()).unwrap();
    let target = p.channels["stable"].target.as_ref().unwrap();
    assert_eq!(target.early_devices.len(), 30_001);
    // Line 8 and on moved down by 30,000: the mistake is on line 30,019.
    let e = error_of(&big.replace("<halt/>", "<hlat/>"));
    assert_eq!(
        (e.line, e.message.as_str()),
        (
            30_019,
            "unknown element <hlat>: inside <channel> the elements are <target>, <via>, <revoked>, <halt>"
        )
    );
    let e = error_of(&big.replace("percent=\"50\"", "percent=\"5\""));
    assert_eq!(e.line, 30_011, "{e}");
}

#[test]
fn billion_laughs_is_refused_at_the_dtd() {
    let mut bomb =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE policy [\n<!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        bomb.push_str(&format!(
            "<!ENTITY lol{i} \"{}\">\n",
            format!("&lol{};", i - 1).repeat(10)
        ));
    }
    bomb.push_str("]>\n<policy><channel name=\"&lol9;\"/></policy>\n");
    let e = error_of(&bomb);
    assert!(e.message.contains("DTD is not allowed"), "{e}");
}

#[test]
fn external_entities_are_refused() {
    let xxe = "<?xml version=\"1.0\"?>\n<!DOCTYPE policy [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n<policy><channel name=\"&x;\"/></policy>";
    assert!(error_of(xxe).message.contains("DTD is not allowed"));
    // Without a DTD the reference is unknown, and refused as such.
    let undeclared = "<policy><channel name=\"&x;\"/></policy>";
    let e = error_of(undeclared);
    assert!(e.message.contains("<channel name>"), "{e}");
}

#[test]
fn deep_nesting_stops_at_the_first_unexpected_element() {
    let depth = 10_000;
    let text = format!("{}{}", "<policy>".repeat(depth), "</policy>".repeat(depth));
    let e = error_of(&text);
    assert_eq!(
        (e.line, e.message.as_str()),
        (1, "<policy> is not allowed inside <policy>")
    );
    let text = format!("<policy>{}", "<x>".repeat(depth));
    assert!(error_of(&text).message.contains("unknown element <x>"));
}

#[test]
fn oversized_and_invalid_utf8_input_is_refused() {
    let big = format!("<policy>{}</policy>", " ".repeat(50 * 1024 * 1024));
    let e = error_of(&big);
    assert_eq!(e.line, 0);
    assert!(
        e.message.contains("larger than the limit of 1048576 bytes"),
        "{e}"
    );
    let mut bad = b"<policy>\n<channel name=\"".to_vec();
    bad.extend_from_slice(&[0xff, 0xfe]);
    bad.extend_from_slice(b"\"/></policy>");
    let e = parse(&bad).unwrap_err();
    assert_eq!(
        (e.line, e.message.as_str()),
        (2, "invalid UTF-8 at byte 24")
    );
}

/// One rule for ids and groups, on both sides: `Ärger-01` in the policy is the device
/// configured as `ärger-01` (or with a decomposed `Ä`), and the same for a group.
#[test]
fn early_ids_and_groups_match_under_one_unicode_rule() {
    use crate::rollout::decide::{decide, Action, Device, Index};
    let p = parse(
        "<policy><channel name=\"stable\"><target release=\"2.0.0\">\n\
         <early device=\"Ärger-01\"/>\n<early group=\"Équipe-Nord\"/>\n\
         <wave start=\"2026-01-01T00:00:00Z\" percent=\"0\"/>\n\
         </target></channel></policy>"
            .as_bytes(),
    )
    .unwrap();
    assert!(p.early_repeats.is_empty());
    let targets = serde_json::from_value(serde_json::json!({
        "_type": "targets", "spec_version": "1.0.31", "version": 1,
        "expires": "2030-01-01T00:00:00Z",
        "targets": {"releases/2.0.0/armv7/app.bin": {"length": 1, "hashes": {"sha512": "00"}}}
    }))
    .unwrap();
    let index = Index::from_targets(&targets).unwrap();
    let now = crate::datetime::UtcTime::parse("2026-01-02T00:00:00Z").unwrap();
    let device = |id: &str, group: Option<&str>| Device {
        id: id.into(),
        platform: "armv7".into(),
        channel: "stable".into(),
        groups: group.into_iter().map(str::to_owned).collect(),
        running: Some(Release::new("1.0.0").unwrap()),
    };
    for (id, group) in [
        ("ärger-01", None),
        ("A\u{308}RGER-01", None),
        ("somebody", Some("équipe-nord")),
        ("somebody", Some("E\u{301}QUIPE-NORD")),
    ] {
        let d = decide(&p, &index, &device(id, group), now);
        assert_eq!(d.action, Action::Install, "{id} {group:?}: {}", d.reason);
    }
    let d = decide(&p, &index, &device("somebody", Some("equipe-nord")), now);
    assert_eq!(d.action, Action::Wait, "{}", d.reason);
}

/// Two spellings of one name are read once by a device and recorded for `repo` to refuse.
#[test]
fn early_entries_that_collide_under_the_rule_are_recorded() {
    let p = parse(
        "<policy><channel name=\"stable\"><target release=\"2.0.0\">\n\
         <early device=\"Ärger-01\"/>\n<early device=\"ärger-01\"/>\n\
         <early group=\"lab\"/>\n<early group=\"LAB\"/>\n\
         <wave start=\"2026-01-01T00:00:00Z\" percent=\"0\"/>\n\
         </target></channel></policy>"
            .as_bytes(),
    )
    .unwrap();
    let target = p.channels["stable"].target.as_ref().unwrap();
    assert_eq!(target.early_devices.len(), 1);
    assert_eq!(target.early_groups.len(), 1);
    let repeats: Vec<String> = p.early_repeats.iter().map(|e| e.to_string()).collect();
    assert_eq!(
        repeats,
        [
            "policy.xml line 3: <early device=\"ärger-01\"> names the same device as \"Ärger-01\" on line 2 (ids and groups match after NFC and lower-casing)",
            "policy.xml line 5: <early group=\"LAB\"> names the same group as \"lab\" on line 4 (ids and groups match after NFC and lower-casing)",
        ]
    );
}

#[test]
fn a_restart_moves_every_wave_by_one_span() {
    let text = GOOD.replace(
        r#"<target release="2.4.1">"#,
        r#"<target release="2.4.1" restart="2026-12-01T12:00:00Z">"#,
    );
    let p = parse(text.as_bytes()).unwrap();
    let target = p.channels["stable"].target.as_ref().unwrap();
    let starts: Vec<String> = target.waves.iter().map(|w| w.start.to_string()).collect();
    assert_eq!(
        starts,
        [
            "2026-12-01T12:00:00Z",
            "2026-12-02T12:00:00Z",
            "2026-12-04T12:00:00Z"
        ]
    );
    assert_eq!(
        target.restart,
        Some(UtcTime::parse("2026-12-01T12:00:00Z").unwrap())
    );
}

#[test]
fn a_restart_must_come_after_the_first_wave_and_keep_every_wave_in_range() {
    let at = |restart: &str| {
        GOOD.replace(
            r#"<target release="2.4.1">"#,
            &format!(r#"<target release="2.4.1" restart="{restart}">"#),
        )
    };
    assert_eq!(
        error_of(&at("2026-11-23T00:00:00Z")).to_string(),
        "policy.xml: channel \"stable\": target 2.4.1 restarts at 2026-11-23T00:00:00Z, which is not after its first wave (2026-11-23T00:00:00Z)"
    );
    assert_eq!(
        error_of(&at("9999-12-30T00:00:00Z")).to_string(),
        "policy.xml: channel \"stable\": target 2.4.1 restarting at 9999-12-30T00:00:00Z moves its wave of 2026-11-26T00:00:00Z past 9999"
    );
    let bad = error_of(&at("soon"));
    assert!(
        bad.message
            .starts_with("<target restart>: \"soon\" is not a time"),
        "{bad}"
    );
}
