//! The search of the delegation graph, in one place for every program that walks it: the
//! device's target lookup, `updater targets`, `repo verify` and `repo mirror`.
//!
//! Invariant: a walk is pre-order and depth first from the top-level targets role; a
//! delegator's children are visited in the order it lists them; each role is visited at most
//! once (the first path to it wins, so a cycle ends); at most [`MAX_DELEGATIONS`] roles are
//! visited in all, the top-level one included. A search for one name follows only the
//! delegations that cover it, and a terminating one among them is the last way the search
//! may go: nothing queued before it, and none of its later siblings, is visited. A listing
//! of one folder ([`list_under`]) follows only the delegations whose paths can reach it,
//! and keeps each name it finds only as the search for that name answers.
//!
//! The walker does no I/O: it asks a [`TargetsSource`] for each role's verified metadata,
//! which the caller loads however it loads files.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use crate::metadata::{DelegatedRole, TargetInfo, Targets};
use crate::names::{RoleName, TargetName};
use crate::pattern::may_match_under;
use crate::verify::Verified;

/// Most roles visited in one walk (the top-level targets role included), as python-tuf's
/// `max_delegations`: a repository with thousands of roles cannot make a device load them all.
pub const MAX_DELEGATIONS: usize = 32;

/// Where a walk gets each role's verified metadata.
pub trait TargetsSource {
    /// Why a role could not be had.
    type Error;

    /// Targets role `role` as delegated by `delegator` (the top-level role is `targets`
    /// delegated by `root`), verified.
    fn targets(
        &mut self,
        role: &RoleName,
        delegator: &RoleName,
    ) -> Result<&Verified<Targets>, Self::Error>;
}

/// Which delegations a walk follows.
#[derive(Debug, Clone, Copy)]
pub enum Scope<'a> {
    /// Only the roles that may list this name, as a device searching for it: delegations
    /// that do not cover it are not followed, and terminating ones stop the search.
    Name(&'a TargetName),
    /// Every role reachable, for listing what the index offers or checking a whole
    /// repository. Terminating delegations, which are about names, stop nothing here.
    Everything,
    /// Every role that may list a name inside this folder (`folder/...`), as a device
    /// gathering one release: delegations whose paths cannot reach the folder are not
    /// followed. Terminating delegations are about single names: [`list_under`] applies
    /// them by searching for each name found.
    Under(&'a str),
}

/// Walks the delegations in `scope`, asking `source` for each role and handing it to
/// `visit` (role, delegator, metadata) before its children. Returns what `visit` broke
/// with, or `None` if the walk ran out of roles; a role `source` cannot give ends the walk
/// with its error.
pub fn walk<S, B>(
    source: &mut S,
    scope: Scope<'_>,
    mut visit: impl FnMut(&RoleName, &RoleName, &Verified<Targets>) -> ControlFlow<B>,
) -> Result<Option<B>, S::Error>
where
    S: TargetsSource + ?Sized,
{
    // A stack: the next role visited is the first child of the last one.
    let mut to_visit = vec![(RoleName::targets(), RoleName::root())];
    let mut visited = BTreeSet::new();
    while let Some((role, delegator)) = to_visit.pop() {
        if visited.len() >= MAX_DELEGATIONS {
            break;
        }
        if !visited.insert(role.clone()) {
            continue;
        }
        let targets = source.targets(&role, &delegator)?;
        if let ControlFlow::Break(found) = visit(&role, &delegator, targets) {
            return Ok(Some(found));
        }
        let Some(delegations) = &targets.delegations else {
            continue;
        };
        let candidates = match scope {
            Scope::Everything | Scope::Under(_) => delegations.roles_in_order(),
            Scope::Name(name) => delegations.roles_for(name),
        };
        let mut children = Vec::new();
        // One delegator's roles have distinct names, and at most MAX_DELEGATIONS of them
        // were visited already, so the walk meets its limit before it could reach a child
        // past the first MAX_DELEGATIONS + 1: those are never made (2^32 hash bins stay
        // unlisted).
        for child in candidates.take(MAX_DELEGATIONS + 1) {
            if let Scope::Under(folder) = scope {
                if !may_list_under(&child, folder) {
                    continue;
                }
            }
            children.push((child.name.clone(), role.clone()));
            if matches!(scope, Scope::Name(_)) && child.terminating {
                // Nothing after a terminating role may answer for this name.
                to_visit.clear();
                break;
            }
        }
        to_visit.extend(children.into_iter().rev());
    }
    Ok(None)
}

/// The first role in the search for `name` that lists it, with what it lists: the answer
/// a device acts on. `None` if no role that may list it does.
pub fn find<S>(
    source: &mut S,
    name: &TargetName,
) -> Result<Option<(RoleName, TargetInfo)>, S::Error>
where
    S: TargetsSource + ?Sized,
{
    walk(
        source,
        Scope::Name(name),
        |role, _, targets| match targets.targets.get(name) {
            Some(info) => ControlFlow::Break((role.clone(), info.clone())),
            None => ControlFlow::Continue(()),
        },
    )
}

/// Every target inside `folder` (names `folder/...`) with the role that answers for it, as
/// the search for each name ([`find`]) answers: a name listed by a role whose delegation
/// does not cover it, or that a terminating delegation hides, is not in the answer. Only
/// the roles whose delegations can reach the folder are asked for.
pub fn list_under<S>(
    source: &mut S,
    folder: &str,
) -> Result<Vec<(TargetName, RoleName, TargetInfo)>, S::Error>
where
    S: TargetsSource + ?Sized,
{
    let inside = format!("{folder}/");
    let mut names = BTreeSet::new();
    walk(source, Scope::Under(folder), |_, _, targets| {
        let listed = targets.targets.keys();
        names.extend(listed.filter(|n| n.as_str().starts_with(&inside)).cloned());
        ControlFlow::<()>::Continue(())
    })?;
    let mut found = Vec::with_capacity(names.len());
    for name in names {
        if let Some((role, info)) = find(source, &name)? {
            found.push((name, role, info));
        }
    }
    Ok(found)
}

/// Whether delegation `child` may list a name inside `folder`. Only path patterns can rule
/// a folder out; a role delegated by hash prefixes may list any name.
fn may_list_under(child: &DelegatedRole, folder: &str) -> bool {
    match &child.paths {
        Some(patterns) => patterns.iter().any(|p| may_match_under(p, folder)),
        None => true,
    }
}

#[cfg(test)]
mod tests;
