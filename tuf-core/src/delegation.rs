//! The search of the delegation graph, in one place for every program that walks it: the
//! device's target lookup, `updater targets`, `repo verify` and `repo mirror`.
//!
//! Invariant: a walk is pre-order and depth first from the top-level targets role; a
//! delegator's children are visited in the order it lists them; each role is visited at most
//! once (the first path to it wins, so a cycle ends); at most a limit of roles is visited in
//! all, the top-level one included, and a walk that finds more to visit past it says so
//! ([`Walked::LimitReached`]) instead of passing for a complete one. A search for one name
//! follows only the delegations that cover it, and a terminating one among them is the last
//! way the search may go: nothing queued before it, and none of its later siblings, is
//! visited. A listing of one folder ([`list_under`]) follows only the delegations whose
//! paths can reach it, and keeps each name it finds only as the search for that name answers.
//!
//! Two limits, for two questions. A search for one name stops at [`MAX_DELEGATIONS`], as
//! python-tuf's `max_delegations`: the name is then not found (python-tuf's answer too), and
//! [`find`] says the search was cut short ([`Lookup::SearchLimit`]). A walk over everything
//! or over one folder (listing, verifying, gathering a release) stops at the far higher
//! [`MAX_LISTED_ROLES`] and its caller fails with [`Error::DelegationLimit`]: a listing never
//! silently lists part of the index.
//!
//! The walker does no I/O: it asks a [`TargetsSource`] for each role's verified metadata,
//! which the caller loads however it loads files.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use crate::error::Error;
use crate::metadata::{DelegatedRole, TargetInfo, Targets};
use crate::names::{RoleName, TargetName};
use crate::pattern::{covers_all_under, may_match_under, segments};
use crate::verify::Verified;

/// Most roles visited in the search for one name (the top-level targets role included), as
/// python-tuf's `max_delegations`: a repository with thousands of roles cannot make a device
/// load them all to look up one file.
pub const MAX_DELEGATIONS: usize = 32;

/// Most roles visited by a walk over everything (`updater targets`, `repo verify`, `repo
/// mirror`): room for 1,024 hash bins ten times over, yet a bound on what a hostile or broken
/// repository can make a listing load. Past it the walk fails; it never lists part.
pub const MAX_LISTED_ROLES: usize = 10_000;

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

impl Scope<'_> {
    /// The most roles a walk in this scope visits: [`MAX_DELEGATIONS`] for one name,
    /// [`MAX_LISTED_ROLES`] for everything.
    pub fn limit(self) -> usize {
        match self {
            Scope::Name(_) => MAX_DELEGATIONS,
            Scope::Everything | Scope::Under(_) => MAX_LISTED_ROLES,
        }
    }
}

/// Where a walk's limit stopped it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitReached {
    /// The most roles the walk could visit.
    pub limit: usize,
    /// Roles visited (all of them within the limit).
    pub visited: usize,
    /// Distinct roles still queued when it stopped: at least this many more were reachable.
    pub left: usize,
}

/// How a walk ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Walked<B> {
    /// `visit` broke with this.
    Broke(B),
    /// Every role in scope was visited.
    Complete,
    /// The limit stopped the walk with roles still to visit.
    LimitReached(LimitReached),
}

/// Walks the delegations in `scope`, asking `source` for each role and handing it to
/// `visit` (role, delegator, metadata) before its children, visiting at most `limit` roles.
/// A role `source` cannot give ends the walk with its error.
pub fn walk_within<S, B>(
    source: &mut S,
    scope: Scope<'_>,
    limit: usize,
    mut visit: impl FnMut(&RoleName, &RoleName, &Verified<Targets>) -> ControlFlow<B>,
) -> Result<Walked<B>, S::Error>
where
    S: TargetsSource + ?Sized,
{
    // A stack: the next role visited is the first child of the last one.
    let mut to_visit = vec![(RoleName::targets(), RoleName::root())];
    let mut visited = BTreeSet::new();
    while let Some((role, delegator)) = to_visit.pop() {
        if visited.contains(&role) {
            continue;
        }
        // Only a role not yet visited counts against the limit: a walk that has visited
        // exactly `limit` roles and has only repeats left is complete.
        if visited.len() >= limit {
            let mut left: BTreeSet<&RoleName> = to_visit
                .iter()
                .map(|(r, _)| r)
                .filter(|r| !visited.contains(*r))
                .collect();
            left.insert(&role);
            return Ok(Walked::LimitReached(LimitReached {
                limit,
                visited: visited.len(),
                left: left.len(),
            }));
        }
        visited.insert(role.clone());
        let targets = source.targets(&role, &delegator)?;
        if let ControlFlow::Break(found) = visit(&role, &delegator, targets) {
            return Ok(Walked::Broke(found));
        }
        let Some(delegations) = &targets.delegations else {
            continue;
        };
        let (children, terminated) = children_to_visit(delegations, &role, scope, limit);
        if terminated {
            to_visit.clear();
        }
        to_visit.extend(children.into_iter().rev());
    }
    Ok(Walked::Complete)
}

/// [`walk_within`] at the scope's own limit ([`Scope::limit`]).
pub fn walk<S, B>(
    source: &mut S,
    scope: Scope<'_>,
    visit: impl FnMut(&RoleName, &RoleName, &Verified<Targets>) -> ControlFlow<B>,
) -> Result<Walked<B>, S::Error>
where
    S: TargetsSource + ?Sized,
{
    walk_within(source, scope, scope.limit(), visit)
}

/// Visits every reachable role, at most `limit` of them; returns how many it visited. More
/// than `limit` is [`Error::DelegationLimit`], never a partial success.
pub fn walk_everything<S>(
    source: &mut S,
    limit: usize,
    mut visit: impl FnMut(&RoleName, &RoleName, &Verified<Targets>),
) -> Result<usize, S::Error>
where
    S: TargetsSource + ?Sized,
    S::Error: From<Error>,
{
    let mut visited = 0;
    let walked = walk_within(
        source,
        Scope::Everything,
        limit,
        |role, delegator, targets| {
            visited += 1;
            visit(role, delegator, targets);
            ControlFlow::<()>::Continue(())
        },
    )?;
    match walked {
        Walked::LimitReached(reached) => Err(Error::DelegationLimit {
            limit: reached.limit,
            visited: reached.visited,
            left: reached.left,
        }
        .into()),
        Walked::Complete | Walked::Broke(()) => Ok(visited),
    }
}

/// What the search for one name found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The first role in the search that lists the name, with what it lists: the answer a
    /// device acts on.
    Found(RoleName, TargetInfo),
    /// Every role that may list the name was searched; none does.
    NotListed,
    /// The search reached [`MAX_DELEGATIONS`] roles with more to go. The name is not found,
    /// as python-tuf has it; this says why.
    SearchLimit(LimitReached),
}

impl Lookup {
    /// The role and listing found; `None` when not found, whether the search was complete
    /// or cut short by its limit (python-tuf's answer in both cases).
    pub fn found(self) -> Option<(RoleName, TargetInfo)> {
        match self {
            Lookup::Found(role, info) => Some((role, info)),
            Lookup::NotListed | Lookup::SearchLimit(_) => None,
        }
    }
}

/// Searches for `name` as a device does, within [`MAX_DELEGATIONS`] roles.
pub fn find<S>(source: &mut S, name: &TargetName) -> Result<Lookup, S::Error>
where
    S: TargetsSource + ?Sized,
{
    let walked = walk(
        source,
        Scope::Name(name),
        |role, _, targets| match targets.targets.get(name) {
            Some(info) => ControlFlow::Break((role.clone(), info.clone())),
            None => ControlFlow::Continue(()),
        },
    )?;
    Ok(match walked {
        Walked::Broke((role, info)) => Lookup::Found(role, info),
        Walked::Complete => Lookup::NotListed,
        Walked::LimitReached(reached) => Lookup::SearchLimit(reached),
    })
}

/// Every target inside `folder` (names `folder/...`) with the role that answers for it, as
/// the search for each name ([`find`]) answers: a name listed by a role whose delegation
/// does not cover it, or that a terminating delegation hides, is not in the answer. Only
/// the roles whose delegations can reach the folder are asked for.
/// More than [`MAX_LISTED_ROLES`] roles in reach is [`Error::DelegationLimit`], never part of
/// the folder.
///
/// The answer is an iterator that searches for each name as it is asked for the next one,
/// in walk order (not by name): a caller keeping what it finds (a device gathering a
/// release of 100,000 files) holds each file once, not also in a list of the answers.
/// [`ListedUnder::names`] shows the names still to search for, so the caller can make
/// room for them first.
pub fn list_under<'s, S>(source: &'s mut S, folder: &str) -> Result<ListedUnder<'s, S>, S::Error>
where
    S: TargetsSource + ?Sized,
    S::Error: From<Error>,
{
    let inside = format!("{folder}/");
    // Names in the order of the first role listing them: the searches for one role's
    // names mostly end in that role, so a source that keeps few roles at a time (a device
    // listing 100,000 names in hash bins) loads each about once, not once per name.
    let mut seen = BTreeSet::new();
    let mut names: Vec<TargetName> = Vec::new();
    let walked = walk(source, Scope::Under(folder), |_, _, targets| {
        let listed = targets.targets.keys();
        let inside = listed.filter(|n| n.as_str().starts_with(&inside));
        names.extend(inside.filter(|n| seen.insert((*n).clone())).cloned());
        ControlFlow::<()>::Continue(())
    })?;
    drop(seen);
    if let Walked::LimitReached(reached) = walked {
        return Err(Error::DelegationLimit {
            limit: reached.limit,
            visited: reached.visited,
            left: reached.left,
        }
        .into());
    }
    Ok(ListedUnder {
        source,
        names: names.into_iter(),
    })
}

/// The answer of [`list_under`]: each name (once) with the role that answers for it and
/// what that role lists, searched for when asked.
pub struct ListedUnder<'s, S: ?Sized> {
    source: &'s mut S,
    names: std::vec::IntoIter<TargetName>,
}

impl<S: ?Sized> ListedUnder<'_, S> {
    /// The names not searched for yet: an upper bound on what is still to come.
    pub fn names(&self) -> &[TargetName] {
        self.names.as_slice()
    }
}

impl<S> Iterator for ListedUnder<'_, S>
where
    S: TargetsSource + ?Sized,
    S::Error: From<Error>,
{
    type Item = Result<(TargetName, RoleName, TargetInfo), S::Error>;

    fn next(&mut self) -> Option<Self::Item> {
        for name in self.names.by_ref() {
            // A name whose own search is cut short is not found, as the device's download
            // would not find it either.
            match find(self.source, &name) {
                Err(e) => return Some(Err(e)),
                Ok(lookup) => {
                    if let Some((role, info)) = lookup.found() {
                        return Some(Ok((name, role, info)));
                    }
                }
            }
        }
        None
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.names.len()))
    }
}

/// The roles `delegations` (of `role`) hands the walk next, in order: within `scope`, at
/// most `limit + 1` of them (see below), and for a search none after a terminating one
/// (then `true`: nothing queued before may answer either).
fn children_to_visit(
    delegations: &crate::metadata::Delegations,
    role: &RoleName,
    scope: Scope<'_>,
    limit: usize,
) -> (Vec<(RoleName, RoleName)>, bool) {
    let candidates = match scope {
        Scope::Everything | Scope::Under(_) => delegations.roles_in_order(),
        Scope::Name(name) => delegations.roles_for(name),
    };
    let mut children = Vec::new();
    // Listing a folder: depths (in segments) of the names inside it that an earlier
    // terminating sibling answers for, every one of them. A later sibling that can
    // reach the folder only at those depths can never answer for a name there (each
    // name's search stops at the terminating one), so it is not fetched: with a role
    // per release ahead of the history, listing a release never fetches the history.
    let mut covered = BTreeSet::new();
    // One delegator's roles have distinct names, and at most `limit` of them were
    // visited already, so the walk meets its limit before it could reach a child past
    // the first `limit + 1`: hash bins past those are never made (2^32 of them stay
    // unlisted, and the walk says it stopped at its limit). Listed roles are already in
    // memory and all queued, so the count of what is left stays exact for them.
    let bound = limit.saturating_add(1).max(delegations.roles.len());
    for child in candidates.take(bound) {
        if let Scope::Under(folder) = scope {
            if !may_list_under(&child, folder) || hidden_under(&child, folder, &covered) {
                continue;
            }
            if child.terminating {
                covered.extend(
                    child
                        .paths
                        .iter()
                        .flatten()
                        .filter_map(|p| covers_all_under(p, folder)),
                );
            }
        }
        children.push((child.name.clone(), role.clone()));
        if matches!(scope, Scope::Name(_)) && child.terminating {
            // Nothing after a terminating role may answer for this name.
            return (children, true);
        }
    }
    (children, false)
}

/// Whether delegation `child` may list a name inside `folder`. Only path patterns can rule
/// a folder out; a role delegated by hash prefixes may list any name.
fn may_list_under(child: &DelegatedRole, folder: &str) -> bool {
    match &child.paths {
        Some(patterns) => patterns.iter().any(|p| may_match_under(p, folder)),
        None => true,
    }
}

/// Whether every name inside `folder` that delegation `child` may list sits at a depth an
/// earlier terminating sibling answers for (`covered`). Only path patterns say so.
fn hidden_under(child: &DelegatedRole, folder: &str, covered: &BTreeSet<usize>) -> bool {
    match &child.paths {
        Some(patterns) => patterns
            .iter()
            .filter(|p| may_match_under(p, folder))
            .all(|p| covered.contains(&segments(p))),
        None => false,
    }
}

#[cfg(test)]
mod tests;
