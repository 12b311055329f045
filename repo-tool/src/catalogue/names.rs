//! The names of the catalogue's roles and the path patterns of their delegations.
//!
//! Patterns follow python-tuf's rule, which the device shares: a pattern matches a target
//! name only with as many `/`-separated segments, and `*` never crosses a `/`. A release's
//! files can sit at any depth below `releases/<R>/<platform>/`, so a delegation lists one
//! pattern per depth its files use, and nothing else is in its reach.

use std::collections::BTreeSet;

use updater::conventions::{Release, RELEASES};
use updater::names::TargetName;

/// The prefix of the live releases' roles, `live-NN`: a fixed set of slots, each holding
/// one release at a time (see the module `catalogue`).
pub(crate) const SLOT_PREFIX: &str = "live-";

/// The role delegating to the volumes.
pub(crate) const HISTORY_ROLE: &str = "history";

/// The `n`-th slot for a live release.
pub(crate) fn slot_role(n: u32) -> String {
    format!("{SLOT_PREFIX}{n:02}")
}

/// The number of a slot's role name (None for other roles).
pub(crate) fn slot_number(role: &str) -> Option<u32> {
    role.strip_prefix(SLOT_PREFIX)?.parse().ok()
}

/// The `n`-th volume.
pub(crate) fn volume_role(n: u32) -> String {
    format!("volume-{n:05}")
}

/// The number of a volume's role name.
pub(crate) fn volume_number(role: &str) -> Option<u32> {
    role.strip_prefix("volume-")?.parse().ok()
}

/// The number of `/`-separated segments of `name`.
fn depth(name: &str) -> usize {
    name.split('/').count()
}

/// `releases/<first>/*/...` with `depth` segments in all.
fn pattern(first: &str, depth: usize) -> String {
    let mut p = format!("{RELEASES}/{first}");
    for _ in 2..depth {
        p.push_str("/*");
    }
    p
}

/// The patterns reaching exactly the folder of `release` at the depths of `names`.
pub(crate) fn release_patterns<'a>(
    release: &Release,
    names: impl IntoIterator<Item = &'a TargetName>,
) -> Vec<String> {
    let depths: BTreeSet<usize> = names.into_iter().map(|n| depth(n.as_str())).collect();
    release_patterns_at(release, &depths)
}

/// The patterns reaching exactly the folder of `release` at `depths`.
pub(crate) fn release_patterns_at(release: &Release, depths: &BTreeSet<usize>) -> Vec<String> {
    depths
        .iter()
        .map(|d| pattern(release.as_str(), *d))
        .collect()
}

/// The depths (in segments) `patterns` reach.
pub(crate) fn depths_of<'a>(patterns: impl IntoIterator<Item = &'a String>) -> BTreeSet<usize> {
    patterns.into_iter().map(|p| depth(p)).collect()
}

/// The release a pattern written by [`release_patterns`] reaches.
pub(crate) fn release_of_pattern(pattern: &str) -> Option<Release> {
    let mut parts = pattern.split('/');
    (parts.next()? == RELEASES)
        .then(|| parts.next())
        .flatten()
        .and_then(|r| Release::new(r).ok())
}

/// The history's patterns: any release, at every depth `patterns` (of the volumes) use.
pub(crate) fn history_patterns<'a>(patterns: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let depths: BTreeSet<usize> = patterns.into_iter().map(|p| depth(p)).collect();
    depths.into_iter().map(|d| pattern("*", d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_reach_each_depth_a_release_uses() {
        let r = Release::new("1.0.0+b~1").unwrap();
        let names = [
            TargetName::new("releases/1.0.0+b~1/x86_64/app.bin").unwrap(),
            TargetName::new("releases/1.0.0+b~1/x86_64/dir042/f.bin").unwrap(),
            TargetName::new("releases/1.0.0+b~1/arm/g.bin").unwrap(),
        ];
        let patterns = release_patterns(&r, &names);
        assert_eq!(
            patterns,
            ["releases/1.0.0+b~1/*/*", "releases/1.0.0+b~1/*/*/*"]
        );
        assert_eq!(release_of_pattern(&patterns[1]), Some(r.clone()));
        assert_eq!(
            history_patterns(&patterns),
            ["releases/*/*/*", "releases/*/*/*/*"]
        );
        assert_eq!(slot_number(&slot_role(7)), Some(7));
        assert_eq!(slot_role(7), "live-07");
        assert_eq!(volume_number(&volume_role(42)), Some(42));
    }
}
