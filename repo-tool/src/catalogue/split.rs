//! Roles too big for one file. A catalogue role (a slot or a volume) whose files would pass
//! `volume_bytes` lists none itself: it delegates them to hash bins, `<role>-bin-<prefix>`,
//! each reaching the names whose SHA-256 starts with its hex prefix (TUF 1.0
//! `path_hash_prefixes`, which every TUF client reads). One hex digit gives 16 bins, two
//! 256, three 4,096: the fewest digits that keep every bin within the budget.
//!
//! Why bins and not a bigger role: a device parses and verifies a role whole, so one release
//! of 100,000 files (47 MB as one role) would pass any sane memory bound; in bins of a few
//! MB each, a device listing the release verifies one bin at a time, and a device searching
//! for one name fetches its slot and one bin.
//!
//! Bins stay listed in the snapshot for good, like every role (specification 5.5.5): when
//! their role is signed again small, or with other prefixes, the bins it no longer
//! delegates to are signed again empty. `catalogue.json` records which role delegates to
//! which bins now (`bins`), so that reading a role's files, or knowing its bins, never
//! reads the history.

use std::collections::BTreeMap;

use anyhow::{bail, Result};
use updater::hash::Sha256;
use updater::metadata::{DelegatedRole, Delegations};
use updater::names::RoleName;

use super::arrange::{RoleBody, Signers};
use super::staged::TargetMap;

/// The most hex digits of a prefix: 4,096 bins, each within the budget, hold a release of
/// about 60 million files at the default 4 MiB.
const MOST_DIGITS: usize = 3;

/// The roles to sign once too-big roles are split, bins before the role delegating to
/// them, and which roles delegate to which bins afterwards (`bins`, updated).
pub(crate) fn split_large(
    roles: Vec<RoleBody>,
    bins: &mut BTreeMap<String, Vec<String>>,
    budget: u64,
    signers: &Signers<'_>,
) -> Result<Vec<RoleBody>> {
    let mut out = Vec::with_capacity(roles.len());
    for body in roles {
        let old = bins.remove(&body.name).unwrap_or_default();
        let leaf = body.delegations.is_some() || size_of(&body.targets)? + ENVELOPE_BYTES <= budget;
        let (parent, new) = if leaf {
            (body, Vec::new())
        } else {
            split_one(body, budget, signers, &mut out)?
        };
        // Bins no longer delegated to are emptied, not dropped (see the module).
        for stale in old.into_iter().filter(|b| !new.contains(b)) {
            out.push(RoleBody {
                name: stale,
                targets: TargetMap::new(),
                delegations: None,
            });
        }
        if !new.is_empty() {
            bins.insert(parent.name.clone(), new);
        }
        out.push(parent);
    }
    Ok(out)
}

/// Splits `body` into bins (pushed to `out`): the role then delegating to them, and their
/// names.
fn split_one(
    body: RoleBody,
    budget: u64,
    signers: &Signers<'_>,
    out: &mut Vec<RoleBody>,
) -> Result<(RoleBody, Vec<String>)> {
    let mut digits = 1;
    let binned = loop {
        let binned = by_prefix(&body.targets, digits);
        let mut fits = true;
        for map in binned.values() {
            if size_of(map)? + ENVELOPE_BYTES > budget {
                fits = false;
                break;
            }
        }
        if fits {
            break binned;
        }
        if digits == MOST_DIGITS {
            bail!(
                "role {} lists {} files: even in {} bins one would pass volume_bytes \
                 ({budget} bytes); nothing was published; split the release",
                body.name,
                body.targets.len(),
                16usize.pow(MOST_DIGITS as u32)
            );
        }
        digits += 1;
    };
    let mut delegations = Delegations {
        keys: BTreeMap::new(),
        roles: Vec::new(),
        succinct_roles: None,
    };
    for id in &signers.role.keyids {
        if let Some(key) = signers.keys.get(id) {
            delegations.keys.insert(id.clone(), key.clone());
        }
    }
    let mut names = Vec::with_capacity(binned.len());
    for (prefix, targets) in binned {
        let name = format!("{}-bin-{prefix}", body.name);
        delegations.roles.push(DelegatedRole {
            name: RoleName::new(name.as_str()).map_err(|e| anyhow::anyhow!("role {name}: {e}"))?,
            keyids: signers.role.keyids.clone(),
            threshold: signers.role.threshold,
            terminating: true,
            paths: None,
            path_hash_prefixes: Some(vec![prefix]),
        });
        out.push(RoleBody {
            name: name.clone(),
            targets,
            delegations: None,
        });
        names.push(name);
    }
    let parent = RoleBody {
        name: body.name,
        targets: TargetMap::new(),
        delegations: Some(delegations),
    };
    Ok((parent, names))
}

/// `targets` by the first `digits` hex digits of the SHA-256 of each name (only the
/// prefixes some name has).
fn by_prefix(targets: &TargetMap, digits: usize) -> BTreeMap<String, TargetMap> {
    let mut binned = BTreeMap::<String, TargetMap>::new();
    for (name, info) in targets {
        let mut hex = Sha256::digest(name.as_str().as_bytes()).to_hex();
        hex.truncate(digits);
        binned
            .entry(hex)
            .or_default()
            .insert(name.clone(), info.clone());
    }
    binned
}

/// What `targets` weighs in a role file, as the volumes count it: in the file the map sits
/// two levels deeper (under `signed` and `targets`), two more spaces of indentation on every
/// line after its first (without them, volumes passed `volume_bytes` by 10%).
pub(crate) fn size_of(targets: &TargetMap) -> Result<u64> {
    let pretty = serde_json::to_vec_pretty(targets)?;
    let lines = pretty.iter().filter(|b| **b == b'\n').count();
    Ok((pretty.len() + 4 * lines) as u64)
}

/// What a role file weighs besides its targets: type, version, expiry, signatures.
pub(crate) const ENVELOPE_BYTES: u64 = 1024;
