//! Each refusal of the typestate, on a repository `repo` wrote (fuzz/fixtures: root,
//! timestamp, snapshot and targets version 1, made 2026-11-23).
use super::*;

const ROOT: &[u8] = include_bytes!("../../../fuzz/fixtures/1.root.json");
const TIMESTAMP: &[u8] = include_bytes!("../../../fuzz/fixtures/timestamp.json");
const SNAPSHOT: &[u8] = include_bytes!("../../../fuzz/fixtures/1.snapshot.json");
const TARGETS: &[u8] = include_bytes!("../../../fuzz/fixtures/1.targets.json");

fn at(text: &str) -> TrustedRoot {
    let now = UtcTime::parse(text).unwrap();
    SelfSignedRoot::parse(ROOT).unwrap().trust(now)
}

fn flipped(bytes: &[u8]) -> Vec<u8> {
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.replacen("\"version\": 1", "\"version\": 2", 1)
        .into_bytes()
}

#[test]
fn the_whole_order_is_accepted() {
    let (t, fresh) = at("2026-11-24T00:00:00Z")
        .load_timestamp(TIMESTAMP)
        .unwrap();
    assert_eq!(fresh, Freshness::New);
    let s = t.load_snapshot(SNAPSHOT, Origin::Mirror).unwrap();
    let complete = s.load_targets(TARGETS).unwrap();
    assert_eq!(complete.targets().version.get(), 1);
    assert!(complete
        .targets_role(&RoleName::targets(), &RoleName::root())
        .is_some());
}

#[test]
fn the_same_timestamp_again_is_nothing_new() {
    let mut root = at("2026-11-24T00:00:00Z");
    root.remember_timestamp(TIMESTAMP).unwrap();
    let (_, fresh) = root.load_timestamp(TIMESTAMP).unwrap();
    assert_eq!(fresh, Freshness::Same);
}

#[test]
fn an_expired_timestamp_is_refused_and_the_stage_handed_back() {
    let refused = at("2026-11-25T00:00:00Z")
        .load_timestamp(TIMESTAMP)
        .unwrap_err();
    assert!(
        matches!(refused.error, Error::Expired { .. }),
        "{:?}",
        refused.error
    );
    // The stage comes back, holding the expired one as its rollback reference.
    assert!(refused.state.previous_timestamp.is_some());
}

#[test]
fn a_changed_signed_body_is_refused_at_every_stage() {
    let refused = at("2026-11-24T00:00:00Z")
        .load_timestamp(&flipped(TIMESTAMP))
        .unwrap_err();
    assert!(
        matches!(refused.error, Error::ThresholdNotMet { .. }),
        "{:?}",
        refused.error
    );
    let (t, _) = refused.state.load_timestamp(TIMESTAMP).unwrap();
    // From a mirror, the snapshot's bytes must match what the timestamp lists.
    let refused = t
        .load_snapshot(&flipped(SNAPSHOT), Origin::Mirror)
        .unwrap_err();
    assert!(
        matches!(
            refused.error,
            Error::LengthMismatch { .. } | Error::HashMismatch { .. }
        ),
        "{:?}",
        refused.error
    );
    let s = refused
        .state
        .load_snapshot(SNAPSHOT, Origin::Mirror)
        .unwrap();
    let refused = s.load_targets(&flipped(TARGETS)).unwrap_err();
    assert!(refused.state.load_targets(TARGETS).is_ok());
}

#[test]
fn a_delegated_role_the_targets_do_not_delegate_is_not_listed() {
    let (t, _) = at("2026-11-24T00:00:00Z")
        .load_timestamp(TIMESTAMP)
        .unwrap();
    let mut complete = t
        .load_snapshot(SNAPSHOT, Origin::Mirror)
        .unwrap()
        .load_targets(TARGETS)
        .unwrap();
    let role = RoleName::new("nobody").unwrap();
    let err = complete
        .load_delegated(TARGETS, &role, &RoleName::targets())
        .unwrap_err();
    assert!(matches!(err, Error::NotListed { .. }), "{err:?}");
}
