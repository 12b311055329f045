//! The search of the delegation graph, in one place for every program that walks it: the
//! device's target lookup, `updater targets`, `repo verify` and `repo mirror`.
//!
//! Invariant: a walk is pre-order and depth first from the top-level targets role; a
//! delegator's children are visited in the order it lists them; each role is visited at most
//! once (the first path to it wins, so a cycle ends); at most [`MAX_DELEGATIONS`] roles are
//! visited in all, the top-level one included. A search for one name follows only the
//! delegations that cover it, and a terminating one among them is the last way the search
//! may go: nothing queued before it, and none of its later siblings, is visited.
//!
//! The walker does no I/O: it asks a [`TargetsSource`] for each role's verified metadata,
//! which the caller loads however it loads files.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use crate::metadata::{TargetInfo, Targets};
use crate::names::{RoleName, TargetName};
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
            Scope::Everything => delegations.roles_in_order(),
            Scope::Name(name) => delegations.roles_for(name),
        };
        let mut children = Vec::new();
        // One delegator's roles have distinct names, and at most MAX_DELEGATIONS of them
        // were visited already, so the walk meets its limit before it could reach a child
        // past the first MAX_DELEGATIONS + 1: those are never made (2^32 hash bins stay
        // unlisted).
        for child in candidates.take(MAX_DELEGATIONS + 1) {
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
                        succinct_roles: None,
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

    /// A role the graph does not hold.
    #[derive(Debug, PartialEq, Eq)]
    struct Missing(String);

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
                .ok_or_else(|| Missing(role.to_string()))
        }
    }

    fn everything(graph: &mut Graph) -> Vec<String> {
        let mut seen = Vec::new();
        let none = walk(graph, Scope::Everything, |role, _, _| {
            seen.push(role.to_string());
            ControlFlow::<()>::Continue(())
        });
        assert_eq!(none, Ok(None));
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
        let (found, info) = find(&mut graph, &target("bin/app")).unwrap().unwrap();
        // "docs" lists the name but may not: it was never asked. "deep" comes before
        // "second" because the walk is depth first.
        assert_eq!(found, role("deep"));
        assert_eq!(info.length, 4);
        assert_eq!(graph.asked(), ["targets", "first", "deep"]);
        assert_eq!(find(&mut graph, &target("lib/x")), Ok(None));
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
        assert_eq!(find(&mut graph, &target("bin/app")), Ok(None));
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
        assert_eq!(find(&mut graph, &target("bin/app")), Ok(None));
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
            find(&mut other, &target("lib/x")).unwrap().map(|(r, _)| r),
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
        assert_eq!(find(&mut graph, &target("x")), Ok(None));
        assert_eq!(graph.asked(), ["targets", "a"]);
    }

    #[test]
    fn at_most_max_delegations_roles_are_visited() {
        // A chain of 40 roles, each delegating to the next; the last lists the name.
        let names: Vec<String> = (0..40).map(|i| format!("r{i}")).collect();
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
        let mut graph = Graph::new(&spec);
        assert_eq!(find(&mut graph, &target("x")), Ok(None));
        assert_eq!(graph.asked.len(), MAX_DELEGATIONS);
        assert_eq!(graph.asked().last(), Some(&"r30"));
        assert_eq!(everything(&mut graph).len(), MAX_DELEGATIONS);
        // Within the cap, the same chain answers.
        let short = &spec[..MAX_DELEGATIONS - 1];
        let mut spec = short.to_vec();
        spec.push(("r30", &["x"], &[]));
        let mut graph = Graph::new(&spec);
        assert_eq!(
            find(&mut graph, &target("x")).unwrap().map(|(r, _)| r),
            Some(role("r30"))
        );
    }

    #[test]
    fn hash_bins_are_walked_as_roles_without_listing_all_of_them() {
        // Top-level targets delegates to 2^32 bins; the bin of "x" (python-tuf:
        // "b-2d711642") lists it, and an ordinary role is nowhere to be consulted.
        let mut graph = Graph::new(&[("targets", &[], &[]), ("b-2d711642", &["x"], &[])]);
        let top = graph
            .roles
            .get(&RoleName::targets())
            .unwrap()
            .signed()
            .clone();
        let delegations = serde_json::from_value(serde_json::json!({
            "keys": {},
            "succinct_roles": {"keyids": [], "threshold": 1, "bit_length": 32, "name_prefix": "b"},
        }))
        .unwrap();
        let top = Targets {
            delegations: Some(delegations),
            ..top
        };
        graph
            .roles
            .insert(RoleName::targets(), Verified::assumed_for_test(top));
        let (found, _) = find(&mut graph, &target("x")).unwrap().unwrap();
        assert_eq!(found, role("b-2d711642"));
        assert_eq!(graph.asked(), ["targets", "b-2d711642"]);
        assert_eq!(graph.asked[1].1, "targets");
        // Listing everything goes through the bins in order, made one at a time, and
        // meets the walk's limit (whatever it does there) after MAX_DELEGATIONS roles.
        for i in 0..64 {
            let bin = Graph::new(&[("bin", &[], &[])]).roles.remove(&role("bin"));
            graph
                .roles
                .insert(role(&format!("b-{i:08x}")), bin.unwrap());
        }
        graph.asked.clear();
        let _limit = walk(&mut graph, Scope::Everything, |_, _, _| {
            ControlFlow::<()>::Continue(())
        });
        assert_eq!(graph.asked.len(), MAX_DELEGATIONS);
        assert_eq!(graph.asked()[1..3], ["b-00000000", "b-00000001"]);
        let last = format!("b-{:08x}", MAX_DELEGATIONS - 2);
        assert_eq!(graph.asked().last(), Some(&last.as_str()));
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
        assert_eq!(find(&mut graph, &target("x")), Err(Missing("gone".into())));
        assert_eq!(graph.asked(), ["targets", "gone"]);
    }
}
