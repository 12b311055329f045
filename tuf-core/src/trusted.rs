//! The trusted metadata set: the client workflow of the TUF specification, one step at a
//! time, each step checked against what is already trusted.
//!
//! The order of the specification is enforced here, not left to callers: root (the N+1
//! chain), then timestamp, snapshot, targets, delegated targets. Every expiry is judged
//! against one reference time fixed when the set is created.

use std::collections::BTreeMap;

use crate::datetime::UtcTime;
use crate::digest::check_meta_bytes;
use crate::error::{Error, Result};
use crate::metadata::{Root, Snapshot, Targets, Timestamp};
use crate::names::RoleName;
use crate::verify::{Unverified, Verified};

/// Metadata verified so far, in the specification's order.
#[derive(Debug)]
pub struct TrustedMetadata {
    reference_time: UtcTime,
    root: Verified<Root>,
    timestamp: Option<Verified<Timestamp>>,
    snapshot: Option<Verified<Snapshot>>,
    /// Targets roles by (delegator, role): a role reached through another delegator is
    /// verified again against that delegator's keys, never trusted on an earlier path's word.
    targets: BTreeMap<(RoleName, RoleName), Verified<Targets>>,
}

impl TrustedMetadata {
    /// Starts from a root that is trusted because it came with the device (or from the
    /// admin). It must still be signed by a threshold of its own root keys.
    pub fn new(root_bytes: &[u8], reference_time: UtcTime) -> Result<Self> {
        let root = verify_self_signed_root(root_bytes)?;
        Ok(TrustedMetadata {
            reference_time,
            root,
            timestamp: None,
            snapshot: None,
            targets: BTreeMap::new(),
        })
    }

    /// The time every expiry is judged against.
    pub fn reference_time(&self) -> UtcTime {
        self.reference_time
    }

    /// The newest trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    /// The trusted timestamp, once loaded.
    pub fn timestamp(&self) -> Option<&Verified<Timestamp>> {
        self.timestamp.as_ref()
    }

    /// The trusted snapshot, once loaded.
    pub fn snapshot(&self) -> Option<&Verified<Snapshot>> {
        self.snapshot.as_ref()
    }

    /// The trusted top-level targets, once loaded.
    pub fn targets(&self) -> Option<&Verified<Targets>> {
        self.targets_role(&RoleName::targets(), &RoleName::root())
    }

    /// Targets role `role` as verified against `delegator` (root for `targets`), once loaded.
    pub fn targets_role(
        &self,
        role: &RoleName,
        delegator: &RoleName,
    ) -> Option<&Verified<Targets>> {
        self.targets.get(&(delegator.clone(), role.clone()))
    }

    /// Accepts root version N+1: signed by a threshold of the trusted root's keys and of
    /// its own. Expiry is not checked here: an intermediate root may have expired; the
    /// final one is checked when the timestamp is loaded.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<&Verified<Root>> {
        if self.timestamp.is_some() {
            return Err(Error::Order("root cannot change after timestamp is loaded"));
        }
        let new = Unverified::<Root>::parse(&RoleName::root(), bytes)?;
        new.check_signatures(&self.root.keys, &root_role_keys(&self.root)?)?;
        let expected = self.root.version.next();
        if new.untrusted().version != expected {
            return Err(Error::UnexpectedVersion {
                role: RoleName::root(),
                expected,
                found: new.untrusted().version,
            });
        }
        self.root = verify_with_own_keys(new)?;
        Ok(&self.root)
    }

    /// Accepts a timestamp. An equal version is reported as `EqualVersion` so a caller can
    /// keep the one it has.
    pub fn update_timestamp(&mut self, bytes: &[u8]) -> Result<&Verified<Timestamp>> {
        if self.snapshot.is_some() {
            return Err(Error::Order(
                "timestamp cannot change after snapshot is loaded",
            ));
        }
        self.check_not_expired(&RoleName::root(), self.root.expires)?;
        let role = RoleName::timestamp();
        let new = Unverified::<Timestamp>::parse(&role, bytes)?;
        let new = new.verify(&self.root.keys, self.root_keys_for(&role)?)?;
        if let Some(old) = &self.timestamp {
            if new.version < old.version {
                return Err(Error::Rollback {
                    role,
                    trusted: old.version,
                    new: new.version,
                });
            }
            if new.version == old.version {
                return Err(Error::EqualVersion {
                    role,
                    version: new.version,
                });
            }
            let (old_snap, new_snap) = (snapshot_version(old)?, snapshot_version(&new)?);
            if new_snap < old_snap {
                return Err(Error::SnapshotVersionRollback {
                    trusted: old_snap,
                    new: new_snap,
                });
            }
        }
        // Kept even if expired, so that a later run still refuses older timestamps; the
        // expiry check below then stops this update.
        self.timestamp = Some(new);
        self.check_final_timestamp()?;
        Ok(self.timestamp.as_ref().expect("set just above"))
    }

    /// Accepts a snapshot. `from_trusted_store` skips the length and hash check against the
    /// timestamp, for a snapshot read back from the device's own store, whose bytes may
    /// precede the current timestamp; the signature and version checks still apply.
    pub fn update_snapshot(
        &mut self,
        bytes: &[u8],
        from_trusted_store: bool,
    ) -> Result<&Verified<Snapshot>> {
        let Some(timestamp) = &self.timestamp else {
            return Err(Error::Order("snapshot needs a trusted timestamp first"));
        };
        if !self.targets.is_empty() {
            return Err(Error::Order(
                "snapshot cannot change after targets are loaded",
            ));
        }
        self.check_final_timestamp()?;
        let listed = timestamp.snapshot_meta().ok_or(Error::NotListed {
            listed_by: RoleName::timestamp(),
            role: RoleName::snapshot(),
        })?;
        if !from_trusted_store {
            check_meta_bytes("snapshot.json", bytes, listed)?;
        }
        let role = RoleName::snapshot();
        let new = Unverified::<Snapshot>::parse(&role, bytes)?;
        let new = new.verify(&self.root.keys, self.root_keys_for(&role)?)?;
        if let Some(old) = &self.snapshot {
            for (file, old_meta) in &old.meta {
                let kept = new
                    .meta
                    .get(file)
                    .is_some_and(|m| m.version >= old_meta.version);
                if !kept {
                    let role_name = file.strip_suffix(".json").unwrap_or(file);
                    return Err(Error::SnapshotDropsRole {
                        role: RoleName::new(role_name).unwrap_or_else(|_| RoleName::targets()),
                    });
                }
            }
        }
        self.snapshot = Some(new);
        self.check_final_snapshot()?;
        Ok(self.snapshot.as_ref().expect("set just above"))
    }

    /// Accepts the top-level targets.
    pub fn update_targets(&mut self, bytes: &[u8]) -> Result<&Verified<Targets>> {
        self.update_delegated_targets(bytes, &RoleName::targets(), &RoleName::root())
    }

    /// Accepts targets role `role`, delegated by `delegator` (root for `targets`).
    pub fn update_delegated_targets(
        &mut self,
        bytes: &[u8],
        role: &RoleName,
        delegator: &RoleName,
    ) -> Result<&Verified<Targets>> {
        let Some(snapshot) = &self.snapshot else {
            return Err(Error::Order("targets need a trusted snapshot first"));
        };
        self.check_final_snapshot()?;
        let listed = snapshot.role_meta(role).ok_or_else(|| Error::NotListed {
            listed_by: RoleName::snapshot(),
            role: role.clone(),
        })?;
        check_meta_bytes(&format!("{}.json", role.file_stem()), bytes, listed)?;
        let new = Unverified::<Targets>::parse(role, bytes)?;
        let new = if delegator == &RoleName::root() {
            new.verify(&self.root.keys, self.root_keys_for(role)?)?
        } else {
            // The delegator's content is the same whichever path verified it (snapshot
            // pins one version), so any verified copy gives its delegations.
            let parent = self
                .targets
                .iter()
                .find(|((_, r), _)| r == delegator)
                .map(|(_, t)| t)
                .ok_or(Error::Order(
                    "a delegated role needs its delegator loaded first",
                ))?;
            let delegations = parent
                .delegations
                .as_ref()
                .ok_or_else(|| Error::NotListed {
                    listed_by: delegator.clone(),
                    role: role.clone(),
                })?;
            let delegated = delegations
                .roles
                .iter()
                .find(|r| &r.name == role)
                .ok_or_else(|| Error::NotListed {
                    listed_by: delegator.clone(),
                    role: role.clone(),
                })?;
            new.verify(&delegations.keys, &delegated.role_keys())?
        };
        if new.version != listed.version {
            return Err(Error::UnexpectedVersion {
                role: role.clone(),
                expected: listed.version,
                found: new.version,
            });
        }
        self.check_not_expired(role, new.expires)?;
        let key = (delegator.clone(), role.clone());
        self.targets.insert(key.clone(), new);
        Ok(&self.targets[&key])
    }

    fn root_keys_for(&self, role: &RoleName) -> Result<&crate::metadata::RoleKeys> {
        self.root.role_keys(role).ok_or_else(|| Error::NotListed {
            listed_by: RoleName::root(),
            role: role.clone(),
        })
    }

    fn check_not_expired(&self, role: &RoleName, expires: UtcTime) -> Result<()> {
        if expires <= self.reference_time {
            return Err(Error::Expired {
                role: role.clone(),
                expires,
                now: self.reference_time,
            });
        }
        Ok(())
    }

    fn check_final_timestamp(&self) -> Result<()> {
        let timestamp = self.timestamp.as_ref().expect("callers check");
        self.check_not_expired(&RoleName::timestamp(), timestamp.expires)
    }

    fn check_final_snapshot(&self) -> Result<()> {
        let snapshot = self.snapshot.as_ref().expect("callers check");
        let timestamp = self.timestamp.as_ref().expect("snapshot implies timestamp");
        self.check_not_expired(&RoleName::snapshot(), snapshot.expires)?;
        let expected = snapshot_version(timestamp)?;
        if snapshot.version != expected {
            return Err(Error::UnexpectedVersion {
                role: RoleName::snapshot(),
                expected,
                found: snapshot.version,
            });
        }
        Ok(())
    }
}

/// A root signed by a threshold of its own root keys. Says nothing about whether that root
/// should be trusted: that comes from where it was obtained, or from the previous root.
pub fn verify_self_signed_root(bytes: &[u8]) -> Result<Verified<Root>> {
    verify_with_own_keys(Unverified::<Root>::parse(&RoleName::root(), bytes)?)
}

fn verify_with_own_keys(root: Unverified<Root>) -> Result<Verified<Root>> {
    let keys = root.untrusted().keys.clone();
    let role_keys = root_role_keys(root.untrusted())?;
    root.verify(&keys, &role_keys)
}

fn root_role_keys(root: &Root) -> Result<crate::metadata::RoleKeys> {
    root.role_keys(&RoleName::root())
        .cloned()
        .ok_or(Error::NotListed {
            listed_by: RoleName::root(),
            role: RoleName::root(),
        })
}

fn snapshot_version(timestamp: &Timestamp) -> Result<crate::metadata::Version> {
    timestamp
        .snapshot_meta()
        .map(|m| m.version)
        .ok_or(Error::NotListed {
            listed_by: RoleName::timestamp(),
            role: RoleName::snapshot(),
        })
}
