//! The trusted metadata set: the client workflow of the TUF specification as a typestate.
//!
//! Each stage is its own type, and the only way forward is a method that consumes it:
//! [`SelfSignedRoot`] (signed by its own keys, not yet trusted) -> [`TrustedRoot`] (the
//! N+1 root chain) -> [`WithTimestamp`] -> [`WithSnapshot`] -> [`Complete`] (top-level
//! targets, then delegated roles). A snapshot cannot be loaded before a timestamp because
//! no type offers it, so there are no run-time order checks. A refused step hands the stage
//! back ([`Refused`]) so a caller can try another mirror. Every expiry is judged against one
//! reference time fixed when the root is trusted.
//!
//! The specification's order compiles:
//!
//! ```no_run
//! # use tuf_core::trusted::{Origin, SelfSignedRoot};
//! # fn f(root: &[u8], ts: &[u8], snap: &[u8], targets: &[u8], now: tuf_core::datetime::UtcTime) -> tuf_core::Result<()> {
//! let trusted = SelfSignedRoot::parse(root)?.trust(now);
//! let (with_timestamp, _) = trusted.load_timestamp(ts)?;
//! let with_snapshot = with_timestamp.load_snapshot(snap, Origin::Mirror)?;
//! let complete = with_snapshot.load_targets(targets, Origin::Mirror)?;
//! # let _ = complete; Ok(()) }
//! ```
//!
//! A self-consistent root is not a trusted one: it must be trusted first.
//!
//! ```compile_fail
//! # use tuf_core::trusted::{Origin, SelfSignedRoot};
//! # fn f(root: &[u8], ts: &[u8], now: tuf_core::datetime::UtcTime) -> tuf_core::Result<()> {
//! let (with_timestamp, _) = SelfSignedRoot::parse(root)?.load_timestamp(ts)?;
//! # Ok(()) }
//! ```
//!
//! A snapshot before a timestamp does not compile:
//!
//! ```compile_fail
//! # use tuf_core::trusted::{Origin, SelfSignedRoot};
//! # fn f(root: &[u8], snap: &[u8], now: tuf_core::datetime::UtcTime) -> tuf_core::Result<()> {
//! let trusted = SelfSignedRoot::parse(root)?.trust(now);
//! let with_snapshot = trusted.load_snapshot(snap, Origin::Mirror)?;
//! # Ok(()) }
//! ```
//!
//! Nor targets before a snapshot:
//!
//! ```compile_fail
//! # use tuf_core::trusted::{Origin, SelfSignedRoot};
//! # fn f(root: &[u8], ts: &[u8], targets: &[u8], now: tuf_core::datetime::UtcTime) -> tuf_core::Result<()> {
//! let trusted = SelfSignedRoot::parse(root)?.trust(now);
//! let (with_timestamp, _) = trusted.load_timestamp(ts)?;
//! let complete = with_timestamp.load_targets(targets, Origin::Mirror)?;
//! # Ok(()) }
//! ```
//!
//! Nor a new root once a timestamp is trusted:
//!
//! ```compile_fail
//! # use tuf_core::trusted::{Origin, SelfSignedRoot};
//! # fn f(root: &[u8], ts: &[u8], root2: &[u8], now: tuf_core::datetime::UtcTime) -> tuf_core::Result<()> {
//! let trusted = SelfSignedRoot::parse(root)?.trust(now);
//! let (mut with_timestamp, _) = trusted.load_timestamp(ts)?;
//! with_timestamp.update_root(root2)?;
//! # Ok(()) }
//! ```
//!
//! Nor going on from a stage already left behind:
//!
//! ```compile_fail
//! # use tuf_core::trusted::{Origin, SelfSignedRoot};
//! # fn f(root: &[u8], ts: &[u8], now: tuf_core::datetime::UtcTime) -> tuf_core::Result<()> {
//! let trusted = SelfSignedRoot::parse(root)?.trust(now);
//! let (with_timestamp, _) = trusted.load_timestamp(ts)?;
//! let again = trusted.load_timestamp(ts)?;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;

use crate::datetime::UtcTime;
use crate::digest::check_meta_bytes;
use crate::error::{Error, Result};
use crate::metadata::{RoleKeys, Root, Snapshot, Timestamp, Version};
use crate::names::RoleName;
use crate::verify::{Unverified, Verified};

mod complete;
mod origin;
pub use origin::Origin;

use complete::check_targets;
pub use complete::Complete;

/// A refused step: why, and the stage it was tried on, unchanged except for what the
/// specification keeps as a rollback reference (see each step).
#[derive(Debug)]
pub struct Refused<S> {
    /// Boxed: a stage holds whole metadata, and the refusal travels through `Result`.
    pub state: Box<S>,
    pub error: Error,
}

impl<S> Refused<S> {
    fn new(state: S, error: Error) -> Self {
        Refused {
            state: Box::new(state),
            error,
        }
    }
}

impl<S> From<Refused<S>> for Error {
    fn from(refused: Refused<S>) -> Error {
        refused.error
    }
}

/// Whether a step brought something new or found the version already trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    New,
    /// The same version as the trusted one: nothing to store.
    Same,
}

/// A root signed by a threshold of its own root keys. Self-consistent, but that says
/// nothing about whether it should be trusted: that comes from where it was obtained (the
/// device's owner), or from the previous root.
#[derive(Debug, Clone)]
pub struct SelfSignedRoot(Verified<Root>);

impl SelfSignedRoot {
    /// Parses `bytes` and checks a threshold of the root's own keys signed them.
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        verify_with_own_keys(Unverified::<Root>::parse(&RoleName::root(), bytes)?).map(Self)
    }

    /// The root's content.
    pub fn root(&self) -> &Verified<Root> {
        &self.0
    }

    /// Trusts this root: the owner's decision (a root shipped with the device, or the
    /// admin's own newest root). Every later expiry is judged against `reference_time`.
    pub fn trust(self, reference_time: UtcTime) -> TrustedRoot {
        TrustedRoot {
            reference_time,
            root: self.0,
            previous_timestamp: None,
        }
    }
}

/// A root signed by a threshold of its own root keys (see [`SelfSignedRoot`]).
pub fn verify_self_signed_root(bytes: &[u8]) -> Result<Verified<Root>> {
    SelfSignedRoot::parse(bytes).map(|r| r.0)
}

/// Stage 1: a trusted root; the chain of newer roots is walked here.
#[derive(Debug)]
pub struct TrustedRoot {
    reference_time: UtcTime,
    root: Verified<Root>,
    /// The timestamp the device trusted before this update: the rollback reference.
    previous_timestamp: Option<Verified<Timestamp>>,
}

impl TrustedRoot {
    /// The time every expiry is judged against.
    pub fn reference_time(&self) -> UtcTime {
        self.reference_time
    }

    /// The newest trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    /// Accepts root version N+1: signed by a threshold of the trusted root's keys and of
    /// its own. Expiry is not checked here: an intermediate root may have expired; the
    /// final one is checked when the timestamp is loaded.
    pub fn update_root(&mut self, bytes: &[u8]) -> Result<&Verified<Root>> {
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

    /// Offers the timestamp the device stored last time, as the rollback reference for the
    /// one to be fetched. It must verify under the current root's keys (after a key change
    /// it does not, and is ignored); it may have expired.
    pub fn remember_timestamp(&mut self, stored: &[u8]) -> Result<()> {
        let role = RoleName::timestamp();
        let parsed = Unverified::<Timestamp>::parse(&role, stored)?;
        let verified = parsed.verify(&self.root.keys, root_keys_for(&self.root, &role)?)?;
        self.previous_timestamp = Some(verified);
        Ok(())
    }

    /// Loads a timestamp: the root must not have expired, a threshold of its timestamp
    /// keys must have signed, and neither its version nor the snapshot version it names may
    /// go back from the remembered one. The same version as the remembered one means
    /// nothing new ([`Freshness::Same`]): the remembered one is kept. A timestamp that
    /// passes every check but has expired becomes the rollback reference and is refused.
    pub fn load_timestamp(
        mut self,
        bytes: &[u8],
    ) -> std::result::Result<(WithTimestamp, Freshness), Refused<Self>> {
        match self.check_timestamp(bytes) {
            Ok((new, Freshness::Same)) => {
                let same = self.previous_timestamp.take().unwrap_or(new);
                self.advance(same, Freshness::Same)
            }
            Ok((new, Freshness::New)) => self.advance(new, Freshness::New),
            Err(error) => Err(Refused::new(self, error)),
        }
    }

    fn check_timestamp(&self, bytes: &[u8]) -> Result<(Verified<Timestamp>, Freshness)> {
        check_not_expired(self.reference_time, &RoleName::root(), self.root.expires)?;
        let role = RoleName::timestamp();
        let new = Unverified::<Timestamp>::parse(&role, bytes)?;
        let new = new.verify(&self.root.keys, root_keys_for(&self.root, &role)?)?;
        let Some(old) = &self.previous_timestamp else {
            return Ok((new, Freshness::New));
        };
        if new.version < old.version {
            return Err(Error::Rollback {
                role,
                trusted: old.version,
                new: new.version,
            });
        }
        if new.version == old.version {
            return Ok((new, Freshness::Same));
        }
        let (old_snap, new_snap) = (snapshot_version(old)?, snapshot_version(&new)?);
        if new_snap < old_snap {
            return Err(Error::SnapshotVersionRollback {
                trusted: old_snap,
                new: new_snap,
            });
        }
        Ok((new, Freshness::New))
    }

    fn advance(
        mut self,
        timestamp: Verified<Timestamp>,
        freshness: Freshness,
    ) -> std::result::Result<(WithTimestamp, Freshness), Refused<Self>> {
        if let Err(error) = check_not_expired(
            self.reference_time,
            &RoleName::timestamp(),
            timestamp.expires,
        ) {
            // Kept, so that an older timestamp from another mirror is still refused.
            self.previous_timestamp = Some(timestamp);
            return Err(Refused::new(self, error));
        }
        let snapshot_version = match snapshot_version(&timestamp) {
            Ok(v) => v,
            Err(error) => return Err(Refused::new(self, error)),
        };
        Ok((
            WithTimestamp {
                reference_time: self.reference_time,
                root: self.root,
                timestamp,
                snapshot_version,
                previous_snapshot: None,
            },
            freshness,
        ))
    }
}

/// Stage 2: root and a timestamp that has not expired.
#[derive(Debug)]
pub struct WithTimestamp {
    reference_time: UtcTime,
    root: Verified<Root>,
    timestamp: Verified<Timestamp>,
    /// The snapshot version the timestamp names.
    snapshot_version: Version,
    /// The snapshot the device trusted before: the rollback reference.
    previous_snapshot: Option<Verified<Snapshot>>,
}

impl WithTimestamp {
    /// The trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    /// The trusted timestamp.
    pub fn timestamp(&self) -> &Verified<Timestamp> {
        &self.timestamp
    }

    /// What the timestamp says of the snapshot to load: version, and length and hashes
    /// where listed.
    pub fn snapshot_meta(&self) -> Option<&crate::metadata::MetaFile> {
        self.timestamp.snapshot_meta()
    }

    /// Loads a snapshot: signed by a threshold of root's snapshot keys, never dropping a
    /// role or lowering a version against the snapshot trusted before, the version the
    /// timestamp names, not expired. One that verifies but is not the current one (a
    /// stored snapshot older than the timestamp says) becomes the rollback reference.
    pub fn load_snapshot(
        mut self,
        bytes: &[u8],
        origin: Origin<'_>,
    ) -> std::result::Result<WithSnapshot, Refused<Self>> {
        let new = match self.check_snapshot(bytes, origin) {
            Ok(new) => new,
            Err(error) => return Err(Refused::new(self, error)),
        };
        let current = check_not_expired(self.reference_time, &RoleName::snapshot(), new.expires)
            .and_then(|()| {
                if new.version == self.snapshot_version {
                    Ok(())
                } else {
                    Err(Error::UnexpectedVersion {
                        role: RoleName::snapshot(),
                        expected: self.snapshot_version,
                        found: new.version,
                    })
                }
            });
        if let Err(error) = current {
            self.previous_snapshot = Some(new);
            return Err(Refused::new(self, error));
        }
        Ok(WithSnapshot {
            reference_time: self.reference_time,
            root: self.root,
            timestamp: self.timestamp,
            snapshot: new,
        })
    }

    fn check_snapshot(&self, bytes: &[u8], origin: Origin<'_>) -> Result<Verified<Snapshot>> {
        check_not_expired(
            self.reference_time,
            &RoleName::timestamp(),
            self.timestamp.expires,
        )?;
        let role = RoleName::snapshot();
        let role_keys = root_keys_for(&self.root, &role)?;
        let listed = origin.stored_key_set().and_then(|verified_with| {
            Verified::from_listed_bytes(
                &self.timestamp,
                &role,
                bytes,
                verified_with,
                &self.root.keys,
                role_keys,
            )
        });
        let new = match listed {
            Some(new) => new,
            None => self.verify_snapshot(bytes, origin)?,
        };
        if let Some(old) = &self.previous_snapshot {
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
        Ok(new)
    }

    /// The snapshot's signatures checked, and a mirror's bytes against the timestamp's
    /// listing.
    fn verify_snapshot(&self, bytes: &[u8], origin: Origin<'_>) -> Result<Verified<Snapshot>> {
        if origin == Origin::Mirror {
            let listed = self.timestamp.snapshot_meta().ok_or(Error::NotListed {
                listed_by: RoleName::timestamp(),
                role: RoleName::snapshot(),
            })?;
            check_meta_bytes("snapshot.json", bytes, listed)?;
        }
        let role = RoleName::snapshot();
        let new = Unverified::<Snapshot>::parse(&role, bytes)?;
        new.verify(&self.root.keys, root_keys_for(&self.root, &role)?)
    }
}

/// Stage 3: root, timestamp and the snapshot it names.
#[derive(Debug)]
pub struct WithSnapshot {
    reference_time: UtcTime,
    root: Verified<Root>,
    timestamp: Verified<Timestamp>,
    snapshot: Verified<Snapshot>,
}

impl WithSnapshot {
    /// The trusted root.
    pub fn root(&self) -> &Verified<Root> {
        &self.root
    }

    /// The trusted snapshot.
    pub fn snapshot(&self) -> &Verified<Snapshot> {
        &self.snapshot
    }

    /// Loads the top-level targets: as the snapshot lists it (version, and length and
    /// hashes where listed), signed by a threshold of root's targets keys (or, from the
    /// store, see [`Origin::Store`]), not expired.
    pub fn load_targets(
        self,
        bytes: &[u8],
        origin: Origin<'_>,
    ) -> std::result::Result<Complete, Refused<Self>> {
        let role = RoleName::targets();
        let checked = root_keys_for(&self.root, &role).and_then(|keys| {
            check_targets(
                self.reference_time,
                &self.snapshot,
                &role,
                bytes,
                origin,
                &self.root.keys,
                keys,
            )
        });
        match checked {
            Ok(targets) => Ok(Complete {
                reference_time: self.reference_time,
                root: self.root,
                timestamp: self.timestamp,
                snapshot: self.snapshot,
                targets,
                delegated: BTreeMap::new(),
            }),
            Err(error) => Err(Refused::new(self, error)),
        }
    }
}

fn check_not_expired(reference_time: UtcTime, role: &RoleName, expires: UtcTime) -> Result<()> {
    if expires <= reference_time {
        return Err(Error::Expired {
            role: role.clone(),
            expires,
            now: reference_time,
        });
    }
    Ok(())
}

fn verify_with_own_keys(root: Unverified<Root>) -> Result<Verified<Root>> {
    let keys = root.untrusted().keys.clone();
    let role_keys = root_role_keys(root.untrusted())?;
    root.verify(&keys, &role_keys)
}

fn root_role_keys(root: &Root) -> Result<RoleKeys> {
    root_keys_for(root, &RoleName::root()).cloned()
}

fn root_keys_for<'a>(root: &'a Root, role: &RoleName) -> Result<&'a RoleKeys> {
    root.role_keys(role).ok_or_else(|| Error::NotListed {
        listed_by: RoleName::root(),
        role: role.clone(),
    })
}

fn snapshot_version(timestamp: &Timestamp) -> Result<Version> {
    timestamp
        .snapshot_meta()
        .map(|m| m.version)
        .ok_or(Error::NotListed {
            listed_by: RoleName::timestamp(),
            role: RoleName::snapshot(),
        })
}

#[cfg(test)]
mod tests;
