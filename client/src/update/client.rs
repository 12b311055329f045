//! The TUF client workflow: from the device's trusted root to a verified target on disk.
//!
//! Each step first offers the trusted set what the device already has (its own verified
//! copies, which become the reference for rollback checks), then what the mirrors serve.
//! Every accepted file is written back to the metadata store under its unversioned name.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use crate::conventions::name_budget;
use crate::conventions::{served, POLICY_FILE, POLICY_ROLE};
use crate::datetime::UtcTime;
use crate::error::{Error, Result};
use crate::fetch::mirrors::{Attempt, Mirrors};
use crate::fetch::store::MetadataStore;
use crate::fetch::transport::FetchError;
use crate::hash::StreamHash;
use crate::limits::{
    MAX_ROOT_BYTES, MAX_ROOT_ROTATIONS, MAX_SNAPSHOT_BYTES, MAX_TARGETS_BYTES, MAX_TIMESTAMP_BYTES,
};
use crate::metadata::{MetaFile, RoleKeys, Root, Snapshot, TargetInfo, Targets};
use crate::names::{percent_encode, RoleName, TargetName};
use crate::rollout::policy::MAX_POLICY_BYTES;
use crate::trusted::{
    verify_self_signed_root, Complete, Freshness, Origin, Refused, SelfSignedRoot, TrustedRoot,
    WithSnapshot, WithTimestamp,
};
use crate::update::artifact::TargetHash;
use crate::update::copy::{copy_and_hash, CopyError, Output};
use crate::verify::{Unverified, Verified};
use tuf_core::delegation::{self, Scope, TargetsSource};
use tuf_core::Error as CoreError;

/// A verified target: its name, what the index says of it, and which role listed it.
#[derive(Debug, Clone)]
pub struct FoundTarget {
    pub name: TargetName,
    pub info: TargetInfo,
    pub role: RoleName,
}

/// One device's view of one repository: its metadata brought up to date and verified.
pub struct Client {
    store: MetadataStore,
    metadata: Mirrors,
    trusted: Complete,
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
        let timestamp = load_timestamp(&store, &metadata, root)?;
        let snapshot = load_snapshot(&store, &metadata, timestamp)?;
        let trusted = load_top_targets(&store, &metadata, snapshot)?;
        Ok(Client {
            store,
            metadata,
            trusted,
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
            self.fetch_targets(role, delegator)?;
        }
        self.trusted.targets_role(role, delegator).ok_or_else(|| {
            CoreError::NotListed {
                listed_by: delegator.clone(),
                role: role.clone(),
            }
            .into()
        })
    }

    /// Loads delegated role `role`: the stored copy if it still matches snapshot, else a
    /// fresh one from the mirrors.
    fn fetch_targets(&mut self, role: &RoleName, delegator: &RoleName) -> Result<()> {
        let (listed, limit) = targets_listing(self.trusted.snapshot(), role)?;
        if let Ok(Some(local)) = self.store.read(role, limit) {
            if self.trusted.load_delegated(&local, role, delegator).is_ok() {
                return Ok(());
            }
        }
        let path = metadata_path(self.trusted.root(), role, listed.version.get());
        let trusted = &mut self.trusted;
        let bytes = self.metadata.fetch(&path, &path, limit, |bytes| {
            trusted.load_delegated(&bytes, role, delegator)?;
            Ok(bytes)
        })?;
        self.store.write(role, &bytes)
    }

    /// Finds `name` in the verified index, as the delegation search of
    /// [`tuf_core::delegation`] finds it. `None` if no role that may list it does.
    pub fn find_target(&mut self, name: &TargetName) -> Result<Option<FoundTarget>> {
        let found = delegation::find(&mut Loader(self), name)?;
        Ok(found.map(|(role, info)| FoundTarget {
            name: name.clone(),
            info,
            role,
        }))
    }

    /// Every target the verified index offers, each as the search for its name finds it.
    pub fn all_targets(&mut self) -> Result<Vec<FoundTarget>> {
        let mut names = BTreeSet::new();
        delegation::walk(&mut Loader(self), Scope::Everything, |_, _, targets| {
            names.extend(targets.targets.keys().cloned());
            ControlFlow::<()>::Continue(())
        })?;
        let mut found = Vec::new();
        for name in names {
            if let Some(target) = self.find_target(&name)? {
                found.push(target);
            }
        }
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
        let refuse = |reason: &str| Error::Target {
            name: name.clone(),
            reason: reason.to_owned(),
        };
        let top = self.trusted.targets();
        if top.targets.contains_key(&name) {
            return Err(refuse(
                "listed by the top-level targets role; only the delegated policy role may sign the policy",
            ));
        }
        let delegated = top
            .delegations
            .as_ref()
            .and_then(|d| d.roles.iter().find(|r| r.name == role))
            .ok_or_else(|| {
                refuse("the repository has no signed policy (targets delegates no policy role)")
            })?;
        if !delegated.covers(&name) {
            return Err(refuse(
                "the policy role's delegation does not cover policy.xml",
            ));
        }
        if self.trusted.snapshot().role_meta(&role).is_none() {
            return Err(refuse(
                "the repository has not published a policy yet (snapshot lists no policy role)",
            ));
        }
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
        let remote = percent_encode(&self.target_path(&found), true);
        mirrors.fetch(POLICY_FILE, &remote, found.info.length, |bytes| {
            let mut hasher = hash.hasher();
            hasher.update(&bytes);
            hash.check(
                POLICY_FILE,
                &found.info,
                bytes.len() as u64,
                &hasher.finish(),
            )?;
            Ok(bytes)
        })
    }

    /// Where [`Client::download`] keeps `name` in `dir`: one file named by
    /// [`name_budget::local_file_name`], so no target name can place a file outside `dir`
    /// and every name fits in one file name.
    pub fn local_path(dir: &Path, name: &TargetName) -> PathBuf {
        dir.join(name_budget::local_file_name(name))
    }

    /// Where [`Client::download`] writes `target` while it arrives: named by hashes only,
    /// so it fits in one file name whatever the target's name.
    pub fn partial_path(dir: &Path, target: &FoundTarget) -> Result<PathBuf> {
        let hash = TargetHash::for_target(target.name.as_str(), &target.info)?;
        Ok(dir.join(name_budget::partial_file_name(
            &target.name,
            &hash.short_hex(),
        )))
    }

    /// Makes a verified copy of `target` in `dir`, unless one is already there. The bytes
    /// go to a temporary file in `dir` while their length and hashes are checked; only a
    /// file that matches is renamed into place. Returns the file's path and whether it was
    /// fetched (false: the copy in `dir` already matched).
    pub fn download(
        &self,
        target: &FoundTarget,
        mirrors: &Mirrors,
        dir: &Path,
    ) -> Result<(PathBuf, bool)> {
        let dest = Self::local_path(dir, &target.name);
        let what = target.name.as_str();
        let hash = TargetHash::for_target(what, &target.info)?;
        if dest.is_file() && hash.check_file(what, &dest, &target.info).is_ok() {
            return Ok((dest, false));
        }
        let remote = percent_encode(&self.target_path(target), true);
        // Named by the expected hash too, so a partial of another version is never resumed.
        let partial = Self::partial_path(dir, target)?;
        let limit = target.info.length;
        // A partial already as long as the target (cut just before its rename) is checked
        // here: there is nothing left to ask a mirror for.
        if fs::metadata(&partial).is_ok_and(|m| m.len() >= limit)
            && hash.check_file(what, &partial, &target.info).is_err()
        {
            discard(&partial);
        }
        // Bytes an earlier attempt (or run) saved are kept and the rest asked for.
        let saved = || {
            fs::metadata(&partial)
                .map(|m| m.len())
                .ok()
                .filter(|n| *n < limit)
                .unwrap_or(0)
        };
        let complete = fs::metadata(&partial).is_ok_and(|m| m.len() == limit);
        let result = if complete {
            Ok(())
        } else {
            mirrors.fetch_resuming(what, &remote, &saved, |body| {
                let remaining = limit - body.start.min(limit);
                if body.announced_length.is_some_and(|n| n > remaining) {
                    discard(&partial);
                    return Err(Attempt::Fetch(FetchError::TooLarge { limit }));
                }
                // One byte more than listed is enough to know the file is too long.
                let mut reader = body.reader.take(remaining.saturating_add(1));
                let (length, digest) = if body.start == 0 {
                    discard(&partial);
                    let mut output =
                        Output::create(&partial).map_err(|e| Error::io(&partial, e))?;
                    // Receiving costs CPU here, so the hash gets a thread of its own.
                    let copied = copy_and_hash(
                        &mut reader,
                        &mut output,
                        (),
                        hash.hasher(),
                        Some(limit),
                        &|_| {},
                    )
                    .map_err(|e| copy_failure(&partial, e))?;
                    output
                        .into_file()
                        .sync_all()
                        .map_err(|e| Error::io(&partial, e))?;
                    (copied.length, copied.second)
                } else {
                    append_resumed(&partial, body.start, &mut reader, hash.hasher())?
                };
                if let Err(e) = hash.check(what, &target.info, length, &digest) {
                    // Whatever was saved is not this target: never resume from it.
                    discard(&partial);
                    if body.start > 0 {
                        return Err(Attempt::Fetch(FetchError::Io(format!(
                            "the bytes resumed after {} did not match ({e}); saved part discarded",
                            body.start
                        ))));
                    }
                    return Err(e.into());
                }
                Ok(())
            })
        };
        result?;
        fs::rename(&partial, &dest).map_err(|e| Error::io(&dest, e))?;
        crate::fs::sync_dir(dir).map_err(|e| Error::io(dir, e))?;
        Ok((dest, true))
    }

    /// The target's path under the targets base: a name the repository serves it by.
    fn target_path(&self, target: &FoundTarget) -> String {
        served::fetch_name(
            &target.name,
            &target.info.hashes,
            self.trusted.root().consistent_snapshot,
        )
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
fn update_root(store: &MetadataStore, mirrors: &Mirrors, root: &mut TrustedRoot) -> Result<()> {
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

fn load_timestamp(
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
    Ok(next)
}

fn load_snapshot(
    store: &MetadataStore,
    mirrors: &Mirrors,
    timestamp: WithTimestamp,
) -> Result<WithSnapshot> {
    let role = RoleName::snapshot();
    let timestamp = match store.read(&role, MAX_SNAPSHOT_BYTES) {
        Ok(Some(local)) => match timestamp.load_snapshot(&local, Origin::Store) {
            Ok(snapshot) => return Ok(snapshot),
            Err(refused) => *refused.state,
        },
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
    store.write(&role, &bytes)?;
    Ok(next)
}

fn load_top_targets(
    store: &MetadataStore,
    mirrors: &Mirrors,
    snapshot: WithSnapshot,
) -> Result<Complete> {
    let role = RoleName::targets();
    let (listed, limit) = targets_listing(snapshot.snapshot(), &role)?;
    let snapshot = match store.read(&role, limit) {
        Ok(Some(local)) => match snapshot.load_targets(&local) {
            Ok(complete) => return Ok(complete),
            Err(refused) => *refused.state,
        },
        _ => snapshot,
    };
    let path = metadata_path(snapshot.root(), &role, listed.version.get());
    let (next, bytes) = fetch_step(mirrors, &path, limit, snapshot, |s, bytes| {
        s.load_targets(bytes)
    })?;
    store.write(&role, &bytes)?;
    Ok(next)
}

/// What the snapshot lists for targets role `role`, and the most bytes to read for it.
fn targets_listing(snapshot: &Snapshot, role: &RoleName) -> Result<(MetaFile, u64)> {
    let listed = snapshot
        .role_meta(role)
        .cloned()
        .ok_or_else(|| CoreError::NotListed {
            listed_by: RoleName::snapshot(),
            role: role.clone(),
        })?;
    let limit = listed
        .length
        .map_or(MAX_TARGETS_BYTES, |n| n.min(MAX_TARGETS_BYTES));
    Ok((listed, limit))
}

/// `N.<role>.json` with consistent snapshots, `<role>.json` without.
fn metadata_path(root: &Root, role: &RoleName, version: u64) -> String {
    if root.consistent_snapshot {
        format!("{version}.{}.json", role.file_stem())
    } else {
        format!("{}.json", role.file_stem())
    }
}

/// Removes a partial download (a missing one is fine).
fn discard(partial: &Path) {
    let _ = fs::remove_file(partial);
}

/// A failed copy: a read failure keeps what arrived (to resume from), a write failure
/// (a full disk, say) gives the space back.
fn copy_failure(partial: &Path, e: CopyError) -> Attempt {
    match e {
        CopyError::Read(e) => Attempt::Fetch(e.into()),
        CopyError::Write(e) => {
            discard(partial);
            Attempt::Refused(Error::io(partial, e))
        }
    }
}

/// Continues the partial download at `partial`, whose first `start` bytes are already
/// saved: hashes them, then appends what `reader` brings. Returns the total length and
/// the digest of the whole file.
fn append_resumed(
    partial: &Path,
    start: u64,
    reader: &mut dyn Read,
    mut hash: crate::hash::AnyHasher,
) -> Result<(u64, Vec<u8>), Attempt> {
    use std::io::Write;
    let io = |e| Error::io(partial, e);
    let mut saved = fs::File::open(partial).map_err(io)?.take(start);
    let mut buf = vec![0u8; crate::hash::STREAM_CHUNK];
    let mut length = 0u64;
    loop {
        let n = saved.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        length += n as u64;
    }
    if length != start {
        discard(partial);
        return Err(Attempt::Fetch(FetchError::Io(
            "the saved part changed".into(),
        )));
    }
    let mut out = fs::OpenOptions::new()
        .append(true)
        .open(partial)
        .map_err(io)?;
    let failure = loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => break Some(e),
        };
        hash.update(&buf[..n]);
        if let Err(e) = out.write_all(&buf[..n]) {
            discard(partial);
            return Err(Attempt::Refused(Error::io(partial, e)));
        }
        length += n as u64;
    };
    out.sync_all().map_err(io)?;
    if let Some(e) = failure {
        return Err(Attempt::Fetch(e.into()));
    }
    Ok((length, hash.finish()))
}
