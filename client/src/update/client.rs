//! The TUF client workflow: from the device's trusted root to a verified target on disk.
//!
//! Each step first offers the trusted set what the device already has (its own verified
//! copies, which become the reference for rollback checks), then what the mirrors serve.
//! Every accepted file is written back to the metadata store under its unversioned name.

use std::collections::{BTreeSet, VecDeque};

use crate::conventions::{POLICY_FILE, POLICY_ROLE};
use crate::datetime::UtcTime;
use crate::error::{Error, Result};
use crate::fetch::mirrors::Mirrors;
use crate::fetch::store::MetadataStore;
use crate::hash::StreamHash;
use crate::limits::{listed_roles_limit, MAX_ROOT_BYTES};
use crate::metadata::{Root, TargetInfo, Targets};
use crate::names::{percent_encode, RoleName, TargetName};
use crate::rollout::policy::MAX_POLICY_BYTES;
use crate::trusted::{verify_self_signed_root, Complete, Origin, SelfSignedRoot};
use crate::update::artifact::TargetHash;
use crate::verify::{Unverified, Verified};
use tuf_core::delegation::{self, Lookup, TargetsSource};
use tuf_core::Error as CoreError;

mod download;
mod refresh;
mod trust_report;

use refresh::{
    keep_key_set, load_snapshot, load_timestamp, load_top_targets, metadata_path, targets_listing,
    update_root,
};
use trust_report::report;

/// A verified target: its name, what the index says of it, and which role listed it.
#[derive(Debug, Clone)]
pub struct FoundTarget {
    pub name: TargetName,
    pub info: TargetInfo,
    pub role: RoleName,
}

/// Bytes (as signed files) of delegated roles that delegate nothing the client keeps
/// verified at once. Past it the oldest are dropped, and verified again from the store if
/// a search needs them again: a release in 16 hash bins of 3 MB each is gathered holding
/// about one bin, not all 16 (the walks ask for one bin's names together). Repositories
/// whose leaf roles fit keep everything, as before.
const LEAF_CACHE_BYTES: u64 = 4 << 20;

impl FoundTarget {
    /// Its name and listing, as [`Client::download`] takes them.
    pub fn listing(&self) -> Listing<'_> {
        Listing {
            name: &self.name,
            info: &self.info,
        }
    }
}

/// A target's name and what the role trusted for it lists: what a download is checked
/// against.
#[derive(Debug, Clone, Copy)]
pub struct Listing<'a> {
    pub name: &'a TargetName,
    pub info: &'a TargetInfo,
}

/// One device's view of one repository: its metadata brought up to date and verified.
pub struct Client {
    store: MetadataStore,
    metadata: Mirrors,
    trusted: Complete,
    /// Delegated roles kept that delegate nothing, oldest first: (role, delegator, bytes).
    leaves: VecDeque<(RoleName, RoleName, u64)>,
}

impl Client {
    /// Makes `root_bytes` the device's trusted root. The root must be signed by a threshold
    /// of its own keys; whether to trust it at all is the owner's decision, made here.
    ///
    /// A root the device already trusts is kept unless `force`: one with a higher version
    /// (going back would undo a key rotation), or another root of the same version. Returns
    /// the version trusted before, if any.
    pub fn init(store: &MetadataStore, root_bytes: &[u8], force: bool) -> Result<Option<u64>> {
        let given = verify_self_signed_root(root_bytes)?;
        let stored = match store.read(&RoleName::root(), MAX_ROOT_BYTES) {
            Ok(stored) => stored,
            // Unreadable (too large, not a file): only --force replaces it.
            Err(_) if force => None,
            Err(e) => return Err(e),
        };
        let trusted = match stored {
            Some(bytes) => match Unverified::<Root>::parse(&RoleName::root(), &bytes) {
                Ok(root) => Some((root.untrusted().version.get(), bytes)),
                Err(_) if force => None,
                Err(e) => {
                    return Err(Error::CorruptTrustedRoot {
                        path: store.path(&RoleName::root()),
                        reason: e.to_string(),
                    })
                }
            },
            None => None,
        };
        let given_version = given.version.get();
        if let (Some((version, bytes)), false) = (&trusted, force) {
            if *version > given_version {
                return Err(Error::OlderRoot {
                    trusted: *version,
                    given: given_version,
                });
            }
            if *version == given_version && bytes.as_slice() != root_bytes {
                return Err(Error::OtherRoot { version: *version });
            }
        }
        store.write(&RoleName::root(), root_bytes)?;
        Ok(trusted.map(|(version, _)| version))
    }

    /// Brings the device's metadata up to date in the specification's order (the root
    /// chain, timestamp, snapshot, top-level targets), from the store's trusted root and
    /// the mirrors. `now` is the update's start time: every expiry is judged against it.
    /// Each stage offers the trusted set what the device stored last time first, and
    /// writes what it accepts from a mirror back to the store.
    pub fn open(store: MetadataStore, metadata: Mirrors, now: UtcTime) -> Result<Self> {
        let root = store
            .read(&RoleName::root(), MAX_ROOT_BYTES)?
            .ok_or_else(|| Error::NotInitialized {
                dir: store.dir().to_path_buf(),
            })?;
        let mut root = SelfSignedRoot::parse(&root)?.trust(now);
        update_root(&store, &metadata, &mut root)?;
        report(&RoleName::root(), root.root());
        let timestamp = load_timestamp(&store, &metadata, root)?;
        let snapshot = load_snapshot(&store, &metadata, timestamp)?;
        let trusted = load_top_targets(&store, &metadata, snapshot)?;
        Ok(Client {
            store,
            metadata,
            trusted,
            leaves: VecDeque::new(),
        })
    }

    /// The metadata verified by [`Client::open`].
    pub fn trusted(&self) -> &Complete {
        &self.trusted
    }

    /// Delegated role `role` (delegated by `delegator`), loaded unless it already is.
    fn load_targets(
        &mut self,
        role: &RoleName,
        delegator: &RoleName,
    ) -> Result<&Verified<Targets>> {
        if self.trusted.targets_role(role, delegator).is_none() {
            let bytes = self.fetch_targets(role, delegator)?;
            self.keep_within_budget(role, delegator, bytes);
        }
        self.trusted.targets_role(role, delegator).ok_or_else(|| {
            CoreError::NotListed {
                listed_by: delegator.clone(),
                role: role.clone(),
            }
            .into()
        })
    }

    /// Notes that leaf role `role` (of `bytes`) was just loaded, and drops the oldest
    /// leaves while they hold more than [`LEAF_CACHE_BYTES`]; the one just loaded stays.
    fn keep_within_budget(&mut self, role: &RoleName, delegator: &RoleName, bytes: u64) {
        let is_leaf = self
            .trusted
            .targets_role(role, delegator)
            .is_some_and(|t| t.delegations.is_none());
        if !is_leaf {
            return;
        }
        self.leaves
            .push_back((role.clone(), delegator.clone(), bytes));
        let mut kept: u64 = self.leaves.iter().map(|(_, _, b)| b).sum();
        while kept > LEAF_CACHE_BYTES && self.leaves.len() > 1 {
            let Some((old, old_delegator, old_bytes)) = self.leaves.pop_front() else {
                break;
            };
            self.trusted.forget_leaf(&old, &old_delegator);
            kept -= old_bytes;
        }
    }

    /// Loads delegated role `role`: the stored copy if it still matches snapshot, else a
    /// fresh one from the mirrors. Returns the length of the file loaded.
    fn fetch_targets(&mut self, role: &RoleName, delegator: &RoleName) -> Result<u64> {
        let (listed, limit) = targets_listing(self.trusted.snapshot(), role)?;
        if let Ok(Some(local)) = self.store.read_verified(role, limit) {
            let origin = Origin::Store {
                verified_with: local.verified_with.as_ref(),
            };
            if let Ok(verified) = self
                .trusted
                .load_delegated(&local.bytes, origin, role, delegator)
            {
                keep_key_set(&self.store, role, &local, verified)?;
                report(role, verified);
                return Ok(local.bytes.len() as u64);
            }
        }
        let path = metadata_path(self.trusted.root(), role, listed.version.get());
        let trusted = &mut self.trusted;
        let bytes = self.metadata.fetch(&path, &path, limit, |bytes| {
            trusted.load_delegated(&bytes, Origin::Mirror, role, delegator)?;
            Ok(bytes)
        })?;
        let verified = self.trusted.targets_role(role, delegator).ok_or_else(|| {
            Error::from(CoreError::NotListed {
                listed_by: delegator.clone(),
                role: role.clone(),
            })
        })?;
        report(role, verified);
        self.store
            .write_verified(role, &bytes, verified.key_set())?;
        Ok(bytes.len() as u64)
    }

    /// Finds `name` in the verified index, as the delegation search of
    /// [`tuf_core::delegation`] finds it. `None` if no role that may list it does, or if the
    /// search reached [`MAX_DELEGATIONS`](crate::limits::MAX_DELEGATIONS) roles first
    /// (python-tuf's answer too; [`Client::lookup_target`] tells the two apart).
    pub fn find_target(&mut self, name: &TargetName) -> Result<Option<FoundTarget>> {
        let found = self.lookup_target(name)?.found();
        Ok(found.map(|(role, info)| FoundTarget {
            name: name.clone(),
            info,
            role,
        }))
    }

    /// The verified roles as the delegation walker's source, each fetched when first asked
    /// for (the way [`crate::rollout::index::gather`] reads the releases).
    pub fn targets_source(&mut self) -> impl TargetsSource<Error = Error> + '_ {
        Loader(self)
    }

    /// The delegation search for `name`, with why it found nothing when it did not.
    pub fn lookup_target(&mut self, name: &TargetName) -> Result<Lookup> {
        delegation::find(&mut Loader(self), name)
    }

    /// Every target the verified index offers, each as the search for its name finds it.
    /// Walks at most [`listed_roles_limit`] roles and fails past it
    /// ([`tuf_core::Error::DelegationLimit`]): never a partial list. A name listed by a
    /// role its own search cannot reach within [`MAX_DELEGATIONS`](crate::limits::MAX_DELEGATIONS)
    /// roles fails it too ([`Error::SearchLimit`]): a device would not find it.
    pub fn all_targets(&mut self) -> Result<Vec<FoundTarget>> {
        // Names grouped by the first role listing them, in walk order, each once: the
        // searches of a group mostly end in one role, which the bounded cache of leaf
        // roles then holds (see `LEAF_CACHE_BYTES`).
        let mut seen = BTreeSet::new();
        let mut groups: Vec<Vec<TargetName>> = Vec::new();
        delegation::walk_everything(&mut Loader(self), listed_roles_limit(), |_, _, targets| {
            let listed = targets.targets.keys();
            groups.push(
                listed
                    .filter(|n| seen.insert((*n).clone()))
                    .cloned()
                    .collect(),
            );
        })?;
        drop(seen);
        let mut found = Vec::new();
        // The first name, in name order, whose search its limit cut short.
        let mut cut_short: Option<(TargetName, usize)> = None;
        for name in groups.into_iter().flatten() {
            match self.lookup_target(&name)? {
                Lookup::Found(role, info) => found.push(FoundTarget { name, info, role }),
                // Listed by a role that may not list it: not an answer for this name.
                Lookup::NotListed => {}
                Lookup::SearchLimit(reached) => {
                    if cut_short.as_ref().is_none_or(|(first, _)| name < *first) {
                        cut_short = Some((name, reached.limit));
                    }
                }
            }
        }
        if let Some((name, limit)) = cut_short {
            return Err(Error::SearchLimit { name, limit });
        }
        found.sort_unstable_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// The verified bytes of `policy.xml`, as the delegated `policy` role lists them. Only
    /// that role may: the top-level targets role listing `policy.xml` itself is refused, so
    /// a targets key alone cannot steer the fleet, and the delegation must cover the file.
    pub fn policy_xml(&mut self, mirrors: &Mirrors) -> Result<Vec<u8>> {
        let name = TargetName::new(POLICY_FILE)
            .map_err(|_| Error::Internal("policy.xml is a valid target name"))?;
        let role = RoleName::new(POLICY_ROLE)
            .map_err(|_| Error::Internal("policy is a valid role name"))?;
        self.check_policy_role(&name, &role)?;
        let refuse = |reason: &str| Error::Target {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        self.load_targets(&role, &RoleName::targets())?;
        let info = self
            .trusted
            .targets_role(&role, &RoleName::targets())
            .and_then(|t| t.targets.get(&name))
            .cloned()
            .ok_or_else(|| refuse("the policy role lists no policy.xml"))?;
        if info.length > MAX_POLICY_BYTES {
            return Err(Error::TooLarge {
                what: POLICY_FILE.into(),
                limit: MAX_POLICY_BYTES,
            });
        }
        let found = FoundTarget {
            name: name.clone(),
            info,
            role,
        };
        let hash = TargetHash::for_target(POLICY_FILE, &found.info)?;
        let check = |bytes: &[u8]| -> Result<()> {
            let mut hasher = hash.hasher();
            hasher.update(bytes);
            hash.check(
                POLICY_FILE,
                &found.info,
                bytes.len() as u64,
                &hasher.finish(),
            )
        };
        // The copy kept from an earlier check, trusted again only while the verified policy
        // role lists exactly its bytes: a check that finds nothing new then asks the mirror
        // for nothing past the timestamp.
        let kept = self.store.dir().join(POLICY_FILE);
        if let Ok(bytes) = crate::fs::read_bounded(&kept, found.info.length) {
            if check(&bytes).is_ok() {
                return Ok(bytes);
            }
        }
        let remote = percent_encode(&self.target_path(found.listing()), true);
        let bytes = mirrors.fetch(POLICY_FILE, &remote, found.info.length, |bytes| {
            check(&bytes)?;
            Ok(bytes)
        })?;
        // Only a cache: failing to keep it costs one download next time.
        let _ = crate::fs::write_atomic(&kept, &bytes);
        Ok(bytes)
    }

    /// Checks that only the delegated `role` can list the policy file `name`: not the
    /// top-level targets role, a delegation that covers it, and a published role.
    fn check_policy_role(&self, name: &TargetName, role: &RoleName) -> Result<()> {
        let refuse = |reason: &str| Error::Target {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        let top = self.trusted.targets();
        if top.targets.contains_key(name) {
            return Err(refuse(
                "listed by the top-level targets role; only the delegated policy role may sign the policy",
            ));
        }
        let delegated = top
            .delegations
            .as_ref()
            .and_then(|d| d.roles.iter().find(|r| &r.name == role))
            .ok_or_else(|| {
                refuse(
                    "the repository has no signed policy (targets delegates no policy role): \
                     publish one with `repo policy set REPO FILE`, then `repo sign REPO` with the \
                     targets, policy, snapshot and timestamp keys",
                )
            })?;
        if !delegated.covers(name) {
            return Err(refuse(
                "the policy role's delegation does not cover policy.xml",
            ));
        }
        if self.trusted.snapshot().role_meta(role).is_none() {
            return Err(refuse(
                "the repository has not published a policy yet (snapshot lists no policy \
                 role): `repo sign REPO` with the policy, snapshot and timestamp keys",
            ));
        }
        Ok(())
    }
}

/// The client as the delegation walker's source: roles already verified, else fetched.
struct Loader<'a>(&'a mut Client);

impl TargetsSource for Loader<'_> {
    type Error = Error;
    fn targets(&mut self, role: &RoleName, delegator: &RoleName) -> Result<&Verified<Targets>> {
        self.0.load_targets(role, delegator)
    }
}
