//! Root rotation with signatures gathered across admins: `repo root edit` stages root N+1,
//! each admin adds a signature (`repo sign --key MINE`, on the repository or on a copy),
//! copies are merged (`repo root merge`), and root N+1 is published only once a threshold of
//! the current root's keys and a threshold of its own keys have signed it, exactly the check
//! a device makes.
//!
//! `REPO/staged/root.json` holds the staged root with the signatures gathered so far. Every
//! published root stays in `public/metadata/`, so devices on any old root can walk the chain.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use updater::canonical::to_canonical_bytes;
use updater::datetime::UtcTime;
use updater::key::{KeyId, Signature};
use updater::limits::MAX_ROOT_BYTES;
use updater::metadata::{Envelope, RoleKeys, Root, Threshold, Version};
use updater::names::RoleName;
use updater::trusted::{verify_self_signed_root, SelfSignedRoot};
use updater::verify::Unverified;

use crate::init::TOP_LEVEL_ROLES;
use crate::key_ref;
use crate::keys::{load_public, PrivateKey};
use crate::period::Period;
use crate::publication::{Content, Publication};
use crate::workspace::Workspace;

/// What `repo root edit` changes.
#[derive(Clone, Debug, Default)]
pub struct RootEdit {
    /// (role, key file) to add.
    pub add: Vec<(String, std::path::PathBuf)>,
    /// (role, key file or unambiguous key id prefix of 8 or more hex characters) to remove.
    pub remove: Vec<(String, String)>,
    pub thresholds: Vec<(String, u32)>,
    pub expires: Option<Period>,
}

fn staged_path(ws: &Workspace) -> std::path::PathBuf {
    ws.staged_dir().join("root.json")
}

/// Reads the staged root, if any: its body and the signatures gathered.
pub(crate) fn staged_root(ws: &Workspace) -> Result<Option<(Root, Vec<Signature>)>> {
    let path = staged_path(ws);
    if !path.exists() {
        return Ok(None);
    }
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_ROOT_BYTES)?;
    let envelope: Envelope<Root> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a staged root", path.display()))?;
    Ok(Some((envelope.signed, envelope.signatures)))
}

fn staged_bytes(root: &Root, signatures: Vec<Signature>) -> Result<Vec<u8>> {
    Ok(serde_json::to_vec_pretty(&Envelope {
        signatures,
        signed: root,
    })?)
}

fn write_staged(ws: &Workspace, root: &Root, signatures: Vec<Signature>) -> Result<()> {
    let bytes = staged_bytes(root, signatures)?;
    let path = staged_path(ws);
    updater::fs::write_atomic(&path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// Stages root N+1 from the newest published root (or edits the staged one, dropping its
/// signatures, since they no longer match).
pub fn edit(ws: &Workspace, change: &RootEdit) -> Result<Root> {
    ws.check_exists()?;
    let settings = ws.settings()?;
    let (published, _) = ws.latest_root()?;
    let mut root = match staged_root(ws)? {
        Some((staged, _)) => staged,
        None => published.signed().clone(),
    };
    root.version = published.version.next();
    let mut names = settings.names.clone();
    for (role, path) in &change.add {
        check_role(role)?;
        let key = load_public(path)?;
        let id = key.key_id();
        let keys = &mut role_keys(&mut root, role)?.keyids;
        if keys.contains(&id) {
            bail!("{} is already a {role} key", path.display());
        }
        keys.push(id.clone());
        if let Some(stem) = path.file_stem() {
            names.insert(id.to_string(), stem.to_string_lossy().into_owned());
        }
        root.keys.insert(id, key);
    }
    for (role, which) in &change.remove {
        check_role(role)?;
        let keys = &mut role_keys(&mut root, role)?.keyids;
        let id = key_ref::resolve(which, role, keys)?.clone();
        keys.retain(|k| k != &id);
    }
    for (role, n) in &change.thresholds {
        check_role(role)?;
        role_keys(&mut root, role)?.threshold =
            Threshold::new(*n).with_context(|| format!("{role}: threshold must be at least 1"))?;
    }
    for role in TOP_LEVEL_ROLES {
        let rk = role_keys(&mut root, role)?;
        if (rk.threshold.get() as usize) > rk.keyids.len() {
            bail!(
                "role {role} would need {} signatures but has {} key(s)",
                rk.threshold,
                rk.keyids.len()
            );
        }
    }
    // Keys no role uses any more leave root.
    let used: Vec<KeyId> = root.roles.values().flat_map(|r| r.keyids.clone()).collect();
    root.keys.retain(|id, _| used.contains(id));
    let period = change.expires.unwrap_or(settings.expiry.root);
    root.expires = UtcTime::now().plus_seconds(period.seconds());
    write_staged(ws, &root, Vec::new())?;
    if names != settings.names {
        ws.write_settings(&crate::workspace::Settings { names, ..settings })?;
    }
    Ok(root)
}

fn check_role(role: &str) -> Result<()> {
    if !TOP_LEVEL_ROLES.contains(&role) {
        bail!("{role:?} is not a root role (root, targets, snapshot, timestamp); the policy role's keys are in targets");
    }
    Ok(())
}

fn role_keys<'a>(root: &'a mut Root, role: &str) -> Result<&'a mut RoleKeys> {
    root.roles
        .get_mut(role)
        .with_context(|| format!("root defines no {role} role"))
}

/// How far the staged root is from publication.
#[derive(Clone, Debug)]
pub struct RootProgress {
    pub version: u64,
    /// Valid signatures by keys of the published (current) root's root role.
    pub by_current: Vec<KeyId>,
    pub(crate) current_threshold: u32,
    /// Valid signatures by keys of the staged root's own root role.
    pub by_new: Vec<KeyId>,
    pub(crate) new_threshold: u32,
}

impl RootProgress {
    /// Signatures still needed from current root keys and from new root keys.
    pub fn missing(&self) -> (u32, u32) {
        (
            self.current_threshold
                .saturating_sub(self.by_current.len() as u32),
            self.new_threshold.saturating_sub(self.by_new.len() as u32),
        )
    }
}

/// Tallies the staged root's signatures against the current and the new root keys.
pub fn progress(ws: &Workspace) -> Result<Option<RootProgress>> {
    let Some((root, signatures)) = staged_root(ws)? else {
        return Ok(None);
    };
    let current = ws.published_root()?;
    progress_of(
        current.as_ref().map(|(r, _)| r.signed()),
        &root,
        &signatures,
    )
    .map(Some)
}

/// Tallies `signatures` of the staged `root` against the keys of `current` (none while root
/// version 1 gathers its first signatures) and against its own.
fn progress_of(
    current: Option<&Root>,
    root: &Root,
    signatures: &[Signature],
) -> Result<RootProgress> {
    let bytes = serde_json::to_vec(&Envelope {
        signatures: signatures.to_vec(),
        signed: root,
    })?;
    let parsed = Unverified::<Root>::parse(&RoleName::root(), &bytes)?;
    let new_keys = root
        .roles
        .get("root")
        .context("staged root defines no root role")?;
    let (by_current, current_threshold) = match current {
        Some(current) => {
            let keys = current
                .roles
                .get("root")
                .context("root defines no root role")?;
            (
                parsed.tally(&current.keys, keys).valid,
                keys.threshold.get(),
            )
        }
        None => (Vec::new(), 0),
    };
    Ok(RootProgress {
        version: root.version.get(),
        by_current,
        current_threshold,
        by_new: parsed.tally(&root.keys, new_keys).valid,
        new_threshold: new_keys.threshold.get(),
    })
}

/// What signing the staged root came to.
pub(crate) enum RootSigning {
    /// Signed by enough keys: published as part of the run's publication.
    Published(Root),
    /// Still gathering signatures: how far it is, and how many this run added.
    Pending(RootProgress, usize),
}

/// Adds signatures by those of `keys` that are root keys of the current or the staged root
/// and, once a device's own check accepts the staged root as the successor of the newest
/// published one (or, for version 1, as self-signed by a threshold of its keys), publishes
/// it as part of `publication`; otherwise the staged file keeps the signatures gathered.
/// Nothing is written before `publication` commits, so a later failure in the same run
/// (signing the other roles) leaves the staged root as it was.
pub(crate) fn sign_staged(
    ws: &Workspace,
    keys: &[PrivateKey],
    publication: &mut Publication,
) -> Result<Option<RootSigning>> {
    let Some((root, mut signatures)) = staged_root(ws)? else {
        return Ok(None);
    };
    let current = ws.published_root()?;
    let current_root = current.as_ref().map(|(r, _)| r.signed());
    let is_root_key = |id: &KeyId| {
        current_root
            .into_iter()
            .chain([&root])
            .any(|r| r.roles.get("root").is_some_and(|rk| rk.keyids.contains(id)))
    };
    let canonical = to_canonical_bytes(&serde_json::to_value(&root)?)?;
    let mut added = 0;
    for key in keys.iter().filter(|k| is_root_key(k.key_id())) {
        signatures.retain(|s| &s.keyid != key.key_id());
        signatures.push(Signature {
            keyid: key.key_id().clone(),
            sig: key.sign(&canonical),
        });
        added += 1;
    }
    let progress = progress_of(current_root, &root, &signatures)?;
    if progress.missing() != (0, 0) {
        publication.replace(staged_path(ws), staged_bytes(&root, signatures)?);
        return Ok(Some(RootSigning::Pending(progress, added)));
    }
    // Signatures that do not verify are left out of the published file.
    let keep: Vec<Signature> = signatures
        .into_iter()
        .filter(|s| progress.by_current.contains(&s.keyid) || progress.by_new.contains(&s.keyid))
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&Envelope {
        signatures: keep,
        signed: &root,
    })?;
    bytes.push(b'\n');
    match &current {
        Some((_, current_path)) => {
            let current_bytes = updater::fs::read_bounded(current_path, MAX_ROOT_BYTES)?;
            let mut trusted = SelfSignedRoot::parse(&current_bytes)?.trust(UtcTime::now());
            trusted
                .update_root(&bytes)
                .context("the staged root does not pass a device's check")?;
        }
        None => {
            if root.version != Version::FIRST {
                bail!("the staged root is version {} but no root is published: the first root must be version 1", root.version);
            }
            verify_self_signed_root(&bytes)
                .context("the staged root version 1 does not pass a device's check")?;
        }
    }
    let path = ws
        .metadata_dir()
        .join(format!("{}.root.json", root.version));
    // Published as a versioned file: a root already there with other bytes is refused.
    publication.versioned(path, Content::Bytes(bytes));
    publication.remove_after(staged_path(ws));
    Ok(Some(RootSigning::Published(root)))
}

/// Merges the signatures of another copy of the staged root (a file, or a repository
/// folder holding `staged/root.json`). The signed bodies must be identical.
pub fn merge(ws: &Workspace, other: &Path) -> Result<usize> {
    let (root, mut signatures) =
        staged_root(ws)?.context("there is no staged root to merge into (repo root edit)")?;
    // A copy whose last signature completed the root has published it instead.
    let file = if other.is_dir() {
        let staged = other.join("staged").join("root.json");
        let published = other
            .join("public/metadata")
            .join(format!("{}.root.json", root.version));
        if !staged.exists() && published.exists() {
            published
        } else {
            staged
        }
    } else {
        other.to_path_buf()
    };
    let bytes = updater::fs::read_bounded(&file, updater::limits::MAX_ROOT_BYTES)?;
    let theirs: Envelope<Value> = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a staged root", file.display()))?;
    let ours = to_canonical_bytes(&serde_json::to_value(&root)?)?;
    if to_canonical_bytes(&theirs.signed)? != ours {
        bail!(
            "{} stages a different root than this repository: sign the same staged root",
            file.display()
        );
    }
    let mut added = 0;
    for signature in theirs.signatures {
        if !signatures.iter().any(|s| s.keyid == signature.keyid) {
            signatures.push(signature);
            added += 1;
        }
    }
    write_staged(ws, &root, signatures)?;
    Ok(added)
}

/// The root keys of the published root and of a staged one: the keys that may sign a
/// staged root.
pub(crate) fn root_signers(ws: &Workspace) -> Result<Vec<KeyId>> {
    let mut ids: Vec<KeyId> = match ws.published_root()? {
        Some((current, _)) => current
            .roles
            .get("root")
            .map(|rk| rk.keyids.clone())
            .unwrap_or_default(),
        None => Vec::new(),
    };
    if let Some((staged, _)) = staged_root(ws)? {
        ids.extend(
            staged
                .roles
                .get("root")
                .map(|rk| rk.keyids.clone())
                .unwrap_or_default(),
        );
    }
    Ok(ids)
}

/// Names of key ids, for people: from `repo.toml`'s `[names]`.
pub fn name_of(names: &BTreeMap<String, String>, id: &KeyId) -> String {
    match names.get(id.as_str()) {
        Some(name) => format!("{} ({name})", id.short()),
        None => id.short().to_owned(),
    }
}
