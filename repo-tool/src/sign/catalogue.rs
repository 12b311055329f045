//! Step 3 of `repo sign` for the catalogue (see [`crate::catalogue`]): the roles the
//! staged releases and retirements change are built, signed, checked with the device's
//! verifier and held to the device's size limit; the record says what is then published.
//! Nothing else of the history is read or signed.

use std::collections::BTreeMap;

use anyhow::{anyhow, bail, Context, Result};
use updater::conventions::Release;
use updater::datetime::UtcTime;
use updater::metadata::{Delegations, Root, Targets, Version, SPEC_VERSION};
use updater::names::RoleName;
use updater::verify::Unverified;

use super::gather::{gather, Gathered};
use crate::catalogue::{arrange, split_large, staged_retirements, Published, Record, Signers};
use crate::catalogue::{StagedReleases, TargetMap};
use crate::keys::PrivateKey;
use crate::publication::Publication;
use crate::published::meta_for;
use crate::workspace::{Settings, Workspace};

/// One catalogue role signed by a threshold now.
pub(super) struct SignedRole {
    pub(crate) name: String,
    pub(crate) version: Version,
    pub(crate) bytes: Vec<u8>,
}

/// What the catalogue publishes in this signing.
pub(super) struct SignedCatalogue {
    /// What is still missing for roles a threshold has not signed yet.
    pub(crate) pending: Vec<String>,
    pub(crate) roles: Vec<SignedRole>,
    /// The top-level targets' delegations after the policy's.
    pub(crate) delegations: Delegations,
    /// `catalogue.json` once this signing stands.
    pub(crate) record: Record,
    /// Staged releases published now: their files go to `public/`, their staged files go.
    pub(crate) staged: Vec<(Release, TargetMap)>,
    /// Files of the releases retired now, kept served until `repo prune`.
    pub(crate) retired: TargetMap,
}

/// Signs the catalogue roles the staged releases and retirements change. Roles a threshold
/// has not signed yet are kept pending (`staged/ROLE.signed.json`) and said in `pending`;
/// the caller then publishes none of the catalogue.
pub(super) fn sign_catalogue(
    ws: &Workspace,
    root: &Root,
    settings: &Settings,
    now: UtcTime,
    signers: &[&PrivateKey],
    publication: &mut Publication,
) -> Result<SignedCatalogue> {
    let published = Published::load(ws)?;
    let staged = StagedReleases::new(ws).all()?;
    let retire = staged_retirements(ws)?;
    let role_keys = root
        .roles
        .get("targets")
        .context("root defines no targets role")?;
    let signers_keys = Signers {
        keys: &root.keys,
        role: role_keys,
    };
    let catalogue = &settings.catalogue;
    let arrangement = arrange(ws, &published, staged, &retire, catalogue, &signers_keys)?;
    let mut bins = published.record.bins.clone();
    let budget = catalogue.volume_bytes;
    let bodies = split_large(arrangement.roles, &mut bins, budget, &signers_keys)?;
    let mut roles = Vec::new();
    let mut pending = Vec::new();
    for body in bodies {
        let what = describe(&body.name, &body.targets);
        let version = next_version(ws, &published.record, &body.name)?;
        let targets = Targets {
            type_: "targets".into(),
            spec_version: SPEC_VERSION.into(),
            version,
            expires: now.plus_seconds(settings.expiry.releases.seconds()),
            targets: body.targets,
            delegations: body.delegations,
        };
        let value = serde_json::to_value(&targets)?;
        match gather(
            ws,
            &body.name,
            value,
            signers,
            &root.keys,
            role_keys,
            publication,
        )? {
            Gathered::Complete(bytes) => {
                check_role(root, &body.name, &what, &bytes)?;
                let version = Unverified::<Targets>::parse(&role_name(&body.name)?, &bytes)?
                    .untrusted()
                    .version;
                roles.push(SignedRole {
                    name: body.name,
                    version,
                    bytes,
                });
            }
            Gathered::Pending(progress) => pending.push(progress),
        }
    }
    let mut record = record_after(published.record, &roles, &retire, &arrangement.staged)?;
    record.bins = bins;
    Ok(SignedCatalogue {
        pending,
        roles,
        delegations: arrangement.delegations,
        record,
        staged: arrangement.staged,
        retired: arrangement.retired,
    })
}

/// The record once `roles` are published, `retired` gone and `staged` published.
fn record_after(
    mut record: Record,
    roles: &[SignedRole],
    retired: &std::collections::BTreeSet<Release>,
    staged: &[(Release, TargetMap)],
) -> Result<Record> {
    for role in roles {
        record
            .roles
            .insert(role.name.clone(), meta_for(&role.bytes, role.version)?);
    }
    for release in retired {
        record.releases.remove(release);
    }
    for (_, map) in staged {
        record.add_releases(map);
    }
    Ok(record)
}

/// A role in words: its name, and the release a slot holds.
fn describe(name: &str, targets: &TargetMap) -> String {
    let release = targets
        .keys()
        .next()
        .and_then(|n| n.as_str().split('/').nth(1))
        .filter(|_| name.starts_with(crate::catalogue::SLOT_PREFIX));
    match release {
        Some(release) => format!("{name} (release {release})"),
        None => name.to_owned(),
    }
}

fn role_name(name: &str) -> Result<RoleName> {
    RoleName::new(name).map_err(|e| anyhow!("role {name}: {e}"))
}

/// The version after the one recorded, past any file already on disk (a run that did not
/// finish, with an older version of this tool, is never rewritten).
fn next_version(ws: &Workspace, record: &Record, role: &str) -> Result<Version> {
    let mut version = record
        .roles
        .get(role)
        .map_or(Version::FIRST, |m| m.version.next());
    let stem = role_name(role)?.file_stem();
    while ws
        .metadata_dir()
        .join(format!("{version}.{stem}.json"))
        .exists()
    {
        version = version.next();
    }
    Ok(version)
}

/// Refuses a role a device would refuse: above the device's size limit for a targets role,
/// or not verifying under the targets keys the delegation names.
pub(super) fn check_role(root: &Root, name: &str, what: &str, bytes: &[u8]) -> Result<()> {
    let most = updater::limits::targets_bytes_limit();
    if bytes.len() as u64 > most {
        bail!(
            "role {what} would be {} bytes, above the {most} bytes a device reads: \
             nothing was published; split the release (fewer files per release, or one \
             release per platform)",
            bytes.len()
        );
    }
    let role_keys = root
        .roles
        .get("targets")
        .context("root defines no targets role")?;
    Unverified::<Targets>::parse(&role_name(name)?, bytes)?.verify(&root.keys, role_keys)?;
    Ok(())
}

/// The delegations of the top-level targets: the policy's (from the staged index), then
/// the catalogue's.
pub(super) fn top_delegations(
    staged: Option<&Delegations>,
    catalogue: Delegations,
) -> Option<Delegations> {
    let mut keys = BTreeMap::new();
    let mut roles = Vec::new();
    if let Some(staged) = staged {
        for role in &staged.roles {
            for id in &role.keyids {
                if let Some(key) = staged.keys.get(id) {
                    keys.insert(id.clone(), key.clone());
                }
            }
            roles.push(role.clone());
        }
    }
    keys.extend(catalogue.keys);
    roles.extend(catalogue.roles);
    (!roles.is_empty()).then_some(Delegations {
        keys,
        roles,
        succinct_roles: None,
    })
}
