//! Each refusal of the typestate, on a repository `repo` wrote (fuzz/fixtures: root,
//! timestamp, snapshot and targets version 1, made 2026-11-23).
use super::*;
use crate::key::KeyId;
use crate::verify::{KeySetDigest, TrustedBy};

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
    let complete = s.load_targets(TARGETS, Origin::Mirror).unwrap();
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
    let refused = s
        .load_targets(&flipped(TARGETS), Origin::Mirror)
        .unwrap_err();
    assert!(refused.state.load_targets(TARGETS, Origin::Mirror).is_ok());
}

#[test]
fn a_delegated_role_the_targets_do_not_delegate_is_not_listed() {
    let (t, _) = at("2026-11-24T00:00:00Z")
        .load_timestamp(TIMESTAMP)
        .unwrap();
    let mut complete = t
        .load_snapshot(SNAPSHOT, Origin::Mirror)
        .unwrap()
        .load_targets(TARGETS, Origin::Mirror)
        .unwrap();
    let role = RoleName::new("nobody").unwrap();
    let err = complete
        .load_delegated(TARGETS, Origin::Mirror, &role, &RoleName::targets())
        .unwrap_err();
    assert!(matches!(err, Error::NotListed { .. }), "{err:?}");
}

/// Loads the fixture repository from a mirror, then again as the device's store with the
/// key sets it was verified under: how each stored role is trusted the second time.
fn reload_from_store(
    snapshot: &[u8],
    targets: &[u8],
    snapshot_keys: Option<&KeySetDigest>,
    targets_keys: Option<&KeySetDigest>,
) -> (Result<WithSnapshot>, Option<Result<Complete>>) {
    let (t, _) = at("2026-11-24T00:00:00Z")
        .load_timestamp(TIMESTAMP)
        .unwrap();
    let loaded = t
        .load_snapshot(
            snapshot,
            Origin::Store {
                verified_with: snapshot_keys,
            },
        )
        .map_err(Error::from);
    let Ok(s) = loaded else {
        return (loaded, None);
    };
    // The snapshot stage is consumed by loading targets: keep what the caller looks at.
    let again = at("2026-11-24T00:00:00Z")
        .load_timestamp(TIMESTAMP)
        .unwrap()
        .0
        .load_snapshot(SNAPSHOT, Origin::Mirror)
        .unwrap();
    let complete = s
        .load_targets(
            targets,
            Origin::Store {
                verified_with: targets_keys,
            },
        )
        .map_err(Error::from);
    (Ok(again), Some(complete))
}

fn first_key_sets() -> (KeySetDigest, KeySetDigest) {
    let (t, _) = at("2026-11-24T00:00:00Z")
        .load_timestamp(TIMESTAMP)
        .unwrap();
    let s = t.load_snapshot(SNAPSHOT, Origin::Mirror).unwrap();
    let snapshot_keys = s.snapshot().key_set().clone();
    assert_eq!(s.snapshot().trusted_by(), TrustedBy::Signatures);
    let complete = s.load_targets(TARGETS, Origin::Mirror).unwrap();
    assert_eq!(complete.targets().trusted_by(), TrustedBy::Signatures);
    (snapshot_keys, complete.targets().key_set().clone())
}

#[test]
fn stored_bytes_listed_by_hash_under_the_same_keys_are_not_verified_again() {
    let (snapshot_keys, targets_keys) = first_key_sets();
    let (t, _) = at("2026-11-24T00:00:00Z")
        .load_timestamp(TIMESTAMP)
        .unwrap();
    let s = t
        .load_snapshot(
            SNAPSHOT,
            Origin::Store {
                verified_with: Some(&snapshot_keys),
            },
        )
        .unwrap();
    assert_eq!(s.snapshot().trusted_by(), TrustedBy::ListedHash);
    let complete = s
        .load_targets(
            TARGETS,
            Origin::Store {
                verified_with: Some(&targets_keys),
            },
        )
        .unwrap();
    // This fixture's snapshot lists targets by version only (as python-tuf writes by
    // default): no hash vouches for the stored bytes, so their signatures are checked.
    assert_eq!(complete.targets().trusted_by(), TrustedBy::Signatures);
    assert_eq!(complete.targets().key_set(), &targets_keys);
}

#[test]
fn stored_bytes_under_other_keys_or_without_a_key_set_are_verified_again() {
    let (snapshot_keys, targets_keys) = first_key_sets();
    // The snapshot's key set given for targets: another set of keys, so signatures count.
    for (snap, targ) in [(Some(&targets_keys), Some(&snapshot_keys)), (None, None)] {
        let (t, _) = at("2026-11-24T00:00:00Z")
            .load_timestamp(TIMESTAMP)
            .unwrap();
        let s = t
            .load_snapshot(
                SNAPSHOT,
                Origin::Store {
                    verified_with: snap,
                },
            )
            .unwrap();
        assert_eq!(s.snapshot().trusted_by(), TrustedBy::Signatures);
        let complete = s
            .load_targets(
                TARGETS,
                Origin::Store {
                    verified_with: targ,
                },
            )
            .unwrap();
        assert_eq!(complete.targets().trusted_by(), TrustedBy::Signatures);
    }
}

#[test]
fn stored_bytes_the_parent_does_not_list_are_refused_as_before() {
    let (snapshot_keys, targets_keys) = first_key_sets();
    let (result, _) = reload_from_store(
        &flipped(SNAPSHOT),
        TARGETS,
        Some(&snapshot_keys),
        Some(&targets_keys),
    );
    let err = result.unwrap_err();
    assert!(matches!(err, Error::ThresholdNotMet { .. }), "{err:?}");
    let (_, complete) = reload_from_store(
        SNAPSHOT,
        &flipped(TARGETS),
        Some(&snapshot_keys),
        Some(&targets_keys),
    );
    let err = complete.unwrap().unwrap_err();
    assert!(matches!(err, Error::ThresholdNotMet { .. }), "{err:?}");
}

/// Key ids are strings a delegator writes: one id holding a newline and a second entry
/// must not give the digest of a set of two keys (which would let bytes verified under the
/// two be trusted under a set lacking one of them).
#[test]
fn a_key_set_digest_names_one_key_set() {
    let root: crate::metadata::Root = serde_json::from_slice::<serde_json::Value>(ROOT)
        .map(|v| serde_json::from_value(v["signed"].clone()).unwrap())
        .unwrap();
    let mut ids = root.keys.keys().cloned();
    let (a, b) = (ids.next().unwrap(), ids.next().unwrap());
    let role_keys = |keyids: Vec<KeyId>| crate::metadata::RoleKeys {
        keyids,
        threshold: crate::metadata::Threshold::new(1).unwrap(),
    };
    let two = KeySetDigest::of(&root.keys, &role_keys(vec![a.clone(), b.clone()]));
    // The one id whose line reads as both lines of the set of two, keyed to b's key.
    let material_a = root.keys[&a].key_id().to_string();
    let joined = KeyId::new(format!("{a} {material_a}\n{b}"));
    let mut keys = root.keys.clone();
    keys.insert(joined.clone(), root.keys[&b].clone());
    let one = KeySetDigest::of(&keys, &role_keys(vec![joined]));
    assert_ne!(one, two);
}
