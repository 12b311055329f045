//! Step 1 of `repo sign`, plan: which roles the given keys sign. Every key must belong to a
//! role being signed (a wrong key file is a mistake the admin must hear about); a role is
//! signed when its keys are given or a pending version waits for more signatures; snapshot
//! and timestamp follow when a threshold of their keys is given.

use std::collections::BTreeMap;

use anyhow::{bail, Context, Result};
use updater::conventions::POLICY_ROLE;
use updater::key::{KeyId, PublicKey};
use updater::metadata::{RoleKeys, Root, Targets};

use super::gather::pending_path;
use crate::keys::PrivateKey;
use crate::workspace::Workspace;

/// The keys among `given` that `role` lists; fails unless they reach its threshold.
pub(crate) fn keys_for_role<'a>(
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

/// What `repo sign` will sign: each role whose keys were given, plus snapshot and
/// timestamp, which always follow.
pub(super) struct Plan<'k> {
    /// Keys adding signatures to targets (possibly none, to finish a pending one).
    pub(crate) targets: Option<Vec<&'k PrivateKey>>,
    pub(crate) policy: Option<Vec<&'k PrivateKey>>,
    /// Snapshot and timestamp follow when their keys are given (a threshold each).
    pub(crate) snapshot: Option<Vec<&'k PrivateKey>>,
    pub(crate) timestamp: Option<Vec<&'k PrivateKey>>,
}

/// The policy role as the staged index delegates it: its keys and threshold.
pub(super) fn policy_delegation(
    staged: &Targets,
) -> Option<(&BTreeMap<KeyId, PublicKey>, RoleKeys)> {
    let delegations = staged.delegations.as_ref()?;
    let role = delegations
        .roles
        .iter()
        .find(|r| r.name.as_str() == POLICY_ROLE)?;
    Some((&delegations.keys, role.role_keys()))
}

/// `root_signers`: root keys (of the published or a staged root) that may be among `keys`;
/// `root_work`: a staged root was signed, so there may be nothing else to sign.
pub(super) fn plan<'k>(
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
