//! `repo sign`: publishes the staged index (targets), the staged policy (the delegated
//! `policy` role), or both, with a new snapshot and timestamp.
//!
//! Everything one run writes is one [`Publication`]: artifacts, `N.targets.json`,
//! `policy.xml` and `N.policy.json`, `N.snapshot.json`, `timestamp.json` last, each complete
//! on disk before any takes its name. A reader that sees the new timestamp therefore finds
//! everything it points to; a reader that sees the old one still finds the old files, which
//! are never removed. A run that fails leaves the repository folder as it was, and a
//! versioned file already published is never rewritten (a new version is chosen past every
//! one on disk).

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use serde_json::Value;
use updater::canonical::to_canonical_bytes;
use updater::datetime::UtcTime;
use updater::hash::digest_reader;
use updater::key::Signature;
use updater::key::{KeyId, PublicKey};
use updater::metadata::{
    Envelope, HexDigest, MetaFile, Role, RoleKeys, Root, Snapshot, TargetInfo, Targets, Timestamp,
    Version, SPEC_VERSION,
};
use updater::names::{RoleName, TargetName};
use updater::verify::Unverified;

use crate::keys::PrivateKey;
use crate::publication::{Content, Publication};
use crate::rotate::RootSigning;
use crate::signer::sign_metadata;
use crate::workspace::{ExportedVersions, Workspace};
use updater::conventions::{POLICY_FILE, POLICY_ROLE};

/// The keys among `given` that `role` lists; fails unless they reach its threshold.
pub fn keys_for_role<'a>(
    all_keys: &BTreeMap<KeyId, PublicKey>,
    role: &RoleKeys,
    role_name: &str,
    given: &'a [PrivateKey],
) -> Result<Vec<&'a PrivateKey>> {
    let chosen: Vec<&PrivateKey> = given
        .iter()
        .filter(|k| {
            role.keyids.contains(k.key_id()) && all_keys.get(k.key_id()) == Some(k.public())
        })
        .collect();
    if chosen.len() < role.threshold.get() as usize {
        bail!(
            "role {role_name} needs {} signature(s) but {} of the given keys are {role_name} keys in root",
            role.threshold,
            chosen.len()
        );
    }
    Ok(chosen)
}

/// Latest published version of `role` (`N.<role>.json`), if any.
pub fn latest_version(ws: &Workspace, role: &str) -> Result<Option<Version>> {
    let suffix = format!(".{role}.json");
    let mut best = None;
    for entry in std::fs::read_dir(ws.metadata_dir())? {
        let name = entry?.file_name();
        if let Some(n) = name
            .to_str()
            .and_then(|n| n.strip_suffix(&suffix))
            .and_then(|n| n.parse::<u64>().ok())
            .and_then(Version::new)
        {
            best = best.max(Some(n));
        }
    }
    Ok(best)
}

/// What `repo sign` will sign: each role whose keys were given, plus snapshot and
/// timestamp, which always follow.
struct Plan<'k> {
    /// Keys adding signatures to targets (possibly none, to finish a pending one).
    targets: Option<Vec<&'k PrivateKey>>,
    policy: Option<Vec<&'k PrivateKey>>,
    /// Snapshot and timestamp follow when their keys are given (a threshold each).
    snapshot: Option<Vec<&'k PrivateKey>>,
    timestamp: Option<Vec<&'k PrivateKey>>,
}

/// `staged/ROLE.signed.json`: ROLE's next version, signed by fewer keys than its threshold
/// so far. Never served.
pub(crate) fn pending_path(ws: &Workspace, role: &str) -> std::path::PathBuf {
    ws.staged_dir().join(format!("{role}.signed.json"))
}

/// Where gathering signatures for a role stands.
enum Gathered {
    /// Signed by a threshold: the file to publish.
    Complete(Vec<u8>),
    /// Kept in `staged/ROLE.signed.json`: what is still missing, in words.
    Pending(String),
}

/// Adds signatures by `signers` to `role`'s pending version (or to `body`, starting one)
/// and says whether it is complete. A pending version keeps its body: signatures gathered
/// on several machines must all cover the same bytes. The pending file is written, or
/// removed once complete, as part of `publication`.
fn gather(
    ws: &Workspace,
    role: &str,
    body: Value,
    signers: &[&PrivateKey],
    keys: &BTreeMap<KeyId, PublicKey>,
    role_keys: &RoleKeys,
    publication: &mut Publication,
) -> Result<Gathered> {
    let path = pending_path(ws, role);
    let (body, mut signatures) = if path.exists() {
        let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TARGETS_BYTES)?;
        let pending: Envelope<Value> = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a signed file", path.display()))?;
        (pending.signed, pending.signatures)
    } else {
        (body, Vec::new())
    };
    let canonical = to_canonical_bytes(&body)?;
    for key in signers {
        signatures.retain(|s| &s.keyid != key.key_id());
        signatures.push(Signature {
            keyid: key.key_id().clone(),
            sig: key.sign(&canonical),
        });
    }
    let envelope = Envelope {
        signatures,
        signed: body,
    };
    let mut bytes = serde_json::to_vec_pretty(&envelope)?;
    bytes.push(b'\n');
    let name = RoleName::new(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tally = Unverified::<Targets>::parse(&name, &bytes)?.tally(keys, role_keys);
    let threshold = role_keys.threshold.get() as usize;
    if tally.valid.len() >= threshold {
        if path.exists() {
            publication.remove_after(&path);
        }
        return Ok(Gathered::Complete(bytes));
    }
    publication.replace(&path, bytes);
    let names = ws.settings()?.names;
    let by: Vec<String> = tally
        .valid
        .iter()
        .map(|k| crate::rotate::name_of(&names, k))
        .collect();
    let version = envelope.signed.get("version").cloned().unwrap_or_default();
    Ok(Gathered::Pending(format!(
        "{role} version {version} staged, signed by {}: still needs {} more signature(s); sign it on this repository or a copy (then `repo merge`)",
        if by.is_empty() { "nobody".to_owned() } else { by.join(", ") },
        threshold - tally.valid.len()
    )))
}

/// Merges the pending signatures of another copy (a repository folder) into this one:
/// a staged root, targets and policy, each only if both sides sign the same bytes.
pub fn merge(ws: &Workspace, other: &std::path::Path) -> Result<usize> {
    let mut added = 0;
    if other.is_dir() && crate::rotate::staged_root(ws)?.is_some() {
        added += crate::rotate::merge(ws, other)?;
    }
    for role in ["targets", POLICY_ROLE] {
        let ours = pending_path(ws, role);
        let read = |p: &std::path::Path| -> Result<Envelope<Value>> {
            let bytes = updater::fs::read_bounded(p, updater::limits::MAX_TARGETS_BYTES)?;
            serde_json::from_slice(&bytes)
                .with_context(|| format!("{} is not a signed file", p.display()))
        };
        // Their signatures: still pending there, or already published there (their last
        // signature completed it) under the version pending here.
        let mut theirs = other.join("staged").join(format!("{role}.signed.json"));
        if !theirs.exists() && ours.exists() {
            let version = read(&ours)?.signed.get("version").and_then(Value::as_u64);
            if let Some(v) = version {
                theirs = other
                    .join("public/metadata")
                    .join(format!("{v}.{role}.json"));
            }
        }
        if !theirs.exists() {
            continue;
        }
        let theirs = read(&theirs)?;
        if !ours.exists() {
            let bytes = serde_json::to_vec_pretty(&theirs)?;
            updater::fs::write_atomic(&ours, &bytes)?;
            added += theirs.signatures.len();
            continue;
        }
        let mut mine = read(&ours)?;
        if to_canonical_bytes(&mine.signed)? != to_canonical_bytes(&theirs.signed)? {
            bail!("the copies stage different {role} versions: sign the same one");
        }
        for signature in theirs.signatures {
            if !mine.signatures.iter().any(|s| s.keyid == signature.keyid) {
                mine.signatures.push(signature);
                added += 1;
            }
        }
        updater::fs::write_atomic(&ours, &serde_json::to_vec_pretty(&mine)?)?;
    }
    Ok(added)
}

/// The policy role as the staged index delegates it: its keys and threshold.
fn policy_delegation(staged: &Targets) -> Option<(&BTreeMap<KeyId, PublicKey>, RoleKeys)> {
    let delegations = staged.delegations.as_ref()?;
    let role = delegations
        .roles
        .iter()
        .find(|r| r.name.as_str() == POLICY_ROLE)?;
    Some((&delegations.keys, role.role_keys()))
}

/// `root_signers`: root keys (of the published or a staged root) that may be among `keys`;
/// `root_work`: a staged root was signed, so there may be nothing else to sign.
fn plan<'k>(
    ws: &Workspace,
    root: &Root,
    staged: &Targets,
    keys: &'k [PrivateKey],
    root_signers: &[KeyId],
    root_work: bool,
) -> Result<Option<Plan<'k>>> {
    let policy = policy_delegation(staged);
    // Every key must belong to a role being signed: a wrong key file is a mistake the
    // admin must hear about, not something to skip.
    for key in keys {
        let in_root = ["targets", "snapshot", "timestamp"].iter().any(|r| {
            root.roles
                .get(*r)
                .is_some_and(|rk| rk.keyids.contains(key.key_id()))
        });
        let in_policy = policy
            .as_ref()
            .is_some_and(|(_, rk)| rk.keyids.contains(key.key_id()));
        // Root keys (of the published root or of a staged one) sign the staged root.
        let root_key = root_signers.contains(key.key_id());
        if !in_root && !in_policy && !root_key {
            bail!(
                "key {} ({}) is not a targets, snapshot, timestamp or policy key of this repository",
                key.path().display(),
                key.key_id().short()
            );
        }
    }
    let role_keys = |name: &str| {
        root.roles
            .get(name)
            .with_context(|| format!("root defines no {name} role"))
    };
    // The given keys of a role whose key material matches what its delegator lists.
    let of_role = |all: &BTreeMap<KeyId, PublicKey>, rk: &RoleKeys| -> Vec<&'k PrivateKey> {
        keys.iter()
            .filter(|k| rk.keyids.contains(k.key_id()) && all.get(k.key_id()) == Some(k.public()))
            .collect()
    };
    let gathering =
        |given: Vec<&'k PrivateKey>, pending: bool| (!given.is_empty() || pending).then_some(given);
    let targets = gathering(
        of_role(&root.keys, role_keys("targets")?),
        pending_path(ws, "targets").exists(),
    );
    let policy = match &policy {
        Some((policy_keys, rk)) => gathering(
            of_role(policy_keys, rk),
            pending_path(ws, POLICY_ROLE).exists(),
        ),
        None => None,
    };
    let online = |role: &str| -> Result<Option<Vec<&'k PrivateKey>>> {
        let rk = role_keys(role)?;
        if of_role(&root.keys, rk).is_empty() {
            return Ok(None);
        }
        keys_for_role(&root.keys, rk, role, keys).map(Some)
    };
    let (snapshot, timestamp) = (online("snapshot")?, online("timestamp")?);
    // Snapshot and timestamp keys alone make the newest published roles visible.
    let refresh = snapshot.is_some() && timestamp.is_some();
    if targets.is_none() && policy.is_none() && !refresh {
        if root_work {
            return Ok(None);
        }
        bail!("give the targets key(s), the policy key(s), or both: there is nothing to sign");
    }
    Ok(Some(Plan {
        targets,
        policy,
        snapshot,
        timestamp,
    }))
}

/// How `repo sign` may go beyond its usual refusals.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignOptions {
    /// Sign even though root expires before the metadata signed now (devices stop
    /// updating when root expires, whatever the other roles say).
    pub force: bool,
}

/// Signs what the keys given can sign: a staged root (root keys add their signatures; it is
/// published once complete), and the roles whose keys are given (targets, policy or both)
/// with a new snapshot and timestamp. Everything goes into one [`Publication`]: a new root
/// and the roles signed under it become visible together or not at all. Returns what
/// happened, in words.
pub fn sign(ws: &Workspace, keys: &[PrivateKey], options: SignOptions) -> Result<Vec<String>> {
    ws.check_exists()?;
    let mut report = Vec::new();
    let mut publication = Publication::new();
    // Root keys are welcome only while a root is staged for them to sign.
    let root_signers = match crate::rotate::staged_root(ws)? {
        Some(_) => crate::rotate::root_signers(ws)?,
        None => Vec::new(),
    };
    let published = ws.published_root()?.map(|(root, _)| root.signed().clone());
    // The root the other roles are signed under: a root completed now, or the published one.
    let root = match crate::rotate::sign_staged(ws, keys, &mut publication)? {
        Some(RootSigning::Published(root)) => {
            report.push(format!("published root version {}", root.version));
            Some(root)
        }
        Some(RootSigning::Pending(progress, added)) => {
            report.push(root_progress_line(ws, &progress, added)?);
            published
        }
        None => published,
    };
    let root_work = !report.is_empty();
    match root {
        Some(root) => sign_roles(
            ws,
            &root,
            keys,
            &root_signers,
            root_work,
            options,
            &mut publication,
            &mut report,
        )?,
        // Root version 1 still gathers signatures: only root keys have anything to sign.
        None => {
            if let Some(key) = keys.iter().find(|k| !root_signers.contains(k.key_id())) {
                bail!(
                    "key {} ({}) is not a root key of the staged root version 1: until it is signed, only root keys can sign",
                    key.path().display(),
                    key.key_id().short()
                );
            }
        }
    }
    publication.commit()?;
    Ok(report)
}

/// Where a staged root stands, in words.
fn root_progress_line(
    ws: &Workspace,
    progress: &crate::rotate::RootProgress,
    added: usize,
) -> Result<String> {
    let names = ws.settings()?.names;
    let (by_current, by_new) = progress.missing();
    let signers: Vec<String> = progress
        .by_current
        .iter()
        .chain(
            progress
                .by_new
                .iter()
                .filter(|k| !progress.by_current.contains(k)),
        )
        .map(|k| crate::rotate::name_of(&names, k))
        .collect();
    let signers = if signers.is_empty() {
        "nobody".to_owned()
    } else {
        signers.join(", ")
    };
    let needs = if progress.current_threshold == 0 {
        format!("still needs {by_new} from its root keys")
    } else {
        format!("still needs {by_current} from the current root keys and {by_new} from its own")
    };
    Ok(format!(
        "root version {} staged, {added} signature(s) added, signed by {signers}: {needs}",
        progress.version
    ))
}

/// The targets, policy, snapshot and timestamp part of `sign`: adds what to publish to
/// `publication` and what happened to `report`.
#[allow(clippy::too_many_arguments)]
fn sign_roles(
    ws: &Workspace,
    root: &Root,
    keys: &[PrivateKey],
    root_signers: &[KeyId],
    root_work: bool,
    options: SignOptions,
    publication: &mut Publication,
    report: &mut Vec<String>,
) -> Result<()> {
    let settings = ws.settings()?;
    let staged = ws.staged_targets()?;
    let Some(plan) = plan(ws, root, &staged, keys, root_signers, root_work)? else {
        return Ok(());
    };

    let now = UtcTime::now();
    check_root_lifetime(root, &plan, &settings, now, options)?;
    let next = |role: &str| -> Result<Version> {
        Ok(latest_version(ws, role)?.map_or(Version::FIRST, |v| v.next()))
    };

    // The delegation to the policy role is published with the first policy: before that,
    // snapshot could list no policy.json and clients (tough, for one) would refuse the
    // dangling delegation.
    let policy_published = latest_version(ws, POLICY_ROLE)?.is_some();
    let with_delegation = plan.policy.is_some() || policy_published;

    // Targets: the staged index, or the one already published.
    let (targets, targets_bytes) = match &plan.targets {
        Some(signers) => {
            let mut targets = staged.clone();
            if !with_delegation {
                targets.delegations = None;
            }
            targets.version = next("targets")?;
            targets.expires = now.plus_seconds(settings.expiry.targets.seconds());
            targets.spec_version = SPEC_VERSION.into();
            let role_keys = root
                .roles
                .get("targets")
                .context("root defines no targets role")?;
            match gather(
                ws,
                "targets",
                serde_json::to_value(&targets)?,
                signers,
                &root.keys,
                role_keys,
                publication,
            )? {
                Gathered::Complete(bytes) => {
                    check_signed::<Targets>(root, "targets", &bytes)?;
                    let parsed = Unverified::<Targets>::parse(&RoleName::targets(), &bytes)?;
                    (parsed.untrusted().clone(), Some(bytes))
                }
                Gathered::Pending(progress) => {
                    report.push(progress);
                    match published_targets(ws)? {
                        Some(t) => (t, None),
                        None => return Ok(()),
                    }
                }
            }
        }
        None => (
            published_targets(ws)?.context(
                "targets has never been signed: give the targets key(s) for the first signing",
            )?,
            None,
        ),
    };

    // Policy: the staged policy.xml, as the only target of the policy role.
    let policy = match &plan.policy {
        Some(signers) => {
            let (policy_keys, policy_role) = policy_delegation(&targets).context(
                "the published targets do not delegate to the policy role yet: publish the first policy together with targets (give the targets key(s) too)",
            )?;
            let file = ws.staged_policy_file();
            if !file.is_file() {
                bail!(
                    "no policy staged: run `repo policy set {} FILE` first",
                    ws.root().display()
                );
            }
            let xml = updater::fs::read_bounded(&file, updater::policy::MAX_POLICY_BYTES)?;
            check_policy_against(&xml, &targets)
                .with_context(|| format!("the staged {}", file.display()))?;
            let digest = digest_reader(&xml[..])?;
            let name = TargetName::new(POLICY_FILE).map_err(|e| anyhow::anyhow!("{e}"))?;
            let info = TargetInfo {
                length: digest.length,
                hashes: BTreeMap::from([
                    ("sha256".to_owned(), HexDigest(digest.sha256.0.to_vec())),
                    ("sha512".to_owned(), HexDigest(digest.sha512.0.to_vec())),
                ]),
                custom: None,
            };
            let role = Targets {
                type_: "targets".into(),
                spec_version: SPEC_VERSION.into(),
                version: next(POLICY_ROLE)?,
                expires: now.plus_seconds(settings.expiry.policy.seconds()),
                targets: BTreeMap::from([(name, info)]),
                delegations: None,
            };
            match gather(
                ws,
                POLICY_ROLE,
                serde_json::to_value(&role)?,
                signers,
                policy_keys,
                &policy_role,
                publication,
            )? {
                Gathered::Complete(bytes) => {
                    let role_name =
                        RoleName::new(POLICY_ROLE).map_err(|e| anyhow::anyhow!("{e}"))?;
                    let verified = Unverified::<Targets>::parse(&role_name, &bytes)?
                        .verify(policy_keys, &policy_role)?;
                    Some((verified.signed().clone(), bytes, xml))
                }
                Gathered::Pending(progress) => {
                    report.push(progress);
                    None
                }
            }
        }
        None => None,
    };

    let (Some(snapshot_keys), Some(timestamp_keys)) = (&plan.snapshot, &plan.timestamp) else {
        // Without snapshot and timestamp keys, complete roles are published but not yet
        // visible: the next `repo sign` with those keys (or `repo timestamp`) shows them.
        for (role, version) in publish_roles(
            ws,
            &targets,
            targets_bytes.as_deref(),
            policy.as_ref(),
            publication,
        )? {
            report.push(format!("published {role} version {version} (not yet in a snapshot: sign with the snapshot and timestamp keys)"));
        }
        return Ok(());
    };
    let previous_timestamp = read_timestamp(ws)?;
    let exported = ws.exported_versions()?;
    // Past the one the timestamp names and past any on disk: a snapshot left by a run
    // that did not finish (older versions of this tool) is never rewritten.
    let snapshot_version = match &previous_timestamp {
        Some(t) => t
            .snapshot_meta()
            .map_or(Version::FIRST, |m| m.version.next()),
        None => Version::FIRST,
    }
    .max(next("snapshot")?);
    let snapshot_version = ExportedVersions::past(snapshot_version, exported.snapshot);
    let mut meta = BTreeMap::new();
    meta.insert(
        "targets.json".to_owned(),
        MetaFile {
            version: targets.version,
            length: None,
            hashes: None,
        },
    );
    let policy_version = match &policy {
        Some((role, _, _)) => Some(role.version),
        None => latest_version(ws, POLICY_ROLE)?,
    };
    if let Some(version) = policy_version {
        meta.insert(
            format!("{POLICY_ROLE}.json"),
            MetaFile {
                version,
                length: None,
                hashes: None,
            },
        );
    }
    let snapshot = Snapshot {
        type_: "snapshot".into(),
        spec_version: SPEC_VERSION.into(),
        version: snapshot_version,
        expires: now.plus_seconds(settings.expiry.snapshot.seconds()),
        meta,
    };
    let snapshot_bytes = sign_metadata(&snapshot, snapshot_keys)?;

    let timestamp_version = match &previous_timestamp {
        Some(t) => t.version.next(),
        None => Version::FIRST,
    };
    let timestamp_version = ExportedVersions::past(timestamp_version, exported.timestamp);
    let timestamp = Timestamp {
        type_: "timestamp".into(),
        spec_version: SPEC_VERSION.into(),
        version: timestamp_version,
        expires: now.plus_seconds(settings.expiry.timestamp.seconds()),
        meta: BTreeMap::from([(
            "snapshot.json".to_owned(),
            meta_for(&snapshot_bytes, snapshot_version)?,
        )]),
    };
    let timestamp_bytes = sign_metadata(&timestamp, timestamp_keys)?;

    // Check our own output with the device's verifier before anything becomes visible.
    check_signed::<Snapshot>(root, "snapshot", &snapshot_bytes)?;
    check_signed::<Timestamp>(root, "timestamp", &timestamp_bytes)?;

    let mut published = publish_roles(
        ws,
        &targets,
        targets_bytes.as_deref(),
        policy.as_ref(),
        publication,
    )?;
    let dir = ws.metadata_dir();
    publication.versioned(
        dir.join(format!("{snapshot_version}.snapshot.json")),
        Content::Bytes(snapshot_bytes),
    );
    publication.replace(dir.join("timestamp.json"), timestamp_bytes);
    published.push(("snapshot".into(), snapshot_version));
    published.push(("timestamp".into(), timestamp_version));
    report.extend(
        published
            .into_iter()
            .map(|(role, version)| format!("published {role} version {version}")),
    );
    Ok(())
}

/// Refuses to sign under a root that devices will refuse first: an expired root always,
/// and (unless forced) one that expires before the metadata signed now, since devices stop
/// trusting anything once root expires, whatever the other roles say.
fn check_root_lifetime(
    root: &Root,
    plan: &Plan<'_>,
    settings: &crate::workspace::Settings,
    now: UtcTime,
    options: SignOptions,
) -> Result<()> {
    let fix = "stage a new root with `repo root edit REPO --expires PERIOD`, sign it with the root keys, then sign again";
    if root.expires <= now {
        bail!(
            "root version {} expired at {}: devices refuse everything signed under it; {fix}",
            root.version,
            root.expires
        );
    }
    let expiry = &settings.expiry;
    let signed_now = [
        ("targets", plan.targets.is_some(), expiry.targets),
        (POLICY_ROLE, plan.policy.is_some(), expiry.policy),
        ("snapshot", plan.snapshot.is_some(), expiry.snapshot),
        ("timestamp", plan.timestamp.is_some(), expiry.timestamp),
    ];
    let outlived = signed_now
        .iter()
        .filter(|(_, signing, _)| *signing)
        .map(|(role, _, period)| (role, now.plus_seconds(period.seconds())))
        .filter(|(_, expires)| *expires > root.expires)
        .max_by_key(|(_, expires)| *expires);
    if let (Some((role, expires)), false) = (outlived, options.force) {
        bail!(
            "root version {} expires at {}, before the {role} signed now ({expires}): devices stop updating when root expires; {fix} (or pass --force to sign anyway)",
            root.version,
            root.expires
        );
    }
    Ok(())
}

/// Parses `xml` and checks that every release it names is in `index`.
pub fn check_policy_against(xml: &[u8], index: &Targets) -> Result<updater::policy::Policy> {
    let policy = updater::policy::parse(xml)?;
    let index = updater::decide::Index::from_targets(index)?;
    let mut missing = Vec::new();
    for channel in policy.channels.values() {
        let named = channel
            .target
            .iter()
            .map(|t| &t.release)
            .chain(channel.vias.iter().map(|v| &v.release))
            .chain(channel.revoked.iter());
        for release in named {
            if !index.has_release(release) {
                missing.push(format!("{release} (channel {:?})", channel.name));
            }
        }
    }
    if !missing.is_empty() {
        bail!(
            "policy names releases the index does not hold: {}",
            missing.join(", ")
        );
    }
    Ok(policy)
}

/// `policy.xml` under every path a client may fetch it by, before the metadata that lists
/// it. Each path names the file's hash, so one already there must hold the same bytes.
fn publish_policy_file(ws: &Workspace, role: &Targets, xml: &[u8], publication: &mut Publication) {
    let public = ws.artifacts_dir();
    for (name, info) in &role.targets {
        for path in Workspace::served_paths(&public, name, &info.hashes) {
            publication.versioned(path, Content::Bytes(xml.to_vec()));
        }
    }
}

/// Writes the complete targets and policy roles with what they list (artifacts first):
/// the roles published, with their versions.
fn publish_roles(
    ws: &Workspace,
    targets: &Targets,
    targets_bytes: Option<&[u8]>,
    policy: Option<&(Targets, Vec<u8>, Vec<u8>)>,
    publication: &mut Publication,
) -> Result<Vec<(String, Version)>> {
    let dir = ws.metadata_dir();
    let mut published = Vec::new();
    if let Some(bytes) = targets_bytes {
        publish_artifacts(ws, targets, publication)?;
        publication.versioned(
            dir.join(format!("{}.targets.json", targets.version)),
            Content::Bytes(bytes.to_vec()),
        );
        published.push(("targets".to_owned(), targets.version));
    }
    if let Some((role, bytes, xml)) = policy {
        publish_policy_file(ws, role, xml, publication);
        publication.versioned(
            dir.join(format!("{}.{POLICY_ROLE}.json", role.version)),
            Content::Bytes(bytes.clone()),
        );
        published.push((POLICY_ROLE.to_owned(), role.version));
    }
    Ok(published)
}

/// The newest published targets, if any.
fn published_targets(ws: &Workspace) -> Result<Option<Targets>> {
    let Some(version) = latest_version(ws, "targets")? else {
        return Ok(None);
    };
    let path = ws.metadata_dir().join(format!("{version}.targets.json"));
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TARGETS_BYTES)?;
    let published = Unverified::<Targets>::parse(&RoleName::targets(), &bytes)?;
    Ok(Some(published.untrusted().clone()))
}

pub(crate) fn meta_for(bytes: &[u8], version: Version) -> Result<MetaFile> {
    let digest = digest_reader(bytes)?;
    Ok(MetaFile {
        version,
        length: Some(digest.length),
        hashes: Some(BTreeMap::from([
            ("sha256".to_owned(), HexDigest(digest.sha256.0.to_vec())),
            ("sha512".to_owned(), HexDigest(digest.sha512.0.to_vec())),
        ])),
    })
}

pub(crate) fn read_timestamp(ws: &Workspace) -> Result<Option<Timestamp>> {
    let path = ws.metadata_dir().join("timestamp.json");
    if !path.exists() {
        return Ok(None);
    }
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TIMESTAMP_BYTES)?;
    let parsed = Unverified::<Timestamp>::parse(&RoleName::timestamp(), &bytes)?;
    Ok(Some(parsed.untrusted().clone()))
}

pub(crate) fn check_signed<T: Role>(root: &Root, role: &str, bytes: &[u8]) -> Result<()> {
    let name = RoleName::new(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    let parsed = Unverified::<T>::parse(&name, bytes)?;
    let role_keys = root.roles.get(role).context("role missing from root")?;
    parsed.verify(&root.keys, role_keys)?;
    Ok(())
}

/// Every staged artifact the index lists, into `public/targets` under each of its served
/// names (hard links: staging keeps its copy until the publication stands); fails unless
/// every listed artifact is then present.
fn publish_artifacts(
    ws: &Workspace,
    targets: &Targets,
    publication: &mut Publication,
) -> Result<()> {
    let staged = ws.staged_artifacts_dir();
    let public = ws.artifacts_dir();
    for (name, info) in &targets.targets {
        let froms = Workspace::served_paths(&staged, name, &info.hashes);
        let tos = Workspace::served_paths(&public, name, &info.hashes);
        for (from, to) in froms.into_iter().zip(tos) {
            if from.is_file() {
                publication.versioned(to, Content::LinkOf(from));
            } else if !to.is_file() {
                bail!("artifact {name} is listed but {} is missing", to.display());
            }
        }
    }
    // Whatever is left in staging is then no longer listed (or was never published).
    publication.empty_after(staged);
    Ok(())
}

/// `repo timestamp`: a new timestamp for the current snapshot, with a fresh expiry, signed
/// by a threshold of the timestamp keys; nothing else changes. For an operator's scheduled
/// job, so that devices never see an expired timestamp.
pub fn timestamp_only(ws: &Workspace, keys: &[PrivateKey]) -> Result<Version> {
    let seconds = ws.settings()?.expiry.timestamp.seconds();
    timestamp_valid_for(ws, keys, seconds)
}

/// Like `timestamp_only`, valid for `seconds`.
fn timestamp_valid_for(ws: &Workspace, keys: &[PrivateKey], seconds: i64) -> Result<Version> {
    ws.check_exists()?;
    let (root, _) = ws.latest_root()?;
    let role = root
        .roles
        .get("timestamp")
        .context("root defines no timestamp role")?;
    for key in keys {
        if !role.keyids.contains(key.key_id()) {
            bail!(
                "key {} ({}) is not a timestamp key of the newest root",
                key.path().display(),
                key.key_id().short()
            );
        }
    }
    let signers = keys_for_role(&root.keys, role, "timestamp", keys)?;
    let mut timestamp =
        read_timestamp(ws)?.context("nothing is published yet: run repo sign first")?;
    timestamp.version =
        ExportedVersions::past(timestamp.version.next(), ws.exported_versions()?.timestamp);
    timestamp.expires = UtcTime::now().plus_seconds(seconds);
    let bytes = sign_metadata(&timestamp, &signers)?;
    check_signed::<Timestamp>(&root, "timestamp", &bytes)?;
    let mut publication = Publication::new();
    publication.replace(ws.metadata_dir().join("timestamp.json"), bytes);
    publication.commit()?;
    Ok(timestamp.version)
}
