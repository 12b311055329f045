//! Stage 4 of the trusted set: the whole top-level chain, with delegated targets roles
//! verified on demand, each against the keys of the delegator it was reached through.

use std::collections::BTreeMap;

use super::{check_meta_bytes, check_not_expired, Origin};
use crate::datetime::UtcTime;
use crate::error::{Error, Result};
use crate::metadata::{RoleKeys, Root, Snapshot, Targets, Timestamp};
use crate::names::RoleName;
use crate::verify::{Unverified, Verified};

/// Stage 4: the whole top-level chain; delegated targets roles load on demand.
#[derive(Debug)]
pub struct Complete {
    pub(super) reference_time: UtcTime,
    pub(super) root: Verified<Root>,
    pub(super) timestamp: Verified<Timestamp>,
    pub(super) snapshot: Verified<Snapshot>,
    pub(super) targets: Verified<Targets>,
    /// Delegated roles by (delegator, role): a role reached through another delegator is
    /// verified again against that delegator's keys, never trusted on an earlier path's word.
    pub(super) delegated: BTreeMap<(RoleName, RoleName), Verified<Targets>>,
}

impl Complete {
    /// The time every expiry was judged against.
    pub fn reference_time(&self) -> UtcTime {
        self.reference_time
    }

    /// The trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    /// The trusted timestamp.
    pub fn timestamp(&self) -> &Verified<Timestamp> {
        &self.timestamp
    }

    /// The trusted snapshot.
    pub fn snapshot(&self) -> &Verified<Snapshot> {
        &self.snapshot
    }

    /// The trusted top-level targets.
    pub fn targets(&self) -> &Verified<Targets> {
        &self.targets
    }

    /// Targets role `role` as verified against `delegator` (root for `targets`), once
    /// loaded.
    pub fn targets_role(
        &self,
        role: &RoleName,
        delegator: &RoleName,
    ) -> Option<&Verified<Targets>> {
        if role == &RoleName::targets() && delegator == &RoleName::root() {
            return Some(&self.targets);
        }
        self.delegated.get(&(delegator.clone(), role.clone()))
    }

    /// Drops delegated role `role` as verified against `delegator`, if it delegates nothing
    /// (no role needs it as a delegator), to bound what a walk over many big roles keeps in
    /// memory. Loading it again verifies it again. Returns whether it was dropped.
    pub fn forget_leaf(&mut self, role: &RoleName, delegator: &RoleName) -> bool {
        let key = (delegator.clone(), role.clone());
        let is_leaf = self
            .delegated
            .get(&key)
            .is_some_and(|t| t.delegations.is_none());
        is_leaf && self.delegated.remove(&key).is_some()
    }

    /// Loads targets role `role`, delegated by `delegator` (a role loaded before), as the
    /// snapshot lists it and signed by a threshold of the keys the delegator names for it
    /// (or, from the store, see [`Origin::Store`]).
    pub fn load_delegated(
        &mut self,
        bytes: &[u8],
        origin: Origin<'_>,
        role: &RoleName,
        delegator: &RoleName,
    ) -> Result<&Verified<Targets>> {
        let parent = if delegator == &RoleName::targets() {
            &self.targets
        } else {
            // The delegator's content is the same whichever path verified it (snapshot
            // pins one version), so any verified copy gives its delegations.
            self.delegated
                .iter()
                .find(|((_, r), _)| r == delegator)
                .map(|(_, t)| t)
                .ok_or_else(|| Error::NotListed {
                    listed_by: delegator.clone(),
                    role: role.clone(),
                })?
        };
        let not_listed = || Error::NotListed {
            listed_by: delegator.clone(),
            role: role.clone(),
        };
        let delegations = parent.delegations.as_ref().ok_or_else(not_listed)?;
        let delegated = delegations.role(role).ok_or_else(not_listed)?;
        let new = check_targets(
            self.reference_time,
            &self.snapshot,
            role,
            bytes,
            origin,
            &delegations.keys,
            &delegated.role_keys(),
        )?;
        let key = (delegator.clone(), role.clone());
        self.delegated.insert(key.clone(), new);
        self.delegated.get(&key).ok_or_else(not_listed)
    }
}

/// A targets role as `snapshot` lists it, signed by a threshold of `role_keys` (or bytes
/// from the store it lists by hash, verified before under the same keys), not expired.
pub(super) fn check_targets(
    reference_time: UtcTime,
    snapshot: &Verified<Snapshot>,
    role: &RoleName,
    bytes: &[u8],
    origin: Origin<'_>,
    keys: &BTreeMap<crate::key::KeyId, crate::key::PublicKey>,
    role_keys: &RoleKeys,
) -> Result<Verified<Targets>> {
    check_not_expired(reference_time, &RoleName::snapshot(), snapshot.expires)?;
    let listed = snapshot.role_meta(role).ok_or_else(|| Error::NotListed {
        listed_by: RoleName::snapshot(),
        role: role.clone(),
    })?;
    let trusted_again = origin.stored_key_set().and_then(|verified_with| {
        Verified::from_listed_bytes(snapshot, role, bytes, verified_with, keys, role_keys)
    });
    let new = match trusted_again {
        Some(new) => new,
        None => {
            check_meta_bytes(&format!("{}.json", role.file_stem()), bytes, listed)?;
            Unverified::<Targets>::parse(role, bytes)?.verify(keys, role_keys)?
        }
    };
    if new.version != listed.version {
        return Err(Error::UnexpectedVersion {
            role: role.clone(),
            expected: listed.version,
            found: new.version,
        });
    }
    check_not_expired(reference_time, role, new.expires)?;
    Ok(new)
}
