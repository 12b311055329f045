//! Step 3 of `repo sign`, build: the bodies to sign. Versions go past every one published
//! (and past those signed for an exported archive), expiries come from `repo.toml`.

use std::collections::BTreeMap;

use anyhow::{anyhow, Result};
use updater::conventions::{POLICY_FILE, POLICY_ROLE};
use updater::datetime::UtcTime;
use updater::hash::digest_reader;
use updater::metadata::{
    Hashes, HexDigest, MetaFile, Snapshot, TargetInfo, Targets, Timestamp, Version, SPEC_VERSION,
};
use updater::names::TargetName;

use crate::catalogue::Record;
use crate::published::{latest_version, meta_for};
use crate::workspace::{ExportedVersions, Settings, Workspace};

/// The version after the newest published one of `role`.
pub(super) fn next_version(ws: &Workspace, role: &str) -> Result<Version> {
    Ok(latest_version(ws, role)?.map_or(Version::FIRST, |v| v.next()))
}

/// The staged index as the next targets version. The delegation to the policy role goes
/// out only `with_delegation`: before the first policy, snapshot could list no policy.json
/// and clients (tough, for one) would refuse the dangling delegation.
pub(super) fn targets_body(
    ws: &Workspace,
    staged: &Targets,
    with_delegation: bool,
    settings: &Settings,
    now: UtcTime,
) -> Result<Targets> {
    let mut targets = staged.clone();
    if !with_delegation {
        targets.delegations = None;
    }
    targets.version = next_version(ws, "targets")?;
    targets.expires = now.plus_seconds(settings.expiry.targets.seconds());
    targets.spec_version = SPEC_VERSION.into();
    Ok(targets)
}

/// The next policy role version: `xml` as its only target.
pub(super) fn policy_body(
    ws: &Workspace,
    xml: &[u8],
    settings: &Settings,
    now: UtcTime,
) -> Result<Targets> {
    let digest = digest_reader(xml)?;
    let name = TargetName::new(POLICY_FILE).map_err(|e| anyhow!("{e}"))?;
    let info = TargetInfo {
        length: digest.length,
        hashes: Hashes::from([
            ("sha256".to_owned(), HexDigest(digest.sha256.0.to_vec())),
            ("sha512".to_owned(), HexDigest(digest.sha512.0.to_vec())),
        ]),
        custom: None,
    };
    Ok(Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version: next_version(ws, POLICY_ROLE)?,
        expires: now.plus_seconds(settings.expiry.policy.seconds()),
        targets: BTreeMap::from([(name, info)]),
        delegations: None,
    })
}

/// One role a snapshot lists: its version and the exact bytes published for it.
pub(super) struct ListedRole<'a> {
    pub(crate) version: Version,
    pub(crate) bytes: &'a [u8],
}

/// The next snapshot, listing `targets`, the policy role (if there is one) and every
/// catalogue role `catalogue` records, each with
/// its version, length and both hashes: a client reads a role within its listed length and
/// refuses any other bytes, even signed ones of the same version, and clients with their own
/// default caps (python-tuf, tough) read a large role because its length is given.
/// Its version goes past the one the timestamp names and past any on disk: a snapshot left
/// by a run that did not finish (older versions of this tool) is never rewritten.
pub(super) fn snapshot_body(
    ws: &Workspace,
    previous: Option<&Timestamp>,
    catalogue: &Record,
    targets: ListedRole<'_>,
    policy: Option<ListedRole<'_>>,
    settings: &Settings,
    now: UtcTime,
) -> Result<Snapshot> {
    let version = match previous {
        Some(t) => t
            .snapshot_meta()
            .map_or(Version::FIRST, |m| m.version.next()),
        None => Version::FIRST,
    }
    .max(next_version(ws, "snapshot")?);
    let version = ExportedVersions::past(version, ws.exported_versions()?.snapshot);
    let mut meta: BTreeMap<String, MetaFile> = catalogue
        .roles
        .iter()
        .map(|(role, m)| (format!("{role}.json"), m.clone()))
        .collect();
    meta.insert(
        "targets.json".to_owned(),
        meta_for(targets.bytes, targets.version)?,
    );
    if let Some(policy) = policy {
        meta.insert(
            format!("{POLICY_ROLE}.json"),
            meta_for(policy.bytes, policy.version)?,
        );
    }
    Ok(Snapshot {
        type_: "snapshot".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires: now.plus_seconds(settings.expiry.snapshot.seconds()),
        meta,
    })
}

/// The next timestamp, naming the signed snapshot `snapshot_bytes`.
pub(super) fn timestamp_body(
    ws: &Workspace,
    previous: Option<&Timestamp>,
    snapshot_bytes: &[u8],
    snapshot: Version,
    settings: &Settings,
    now: UtcTime,
) -> Result<Timestamp> {
    let version = match previous {
        Some(t) => t.version.next(),
        None => Version::FIRST,
    };
    let version = ExportedVersions::past(version, ws.exported_versions()?.timestamp);
    Ok(Timestamp {
        type_: "timestamp".into(),
        spec_version: SPEC_VERSION.into(),
        version,
        expires: now.plus_seconds(settings.expiry.timestamp.seconds()),
        meta: BTreeMap::from([(
            "snapshot.json".to_owned(),
            meta_for(snapshot_bytes, snapshot)?,
        )]),
    })
}
