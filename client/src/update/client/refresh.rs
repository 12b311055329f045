//! The refresh steps of the TUF workflow, in the specification's order: root (with
//! rotations), timestamp, snapshot, top-level targets. Each offers the device's own copy
//! first, then each mirror's, to the trusted set's typestate. A stored snapshot or targets
//! role goes in with the key set it was verified under, so bytes the verified parent still
//! lists by hash are not verified again (see [`Origin::Store`]); what is accepted from a
//! mirror, or verified again under other keys, is stored with the key set that verified it.

use crate::error::{Error, Result};
use crate::fetch::mirrors::Mirrors;
use crate::fetch::store::{MetadataStore, StoredRole};
use crate::limits::{MAX_ROOT_BYTES, MAX_ROOT_ROTATIONS, MAX_SNAPSHOT_BYTES, MAX_TIMESTAMP_BYTES};
use crate::metadata::{MetaFile, RoleKeys, Root, Snapshot};
use crate::names::RoleName;
use crate::trusted::{
    Complete, Freshness, Origin, Refused, TrustedRoot, WithSnapshot, WithTimestamp,
};
use crate::verify::Verified;
use tuf_core::Error as CoreError;

use super::trust_report::report;

/// Offers each mirror's bytes to `step`, on `state`, until one is accepted; a refused step
/// hands the stage back for the next mirror. Returns the next stage and the bytes accepted.
fn fetch_step<S, T>(
    mirrors: &Mirrors,
    path: &str,
    limit: u64,
    state: S,
    step: impl Fn(S, &[u8]) -> std::result::Result<T, Refused<S>>,
) -> Result<(T, Vec<u8>)> {
    let mut state = Some(state);
    mirrors.fetch(path, path, limit, |bytes| {
        // `fetch` stops at the first accepted copy, so every call finds the stage here.
        let current = state
            .take()
            .ok_or(Error::Internal("a refused stage is handed back"))?;
        match step(current, &bytes) {
            Ok(next) => Ok((next, bytes)),
            Err(refused) => {
                state = Some(*refused.state);
                Err(refused.error.into())
            }
        }
    })
}

/// Walks the root chain: version N+1 while the mirrors have it, each signed by a
/// threshold of the old root and of itself, at most [`MAX_ROOT_ROTATIONS`] steps.
pub(super) fn update_root(
    store: &MetadataStore,
    mirrors: &Mirrors,
    root: &mut TrustedRoot,
) -> Result<()> {
    let before = fast_forward_keys(root.root());
    for _ in 0..MAX_ROOT_ROTATIONS {
        let next = root.root().version.next();
        let path = format!("{next}.root.json");
        let fetched = mirrors.fetch(&path, &path, MAX_ROOT_BYTES, |bytes| {
            root.update_root(&bytes)?;
            Ok(bytes)
        });
        match fetched {
            Ok(bytes) => store.write(&RoleName::root(), &bytes)?,
            Err(Error::NotFound { .. }) => break,
            Err(e) => return Err(e),
        }
    }
    // Fast-forward recovery: when the timestamp or snapshot keys change, the versions
    // signed by the old keys say nothing any more, and must not block the new ones.
    if fast_forward_keys(root.root()) != before {
        store.remove(&RoleName::timestamp())?;
        store.remove(&RoleName::snapshot())?;
    }
    Ok(())
}

fn fast_forward_keys(root: &Root) -> [Option<RoleKeys>; 2] {
    [RoleName::timestamp(), RoleName::snapshot()].map(|role| root.role_keys(&role).cloned())
}

pub(super) fn load_timestamp(
    store: &MetadataStore,
    mirrors: &Mirrors,
    mut root: TrustedRoot,
) -> Result<WithTimestamp> {
    let role = RoleName::timestamp();
    if let Ok(Some(local)) = store.read(&role, MAX_TIMESTAMP_BYTES) {
        // Our own copy is the rollback reference. If it no longer verifies (new keys),
        // the checks still apply to what is fetched.
        let _ = root.remember_timestamp(&local);
    }
    let ((next, freshness), bytes) = fetch_step(
        mirrors,
        "timestamp.json",
        MAX_TIMESTAMP_BYTES,
        root,
        |root, bytes| root.load_timestamp(bytes),
    )?;
    // The same version again: nothing new, keep the one stored.
    if freshness == Freshness::New {
        store.write(&role, &bytes)?;
    }
    report(&role, next.timestamp());
    Ok(next)
}

pub(super) fn load_snapshot(
    store: &MetadataStore,
    mirrors: &Mirrors,
    timestamp: WithTimestamp,
) -> Result<WithSnapshot> {
    let role = RoleName::snapshot();
    let timestamp = match store.read_verified(&role, MAX_SNAPSHOT_BYTES) {
        Ok(Some(local)) => {
            let origin = Origin::Store {
                verified_with: local.verified_with.as_ref(),
            };
            match timestamp.load_snapshot(&local.bytes, origin) {
                Ok(next) => {
                    keep_key_set(store, &role, &local, next.snapshot())?;
                    report(&role, next.snapshot());
                    return Ok(next);
                }
                Err(refused) => *refused.state,
            }
        }
        _ => timestamp,
    };
    let listed = timestamp
        .snapshot_meta()
        .cloned()
        .ok_or_else(|| CoreError::NotListed {
            listed_by: RoleName::timestamp(),
            role: role.clone(),
        })?;
    let path = metadata_path(timestamp.root(), &role, listed.version.get());
    let limit = listed
        .length
        .map_or(MAX_SNAPSHOT_BYTES, |n| n.min(MAX_SNAPSHOT_BYTES));
    let (next, bytes) = fetch_step(mirrors, &path, limit, timestamp, |t, bytes| {
        t.load_snapshot(bytes, Origin::Mirror)
    })?;
    store.write_verified(&role, &bytes, next.snapshot().key_set())?;
    report(&role, next.snapshot());
    Ok(next)
}

pub(super) fn load_top_targets(
    store: &MetadataStore,
    mirrors: &Mirrors,
    snapshot: WithSnapshot,
) -> Result<Complete> {
    let role = RoleName::targets();
    let (listed, limit) = targets_listing(snapshot.snapshot(), &role)?;
    let snapshot = match store.read_verified(&role, limit) {
        Ok(Some(local)) => {
            let origin = Origin::Store {
                verified_with: local.verified_with.as_ref(),
            };
            match snapshot.load_targets(&local.bytes, origin) {
                Ok(complete) => {
                    keep_key_set(store, &role, &local, complete.targets())?;
                    report(&role, complete.targets());
                    return Ok(complete);
                }
                Err(refused) => *refused.state,
            }
        }
        _ => snapshot,
    };
    let path = metadata_path(snapshot.root(), &role, listed.version.get());
    let (next, bytes) = fetch_step(mirrors, &path, limit, snapshot, |s, bytes| {
        s.load_targets(bytes, Origin::Mirror)
    })?;
    store.write_verified(&role, &bytes, next.targets().key_set())?;
    report(&role, next.targets());
    Ok(next)
}

/// After a stored role was verified by its signatures (kept without a key set, or under
/// keys that changed since), stores it again with the key set that verified it now, so
/// that the next check can trust it by its listed hash.
pub(super) fn keep_key_set<T>(
    store: &MetadataStore,
    role: &RoleName,
    stored: &StoredRole,
    verified: &Verified<T>,
) -> Result<()> {
    if stored.verified_with.as_ref() == Some(verified.key_set()) {
        return Ok(());
    }
    store.write_verified(role, &stored.bytes, verified.key_set())
}

/// What the snapshot lists for targets role `role`, and the most bytes to read for it.
pub(super) fn targets_listing(snapshot: &Snapshot, role: &RoleName) -> Result<(MetaFile, u64)> {
    let listed = snapshot
        .role_meta(role)
        .cloned()
        .ok_or_else(|| CoreError::NotListed {
            listed_by: RoleName::snapshot(),
            role: role.clone(),
        })?;
    let most = crate::limits::targets_bytes_limit();
    let limit = listed.length.map_or(most, |n| n.min(most));
    Ok((listed, limit))
}

/// `N.<role>.json` with consistent snapshots, `<role>.json` without.
pub(super) fn metadata_path(root: &Root, role: &RoleName, version: u64) -> String {
    if root.consistent_snapshot {
        format!("{version}.{}.json", role.file_stem())
    } else {
        format!("{}.json", role.file_stem())
    }
}
