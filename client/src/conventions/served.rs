//! The names a target is served and fetched by, under the targets base. With consistent
//! snapshots the specification (and python-tuf) prefix the basename with a hash the index
//! lists: `<dir>/<hash>.<base>`. `tough` puts its SHA-256 before the whole name instead:
//! `<sha256>.<dir>/<base>`. `repo` stores every one of these names (hard links of one file);
//! the device fetches [`fetch_name`], one of them. A change here would orphan every file
//! already published.

use crate::metadata::Hashes;
use crate::names::TargetName;

/// `<dir>/<hash_hex>.<base>`: the specification's name for `name` by one of its hashes.
pub(crate) fn hash_prefixed(name: &TargetName, hash_hex: &str) -> String {
    match name.as_str().rsplit_once('/') {
        Some((dir, base)) => format!("{dir}/{hash_hex}.{base}"),
        None => format!("{hash_hex}.{}", name.as_str()),
    }
}

/// Every name a server stores `name` under: one per listed hash, then `tough`'s.
pub fn served_names(name: &TargetName, hashes: &Hashes) -> Vec<String> {
    let mut names: Vec<String> = hashes
        .values()
        .map(|d| hash_prefixed(name, &hex::encode(d)))
        .collect();
    if let Some(sha256) = hashes.get("sha256") {
        let tough = format!("{}.{name}", hex::encode(sha256));
        if !names.contains(&tough) {
            names.push(tough);
        }
    }
    names
}

/// The name the device fetches `name` by: with consistent snapshots, prefixed by the
/// SHA-256 where listed (as python-tuf and tough ask for it), else another listed hash.
pub fn fetch_name(name: &TargetName, hashes: &Hashes, consistent_snapshot: bool) -> String {
    if !consistent_snapshot {
        return name.as_str().to_owned();
    }
    let hash = hashes
        .get("sha256")
        .or_else(|| hashes.get("sha512"))
        .or_else(|| hashes.values().next());
    match hash {
        Some(digest) => hash_prefixed(name, &hex::encode(digest)),
        None => name.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::HexDigest;

    fn hashes() -> Hashes {
        Hashes::from([
            ("sha256".to_owned(), HexDigest(vec![0xaa])),
            ("sha512".to_owned(), HexDigest(vec![0xbb])),
        ])
    }

    /// Pinned: these are the files already on every server.
    #[test]
    fn served_names_are_pinned() {
        let n = TargetName::new("releases/1/x86/app.bin").unwrap();
        assert_eq!(
            served_names(&n, &hashes()),
            [
                "releases/1/x86/aa.app.bin",
                "releases/1/x86/bb.app.bin",
                "aa.releases/1/x86/app.bin"
            ]
        );
        let top = TargetName::new("policy.xml").unwrap();
        assert_eq!(
            served_names(&top, &hashes()),
            ["aa.policy.xml", "bb.policy.xml"]
        );
    }

    /// The device fetches one of the names the repository serves.
    #[test]
    fn the_device_fetches_a_served_name() {
        let n = TargetName::new("releases/1/x86/app.bin").unwrap();
        let fetched = fetch_name(&n, &hashes(), true);
        assert_eq!(fetched, "releases/1/x86/aa.app.bin");
        assert!(served_names(&n, &hashes()).contains(&fetched));
        let only512 = Hashes::from([("sha512".to_owned(), HexDigest(vec![0xbb]))]);
        assert!(served_names(&n, &only512).contains(&fetch_name(&n, &only512, true)));
        assert_eq!(fetch_name(&n, &hashes(), false), "releases/1/x86/app.bin");
    }
}
