//! Independent TUF clients read what `repo` writes: python-tuf over real HTTP on
//! 127.0.0.1, and `tough` from the same folder.

use std::collections::BTreeMap;

use e2e_tests::{fixture_release, python_tuf_fetch, tough_read, DemoRepo, StaticServer};
use updater::hash::Sha512;

/// Every target name the index lists, with the SHA-512 of its source file in fixtures/.
fn expected_targets(repo: &DemoRepo) -> BTreeMap<String, String> {
    let listed = repo.listed_targets();
    listed
        .keys()
        .map(|name| {
            let parts: Vec<&str> = name.splitn(4, '/').collect();
            let source = fixture_release(parts[1], parts[2]).join(parts[3]);
            let bytes = std::fs::read(&source).expect("fixture file");
            (name.clone(), Sha512::digest(&bytes).to_hex())
        })
        .collect()
}

#[test]
fn python_tuf_downloads_every_target_over_http() {
    let repo = DemoRepo::signed();
    let expected = expected_targets(&repo);
    assert_eq!(expected.len(), 8);
    let server = StaticServer::start(&repo.public());
    let got = python_tuf_fetch(&server.url(), &repo.root_json());
    assert_eq!(got, expected);
}

#[test]
fn tough_loads_the_repository_and_reads_every_target() {
    let repo = DemoRepo::signed();
    let expected = expected_targets(&repo);
    // Every target of every role: tough loads the delegated roles (the release's slot).
    let got: BTreeMap<String, String> = tough_read(&repo, None)
        .read
        .into_iter()
        .map(|(name, bytes)| (name, Sha512::digest(&bytes).to_hex()))
        .collect();
    assert_eq!(got, expected);
}

const POLICY: &str = r#"<policy>
  <channel name="stable">
    <target release="2.0.0"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
"#;

#[test]
fn python_tuf_downloads_the_policy_through_the_delegated_role() {
    let repo = DemoRepo::with_policy(POLICY);
    let server = StaticServer::start(&repo.public());
    let got = python_tuf_fetch(&server.url(), &repo.root_json());
    assert_eq!(
        got.get("policy.xml"),
        Some(&Sha512::digest(POLICY.as_bytes()).to_hex()),
        "{got:?}"
    );
    // Every release artifact too: 2 releases x 4 files.
    assert_eq!(got.len(), 9, "{got:?}");
}

#[test]
fn tough_reads_the_policy_through_the_delegated_role() {
    let repo = DemoRepo::with_policy(POLICY);
    let read = tough_read(&repo, Some(&["policy.xml".to_owned()])).read;
    assert_eq!(read["policy.xml"], POLICY.as_bytes());
}
