use super::*;
use crate::rollout::index::of_release_files as index;
use crate::rollout::policy::parse;

fn findings(body: &str, idx: &Index) -> Vec<String> {
    let xml = format!("<policy><channel name=\"stable\">{body}</channel></policy>");
    let policy = parse(xml.as_bytes()).unwrap();
    stranded(&policy, idx)
        .iter()
        .map(|s| s.to_string())
        .collect()
}

const WAVE: &str = "<wave start=\"2026-01-01T00:00:00Z\" percent=\"100\"/>";

#[test]
fn a_revocation_without_a_target_strands_its_devices() {
    let idx = index(&[("1.0.0", "armv7"), ("1.1.0", "armv7")]);
    assert_eq!(
        findings("<revoked release=\"1.1.0\"/>", &idx),
        ["channel \"stable\" revokes 1.1.0 but has no <target>, so devices running 1.1.0 cannot leave it"]
    );
    // No target and no revocation: nobody is asked to move.
    assert!(findings("", &idx).is_empty());
}

#[test]
fn a_target_missing_a_platform_of_an_earlier_release_strands_those_devices() {
    let idx = index(&[
        ("1.0.0", "armv7"),
        ("1.0.0", "x86_64"),
        ("1.1.0", "x86_64"),
        ("2.0.0", "armv7"),
        ("3.0.0", "riscv"),
    ]);
    let target = format!("<target release=\"2.0.0\">{WAVE}</target>");
    assert_eq!(
        findings(&target, &idx),
        ["channel \"stable\": target 2.0.0 has no artifact for platform x86_64, so x86_64 devices running 1.0.0 or 1.1.0 cannot move to it"]
    );
    // Newer releases count only when the policy moves their devices back.
    let back = format!("<target release=\"2.0.0\" downgrade=\"true\">{WAVE}</target>");
    assert_eq!(findings(&back, &idx).len(), 2);
    assert!(findings(&back, &idx)[0].contains("platform riscv, so riscv devices running 3.0.0"));
}

#[test]
fn a_revoked_release_above_the_target_counts() {
    let idx = index(&[("2.0.0", "armv7"), ("3.0.0", "riscv")]);
    let body = format!("<target release=\"2.0.0\">{WAVE}</target><revoked release=\"3.0.0\"/>");
    assert_eq!(
        findings(&body, &idx),
        ["channel \"stable\": target 2.0.0 has no artifact for platform riscv, so riscv devices running 3.0.0 cannot move to it"]
    );
}

#[test]
fn a_stepping_stone_missing_a_platform_strands_the_devices_below_it() {
    let idx = index(&[
        ("1.0.0", "armv7"),
        ("1.0.0", "x86_64"),
        ("1.5.0", "armv7"),
        ("2.0.0", "armv7"),
        ("2.0.0", "x86_64"),
    ]);
    let body = format!(
        "<target release=\"2.0.0\">{WAVE}</target><via release=\"1.5.0\" below=\"1.5.0\"/>"
    );
    assert_eq!(
        findings(&body, &idx),
        ["channel \"stable\": stepping stone 1.5.0 has no artifact for platform x86_64, so x86_64 devices running 1.0.0 cannot move to it"]
    );
    // Devices leaving a revoked release pass through the stepping stone too: still stranded.
    let revoked = format!("{body}<revoked release=\"1.0.0\"/>");
    assert_eq!(findings(&revoked, &idx), findings(&body, &idx));
}
