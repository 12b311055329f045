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
//! visited.
//!
//! Two limits, for two questions. A search for one name stops at [`MAX_DELEGATIONS`], as
//! python-tuf's `max_delegations`: the name is then not found (python-tuf's answer too), and
//! [`find`] says the search was cut short ([`Lookup::SearchLimit`]). A walk over everything
//! (listing, verifying) stops at the far higher [`MAX_LISTED_ROLES`] and its caller fails
//! with [`Error::DelegationLimit`]: a listing never silently lists part of the index.
//!
//! The walker does no I/O: it asks a [`TargetsSource`] for each role's verified metadata,
//! which the caller loads however it loads files.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use crate::error::Error;
use crate::metadata::{TargetInfo, Targets};
use crate::names::{RoleName, TargetName};
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
}

impl Scope<'_> {
    /// The most roles a walk in this scope visits: [`MAX_DELEGATIONS`] for one name,
    /// [`MAX_LISTED_ROLES`] for everything.
    pub fn limit(self) -> usize {
        match self {
            Scope::Name(_) => MAX_DELEGATIONS,
            Scope::Everything => MAX_LISTED_ROLES,
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
        let mut children = Vec::new();
        for child in &delegations.roles {
            match scope {
                Scope::Everything => children.push((child.name.clone(), role.clone())),
                Scope::Name(name) => {
                    if !child.covers(name) {
                        continue;
                    }
                    children.push((child.name.clone(), role.clone()));
                    if child.terminating {
                        // Nothing after a terminating role may answer for this name.
                        to_visit.clear();
                        break;
                    }
                }
            }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::datetime::UtcTime;
    use crate::metadata::{DelegatedRole, Delegations, HexDigest, Threshold, Version};

    /// A delegation edge: child name, the paths it covers, whether it is terminating.
    type Edge<'a> = (&'a str, &'a [&'a str], bool);

    /// Hand-built roles, each listing some targets and delegating to some children; records
    /// every role asked for, in order, with its delegator.
    struct Graph {
        roles: BTreeMap<RoleName, Verified<Targets>>,
        asked: Vec<(String, String)>,
    }

    fn role(name: &str) -> RoleName {
        RoleName::new(name).unwrap()
    }

    fn target(name: &str) -> TargetName {
        TargetName::new(name).unwrap()
    }

    impl Graph {
        fn new(spec: &[(&str, &[&str], &[Edge<'_>])]) -> Self {
            let roles = spec
                .iter()
                .map(|(name, listed, children)| {
                    let targets = listed
                        .iter()
                        .map(|t| {
                            let info = TargetInfo {
                                length: name.len() as u64,
                                hashes: BTreeMap::from([(
                                    "sha256".to_owned(),
                                    HexDigest(vec![0; 32]),
                                )]),
                                custom: None,
                            };
                            (target(t), info)
                        })
                        .collect();
                    let delegations = (!children.is_empty()).then(|| Delegations {
                        keys: BTreeMap::new(),
                        roles: children
                            .iter()
                            .map(|(child, paths, terminating)| DelegatedRole {
                                name: role(child),
                                keyids: Vec::new(),
                                threshold: Threshold::new(1).unwrap(),
                                terminating: *terminating,
                                paths: Some(paths.iter().map(|p| p.to_string()).collect()),
                                path_hash_prefixes: None,
                            })
                            .collect(),
                    });
                    let body = Targets {
                        type_: "targets".into(),
                        spec_version: "1.0.31".into(),
                        version: Version::new(1).unwrap(),
                        expires: UtcTime::from_unix(4_000_000_000).unwrap(),
                        targets,
                        delegations,
                    };
                    (role(name), Verified::assumed_for_test(body))
                })
                .collect();
            Graph {
                roles,
                asked: Vec::new(),
            }
        }

        fn asked(&self) -> Vec<&str> {
            self.asked.iter().map(|(r, _)| r.as_str()).collect()
        }
    }

    /// A role the graph does not hold, or a listing past its limit.
    #[derive(Debug, PartialEq, Eq)]
    enum Missing {
        Role(String),
        Limit {
            limit: usize,
            visited: usize,
            left: usize,
        },
    }

    impl From<Error> for Missing {
        fn from(e: Error) -> Self {
            match e {
                Error::DelegationLimit {
                    limit,
                    visited,
                    left,
                } => Missing::Limit {
                    limit,
                    visited,
                    left,
                },
                other => Missing::Role(other.to_string()),
            }
        }
    }

    impl TargetsSource for Graph {
        type Error = Missing;
        fn targets(
            &mut self,
            role: &RoleName,
            delegator: &RoleName,
        ) -> Result<&Verified<Targets>, Missing> {
            self.asked.push((role.to_string(), delegator.to_string()));
            self.roles
                .get(role)
                .ok_or_else(|| Missing::Role(role.to_string()))
        }
    }

    fn everything(graph: &mut Graph) -> Vec<String> {
        let mut seen = Vec::new();
        let none = walk(graph, Scope::Everything, |role, _, _| {
            seen.push(role.to_string());
            ControlFlow::<()>::Continue(())
        });
        assert_eq!(none, Ok(Walked::Complete));
        seen
    }

    #[test]
    fn the_walk_is_pre_order_depth_first_in_listed_order() {
        let mut graph = Graph::new(&[
            (
                "targets",
                &[],
                &[("a", &["*"], false), ("b", &["*"], false)],
            ),
            ("a", &[], &[("a1", &["*"], false), ("a2", &["*"], false)]),
            ("a1", &[], &[("a11", &["*"], false)]),
            ("a11", &[], &[]),
            ("a2", &[], &[]),
            ("b", &[], &[("b1", &["*"], false)]),
            ("b1", &[], &[]),
        ]);
        assert_eq!(
            everything(&mut graph),
            ["targets", "a", "a1", "a11", "a2", "b", "b1"]
        );
        // Each asked for under the role that delegated it.
        assert_eq!(
            graph.asked[..4],
            [
                ("targets".into(), "root".into()),
                ("a".into(), "targets".into()),
                ("a1".into(), "a".into()),
                ("a11".into(), "a1".into())
            ]
        );
    }

    #[test]
    fn a_search_follows_only_covering_delegations_and_the_first_lister_answers() {
        let mut graph = Graph::new(&[
            (
                "targets",
                &[],
                &[
                    ("docs", &["docs/*"], false),
                    ("first", &["bin/*"], false),
                    ("second", &["bin/*"], false),
                ],
            ),
            ("docs", &["bin/app"], &[]),
            ("first", &[], &[("deep", &["bin/app"], false)]),
            ("deep", &["bin/app"], &[]),
            ("second", &["bin/app"], &[]),
        ]);
        let (found, info) = find(&mut graph, &target("bin/app"))
            .unwrap()
            .found()
            .unwrap();
        // "docs" lists the name but may not: it was never asked. "deep" comes before
        // "second" because the walk is depth first.
        assert_eq!(found, role("deep"));
        assert_eq!(info.length, 4);
        assert_eq!(graph.asked(), ["targets", "first", "deep"]);
        assert_eq!(find(&mut graph, &target("lib/x")), Ok(Lookup::NotListed));
    }

    #[test]
    fn a_terminating_delegation_ends_the_search_for_its_names() {
        let spec: &[(&str, &[&str], &[Edge<'_>])] = &[
            (
                "targets",
                &[],
                &[
                    ("before", &["bin/*"], false),
                    ("stop", &["bin/*"], true),
                    ("after", &["bin/*"], false),
                ],
            ),
            ("before", &[], &[("hidden", &["bin/*"], false)]),
            ("hidden", &[], &[]),
            ("stop", &[], &[("under", &["bin/*"], false)]),
            ("under", &[], &[]),
            ("after", &["bin/app"], &[]),
        ];
        let mut graph = Graph::new(spec);
        assert_eq!(find(&mut graph, &target("bin/app")), Ok(Lookup::NotListed));
        // The roles listed before the terminating one are searched, then its own
        // subtree, and nothing after it.
        assert_eq!(
            graph.asked(),
            ["targets", "before", "hidden", "stop", "under"]
        );
        // A terminating role deeper down also drops what the walk had queued above it.
        let mut graph = Graph::new(&[
            (
                "targets",
                &[],
                &[("a", &["bin/*"], false), ("later", &["bin/*"], false)],
            ),
            ("a", &[], &[("stop", &["bin/*"], true)]),
            ("stop", &[], &[]),
            ("later", &["bin/app"], &[]),
        ]);
        assert_eq!(find(&mut graph, &target("bin/app")), Ok(Lookup::NotListed));
        assert_eq!(graph.asked(), ["targets", "a", "stop"]);
        // A name it does not cover is not stopped by it.
        let mut graph = Graph::new(spec);
        let mut other = Graph::new(&[
            (
                "targets",
                &[],
                &[("stop", &["bin/*"], true), ("lib", &["lib/*"], false)],
            ),
            ("stop", &[], &[]),
            ("lib", &["lib/x"], &[]),
        ]);
        assert_eq!(
            find(&mut other, &target("lib/x"))
                .unwrap()
                .found()
                .map(|(r, _)| r),
            Some(role("lib"))
        );
        assert_eq!(other.asked(), ["targets", "lib"]);
        // Listing everything is about roles, not names: nothing is cut off.
        assert_eq!(
            everything(&mut graph),
            ["targets", "before", "hidden", "stop", "under", "after"]
        );
    }

    #[test]
    fn each_role_is_visited_once_and_a_cycle_ends() {
        let mut graph = Graph::new(&[
            (
                "targets",
                &[],
                &[("a", &["*"], false), ("b", &["*"], false)],
            ),
            (
                "a",
                &[],
                &[("b", &["*"], false), ("targets", &["*"], false)],
            ),
            ("b", &[], &[("a", &["*"], false), ("b", &["*"], false)]),
        ]);
        assert_eq!(everything(&mut graph), ["targets", "a", "b"]);
        assert_eq!(graph.asked(), ["targets", "a", "b"]);
        // The first path to a role is the one it is asked for under.
        assert_eq!(graph.asked[2], ("b".into(), "a".into()));
        let mut graph = Graph::new(&[
            ("targets", &[], &[("a", &["*"], false)]),
            (
                "a",
                &[],
                &[("targets", &["*"], false), ("a", &["*"], false)],
            ),
        ]);
        assert_eq!(find(&mut graph, &target("x")), Ok(Lookup::NotListed));
        assert_eq!(graph.asked(), ["targets", "a"]);
    }

    /// A chain of `n` roles below the top-level one, each delegating to the next; the last
    /// lists "x".
    fn chain(n: usize) -> Graph {
        let names: Vec<String> = (0..n).map(|i| format!("r{i}")).collect();
        let mut spec: Vec<(&str, &[&str], Vec<Edge<'_>>)> = Vec::new();
        spec.push(("targets", &[], vec![(names[0].as_str(), &["*"], false)]));
        for (i, name) in names.iter().enumerate() {
            let children = match names.get(i + 1) {
                Some(next) => vec![(next.as_str(), &["*"][..], false)],
                None => Vec::new(),
            };
            let listed: &[&str] = if i + 1 == names.len() { &["x"] } else { &[] };
            spec.push((name.as_str(), listed, children));
        }
        let spec: Vec<(&str, &[&str], &[Edge<'_>])> =
            spec.iter().map(|(n, l, c)| (*n, *l, &c[..])).collect();
        Graph::new(&spec)
    }

    #[test]
    fn a_search_past_max_delegations_roles_is_not_found_and_says_why() {
        // 41 roles in all: the name is behind more than 32.
        let mut graph = chain(40);
        let cut = LimitReached {
            limit: MAX_DELEGATIONS,
            visited: MAX_DELEGATIONS,
            left: 1,
        };
        assert_eq!(find(&mut graph, &target("x")), Ok(Lookup::SearchLimit(cut)));
        assert_eq!(graph.asked.len(), MAX_DELEGATIONS);
        assert_eq!(graph.asked().last(), Some(&"r30"));
        // python-tuf's answer: not found.
        assert_eq!(find(&mut chain(40), &target("x")).unwrap().found(), None);
        // Within the cap (32 roles, the top-level one included), the same chain answers.
        let found = find(&mut chain(MAX_DELEGATIONS - 1), &target("x")).unwrap();
        assert_eq!(found.found().map(|(r, _)| r), Some(role("r30")));
    }

    #[test]
    fn a_listing_walks_past_the_search_limit_and_fails_loudly_past_its_own() {
        // 41 roles: far below the listing limit, so every one is listed.
        assert_eq!(everything(&mut chain(40)).len(), 41);
        // Past a listing limit: a typed error naming the limit and what was visited.
        let mut graph = chain(40);
        let mut seen = 0;
        let walked = walk_everything(&mut graph, 10, |_, _, _| seen += 1);
        assert_eq!(
            walked,
            Err(Missing::Limit {
                limit: 10,
                visited: 10,
                left: 1
            })
        );
        assert_eq!(seen, 10);
        // Exactly at the limit, with only repeats left, the walk is complete.
        let mut cycle = Graph::new(&[
            ("targets", &[], &[("a", &["*"], false)]),
            ("a", &[], &[("targets", &["*"], false)]),
        ]);
        assert_eq!(walk_everything(&mut cycle, 2, |_, _, _| ()), Ok(2));
        assert_eq!(
            walk_everything(&mut cycle, 1, |_, _, _| ()),
            Err(Missing::Limit {
                limit: 1,
                visited: 1,
                left: 1
            })
        );
        let error = Error::DelegationLimit {
            limit: MAX_LISTED_ROLES,
            visited: MAX_LISTED_ROLES,
            left: 3,
        };
        assert_eq!(
            error.to_string(),
            "delegations: more than 10000 roles to walk (visited 10000, at least 3 more still to visit); the walk stops at its limit rather than give a partial answer"
        );
    }

    #[test]
    fn a_role_the_source_cannot_give_ends_the_walk_with_its_error() {
        let mut graph = Graph::new(&[
            (
                "targets",
                &[],
                &[("gone", &["*"], false), ("b", &["*"], false)],
            ),
            ("b", &["x"], &[]),
        ]);
        assert_eq!(
            find(&mut graph, &target("x")),
            Err(Missing::Role("gone".into()))
        );
        assert_eq!(graph.asked(), ["targets", "gone"]);
    }
}
