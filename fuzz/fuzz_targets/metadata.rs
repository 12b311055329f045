//! Metadata bytes from a mirror, through every door the library opens to them: parsed as
//! each role type and tallied against a fixed root's keys, then fed to the trusted set at
//! each step of the update order (root N+1, timestamp, snapshot, targets, a delegated role),
//! and their `signed` value through canonical JSON.
//!
//! Invariant checked beyond "no panic": canonical JSON is a fixed point (its bytes parse back
//! to the same value and canonicalise to the same bytes), and anything accepted survives
//! the library's own serialisation unchanged.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use updater::canonical::to_canonical_bytes;
use updater::datetime::UtcTime;
use updater::metadata::{Role, Root, Snapshot, Targets, Timestamp};
use updater::names::{RoleName, TargetName};
use updater::trusted::{Origin, SelfSignedRoot, TrustedRoot};
use updater::verify::Unverified;

const ROOT: &[u8] = include_bytes!("../fixtures/1.root.json");
const TIMESTAMP: &[u8] = include_bytes!("../fixtures/timestamp.json");
const SNAPSHOT: &[u8] = include_bytes!("../fixtures/1.snapshot.json");
const TARGETS: &[u8] = include_bytes!("../fixtures/1.targets.json");

/// Before the fixtures expire, so every step can get past the expiry checks.
fn reference_time() -> UtcTime {
    UtcTime::parse("2026-01-01T00:00:00Z").unwrap()
}

fuzz_target!(|data: &[u8]| {
    let trusted = fresh();
    let root = trusted.root();
    as_role::<Root>(data, &RoleName::root(), root);
    as_role::<Timestamp>(data, &RoleName::timestamp(), root);
    as_role::<Snapshot>(data, &RoleName::snapshot(), root);
    if let Some(targets) = as_role::<Targets>(data, &RoleName::targets(), root) {
        delegation_search(&targets);
    }
    workflow(data);
    canonical(data);
});

/// Parses `data` as role `T` and tallies its signatures against the root's keys for `role`.
fn as_role<T: Role + PartialEq + std::fmt::Debug>(
    data: &[u8],
    role: &RoleName,
    root: &Root,
) -> Option<T> {
    let parsed = Unverified::<T>::parse(role, data).ok()?;
    let role_keys = root.role_keys(role).unwrap();
    let _ = parsed.check_signatures(&root.keys, role_keys);
    let body = parsed.untrusted().clone();
    let written = serde_json::to_value(&body).unwrap();
    let reread: T = serde_json::from_value(written).unwrap();
    assert_eq!(
        reread, body,
        "accepted {role} metadata changes when written back"
    );
    Some(body)
}

/// Whether each delegation covers each listed target: the path-pattern and hash-prefix
/// matchers on names and patterns from the same input.
fn delegation_search(targets: &Targets) {
    let Some(delegations) = &targets.delegations else {
        return;
    };
    for role in &delegations.roles {
        for name in targets.targets.keys() {
            let _ = role.covers(name);
        }
        for pattern in role.paths.iter().flatten() {
            if let Ok(name) = TargetName::new(pattern.clone()) {
                let _ = role.covers(&name);
            }
        }
    }
}

/// `data` at the step of the update order its `_type` names, after the fixtures for the
/// steps before it. (Bytes of another type are refused by the parser before any of this;
/// `as_role` already covers that refusal for every type.)
fn workflow(data: &[u8]) {
    let Ok(Value::Object(envelope)) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let declared = envelope.get("signed").and_then(|s| s.get("_type"));
    match declared.and_then(Value::as_str) {
        Some("root") => {
            let _ = fresh().update_root(data);
        }
        Some("timestamp") => {
            let _ = fresh().load_timestamp(data);
        }
        Some("snapshot") => {
            let (set, _) = fresh().load_timestamp(TIMESTAMP).unwrap();
            // As if from the device's store: no digest check, so the bytes reach the parser.
            let _ = set.load_snapshot(
                data,
                Origin::Store {
                    verified_with: None,
                },
            );
        }
        Some("targets") => {
            let (set, _) = fresh().load_timestamp(TIMESTAMP).unwrap();
            let set = set.load_snapshot(SNAPSHOT, Origin::Mirror).unwrap();
            let set = match set.load_targets(data, Origin::Mirror) {
                Ok(complete) => complete,
                Err(refused) => refused.state.load_targets(TARGETS, Origin::Mirror).unwrap(),
            };
            let mut set = set;
            let policy = RoleName::new("policy").unwrap();
            let _ = set.load_delegated(data, Origin::Mirror, &policy, &RoleName::targets());
        }
        _ => {}
    }
}

/// The fixture root, trusted at the reference time.
fn fresh() -> TrustedRoot {
    SelfSignedRoot::parse(ROOT).unwrap().trust(reference_time())
}

/// Canonical JSON of the `signed` value is a fixed point.
fn canonical(data: &[u8]) {
    let Ok(envelope) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let signed = envelope.get("signed").unwrap_or(&envelope);
    let Ok(bytes) = to_canonical_bytes(signed) else {
        return;
    };
    // OLPC canonical JSON writes control characters in strings raw, which strict JSON
    // refuses: only then may its bytes fail to parse back.
    let reread: Value = match serde_json::from_slice(&bytes) {
        Ok(value) => value,
        Err(_) if bytes.iter().any(|&b| b < 0x20) => return,
        Err(e) => panic!("canonical bytes are not JSON: {e}"),
    };
    assert_eq!(&reread, signed, "canonical bytes parse to another value");
    assert_eq!(to_canonical_bytes(&reread).unwrap(), bytes);
}
