use super::*;
use std::collections::BTreeMap;

use crate::datetime::UtcTime;
use crate::metadata::{DelegatedRole, Delegations, Hashes, HexDigest, Threshold, Version};

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
                            hashes: Hashes::from([("sha256".to_owned(), HexDigest(vec![0; 32]))]),
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
fn a_folder_listing_asks_only_roles_that_reach_it_and_keeps_what_the_search_trusts() {
    let mut graph = Graph::new(&[
        (
            "targets",
            &["releases/1.0.0/x/a"],
            &[
                ("r1", &["releases/1.0.0/*/*"], false),
                ("r2", &["releases/2.0.0/*/*"], false),
                ("stray", &["releases/9.0.0/*/*"], false),
                ("any", &["releases/*/x/b"], false),
            ],
        ),
        ("r1", &["releases/2.0.0/x/stolen"], &[]),
        ("r2", &["releases/2.0.0/x/a", "releases/2.0.0/y/a"], &[]),
        ("stray", &[], &[]),
        ("any", &["releases/2.0.0/x/b", "releases/2.0.0/x/c"], &[]),
    ]);
    let found: Vec<_> = list_under(&mut graph, "releases/2.0.0")
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let mut found: Vec<(&str, &str)> = found
        .iter()
        .map(|(n, r, _)| (n.as_str(), r.as_str()))
        .collect();
    found.sort_unstable();
    // "any" lists x/c, which its paths do not cover: not trusted for it.
    assert_eq!(
        found,
        [
            ("releases/2.0.0/x/a", "r2"),
            ("releases/2.0.0/x/b", "any"),
            ("releases/2.0.0/y/a", "r2"),
        ]
    );
    // r1 and stray cannot reach the folder: never fetched, so r1's listing is unseen.
    assert!(!graph.asked().contains(&"r1"));
    assert!(!graph.asked().contains(&"stray"));
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
    let (found, _) = find(&mut graph, &target("x")).unwrap().found().unwrap();
    assert_eq!(found, role("b-2d711642"));
    assert_eq!(graph.asked(), ["targets", "b-2d711642"]);
    assert_eq!(graph.asked[1].1, "targets");
    // Listing everything goes through the bins in order, made one at a time, and stops at
    // the walk's limit (here MAX_DELEGATIONS), saying so, rather than make 2^32 of them.
    for i in 0..64 {
        let bin = Graph::new(&[("bin", &[], &[])]).roles.remove(&role("bin"));
        graph
            .roles
            .insert(role(&format!("b-{i:08x}")), bin.unwrap());
    }
    graph.asked.clear();
    let walked = walk_within(&mut graph, Scope::Everything, MAX_DELEGATIONS, |_, _, _| {
        ControlFlow::<()>::Continue(())
    })
    .unwrap();
    assert!(matches!(walked, Walked::LimitReached(_)), "{walked:?}");
    assert_eq!(graph.asked.len(), MAX_DELEGATIONS);
    assert_eq!(graph.asked()[1..3], ["b-00000000", "b-00000001"]);
    let last = format!("b-{:08x}", MAX_DELEGATIONS - 2);
    assert_eq!(graph.asked().last(), Some(&last.as_str()));
}
