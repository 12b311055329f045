//! The committed corpus under `tests/data/`, read in-process through a folder mirror: no
//! binaries, no server. Each scenario is a repository another implementation wrote
//! (python-tuf's Metadata API, `tests/python/make_repo.py`, generated once on 2026-11-23,
//! expiring 2026-12-23, and `tests/python/make_succinct_repo.py`, TAP 15 hash bins expiring in
//! 2099; `tough`'s editor, `tests/examples/write_tough_corpus.rs`, expiring in 2099), and hostile variants are made from it here by changing one thing. Expiry is
//! judged at a fixed time, so the corpus never goes stale.
//!
//! Regenerating, into a removed folder (each prints what goes in `<scenario>.targets.json`):
//! `.venv/bin/python tests/python/make_repo.py tests/data/python-tuf` (and
//! `... tests/data/python-tuf-hostile-names --hostile-names`;
//! `.venv/bin/python tests/python/make_succinct_repo.py tests/data/python-tuf-succinct` (which
//! also writes its `.bins.json` and its hostile variants beside it);
//! `cargo run -p e2e-tests --example write_tough_corpus -- tests/data/tough`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use updater::datetime::UtcTime;
use updater::fetch::mirrors::{Mirrors, RetryPolicy};
use updater::fetch::store::MetadataStore;
use updater::fetch::LocalTransport;
use updater::hash::Sha256;
use updater::names::TargetName;
use updater::update::client::Client;
use updater::Error;

/// The scenario `python-tuf-succinct`: TAP 15 succinct hash bins.
#[path = "corpus/succinct.rs"]
mod succinct;

fn corpus(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/data")
        .join(name)
}

/// Before the corpus expires.
fn valid_time() -> UtcTime {
    UtcTime::parse("2026-11-24T00:00:00Z").unwrap()
}

fn mirror(path: &Path) -> Mirrors {
    Mirrors::new(
        vec![Box::new(LocalTransport::new(path))],
        RetryPolicy::default(),
    )
}

/// A device trusting `repo/initial_root.json`, refreshed from `repo` at `now`.
fn device(repo: &Path, store_dir: &Path, now: UtcTime) -> Result<Client, Error> {
    let store = MetadataStore::open(store_dir)?;
    let root = std::fs::read(repo.join("initial_root.json")).unwrap();
    Client::init(&store, &root, false)?;
    Client::open(store, mirror(&repo.join("metadata")), now)
}

/// name -> SHA-256 hex, as `make_repo.py` printed it when the corpus was generated.
fn expected(name: &str) -> BTreeMap<String, String> {
    let path = corpus(&format!("{name}.targets.json"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// A copy of scenario `name` in a fresh folder, to tamper with.
fn copy_of(name: &str, into: &Path) -> PathBuf {
    let dest = into.join(name);
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(corpus(name))
        .arg(&dest)
        .status()
        .unwrap();
    assert!(status.success());
    dest
}

#[test]
fn every_target_python_tuf_wrote_is_found_and_downloaded() {
    for scenario in ["python-tuf"] {
        let tmp = tempfile::tempdir().unwrap();
        let repo = corpus(scenario);
        let client = device(&repo, tmp.path(), valid_time()).unwrap();
        // The root chain was walked: python-tuf rotated root to version 2.
        assert_eq!(client.trusted().root().version.get(), 2);
        let downloads = tmp.path().join("downloads");
        std::fs::create_dir(&downloads).unwrap();
        let mut client = client;
        for (name, sha256) in expected(scenario) {
            let target = TargetName::new(&name).unwrap();
            let found = client
                .find_target(&target)
                .unwrap()
                .unwrap_or_else(|| panic!("{scenario}: {name} not found"));
            let (path, _) = client
                .download(found.listing(), &mirror(&repo.join("targets")), &downloads)
                .unwrap();
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(
                Sha256::digest(&bytes).to_hex(),
                sha256,
                "{scenario}: {name}"
            );
            // Whatever the name, the file is directly in the download folder.
            assert_eq!(
                path.parent(),
                Some(downloads.as_path()),
                "{scenario}: {name}"
            );
        }
    }
}

#[test]
fn the_corpus_is_refused_once_expired() {
    let tmp = tempfile::tempdir().unwrap();
    let late = UtcTime::parse("2027-01-01T00:00:00Z").unwrap();
    let err = device(&corpus("python-tuf"), tmp.path(), late)
        .err()
        .expect("an expired repository is refused");
    assert!(
        matches!(
            err,
            Error::Fetch { .. } | Error::Core(tuf_core::Error::Expired { .. })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("expired at 2026-12-23"), "{err}");
}

#[test]
fn a_changed_signed_field_is_refused_at_each_role() {
    for file in ["timestamp.json", "1.snapshot.json", "1.targets.json"] {
        let tmp = tempfile::tempdir().unwrap();
        let repo = copy_of("python-tuf", tmp.path());
        let path = repo.join("metadata").join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        let changed = text.replacen("2026-12-23", "2026-12-24", 1);
        assert_ne!(text, changed, "{file} has an expiry to change");
        std::fs::write(&path, changed).unwrap();
        let store = tmp.path().join("store");
        std::fs::create_dir(&store).unwrap();
        let err = device(&repo, &store, valid_time())
            .err()
            .unwrap_or_else(|| panic!("a changed {file} is refused"));
        let text = err.to_string();
        let role = file.trim_start_matches("1.").trim_end_matches(".json");
        assert!(
            text.contains(&format!("{role}: 0 of 1 required signatures are valid"))
                || text.contains("digest is"),
            "{file}: {text}"
        );
        // Nothing refused was stored: the device keeps only what verified.
        assert!(!store.join(file.trim_start_matches("1.")).exists() || file == "1.targets.json");
    }
}

/// python-tuf lets role names look like paths ("../../outside", "/tmp/abs-role",
/// "sub/dir"). From a folder mirror, a role file whose name climbs out of the metadata folder
/// is not there to read (the kernel keeps every open beneath the mirror), so what it lists is
/// not found; a target named "../escape.txt" is no target name at all. Nothing is written
/// anywhere but the device's folders.
#[test]
fn path_like_role_names_never_reach_outside_a_folder_mirror() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = corpus("python-tuf-hostile-names");
    let store = tmp.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let mut client = device(&repo, &store, valid_time()).unwrap();
    let downloads = tmp.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let expected = expected("python-tuf-hostile-names");
    let mut outcome = BTreeMap::new();
    for (name, sha256) in &expected {
        let Ok(target) = TargetName::new(name) else {
            outcome.insert(name.clone(), "not a target name".to_owned());
            continue;
        };
        let result = match client.find_target(&target) {
            Ok(Some(found)) => {
                let (path, _) = client
                    .download(found.listing(), &mirror(&repo.join("targets")), &downloads)
                    .unwrap();
                assert_eq!(path.parent(), Some(downloads.as_path()));
                assert_eq!(
                    &Sha256::digest(&std::fs::read(&path).unwrap()).to_hex(),
                    sha256
                );
                "downloaded".to_owned()
            }
            Ok(None) => "not listed".to_owned(),
            Err(e) => e.to_string(),
        };
        outcome.insert(name.clone(), result);
    }
    eprintln!("{outcome:#?}");
    assert_eq!(outcome["hello.txt"], "downloaded");
    assert_eq!(outcome["releases/1.0/app.bin"], "downloaded");
    assert_eq!(outcome["../escape.txt"], "not a target name");
    // The device's two folders hold only plain files, directly.
    for dir in [&store, &downloads] {
        for entry in std::fs::read_dir(dir).unwrap() {
            assert!(entry.unwrap().file_type().unwrap().is_file());
        }
    }
    let around: Vec<_> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(around.len(), 2, "{around:?}");
}

// The scenario `tough`: a repository `tough`'s own editor wrote
// (`cargo run -p e2e-tests --example write_tough_corpus -- tests/data/tough`, expiring in 2099;
// its printed object is `tests/data/tough.targets.json`). tough lays out consistent snapshots
// its own way: a target is served as `<sha256>.<whole name>`, and its delegation `*` crosses
// `/`. What the device makes of each difference is pinned below.

/// Every file under `dir`, by relative path, with its bytes (folders with no bytes).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let rel = path.strip_prefix(dir).unwrap().to_owned();
            if path.is_dir() {
                stack.push(path);
                out.insert(rel, Vec::new());
            } else {
                out.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// The device's client for the `tough` repository at `repo`, and an empty download folder.
fn tough_device(repo: &Path, tmp: &Path) -> (Client, PathBuf) {
    let store = tmp.join("store");
    std::fs::create_dir(&store).unwrap();
    let client = device(repo, &store, valid_time()).unwrap();
    let downloads = tmp.join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    (client, downloads)
}

fn find(client: &mut Client, name: &str) -> updater::update::client::FoundTarget {
    client
        .find_target(&TargetName::new(name).unwrap())
        .unwrap()
        .unwrap_or_else(|| panic!("tough: {name} not found"))
}

/// tough's metadata (ed25519 root and snapshot, ECDSA timestamp, RSA-PSS targets with SPKI
/// PEM keys, pretty-printed, SHA-256 only) is trusted, and every target whose name has no
/// folder downloads with the bytes tough was given, the delegated role's included.
#[test]
fn every_flat_target_tough_wrote_is_found_and_downloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = corpus("tough");
    let (mut client, downloads) = tough_device(&repo, tmp.path());
    assert_eq!(client.trusted().root().version.get(), 1);
    assert!(client.trusted().root().consistent_snapshot);
    let flat: BTreeMap<_, _> = expected("tough")
        .into_iter()
        .filter(|(name, _)| !name.contains('/'))
        .collect();
    assert_eq!(
        flat.keys().collect::<Vec<_>>(),
        ["app-1.0.bin", "empty.bin", "hello.txt"]
    );
    for (name, sha256) in flat {
        let found = find(&mut client, &name);
        let role = if name == "app-1.0.bin" {
            "release"
        } else {
            "targets"
        };
        assert_eq!(found.role.as_str(), role, "{name}");
        let (path, fetched) = client
            .download(found.listing(), &mirror(&repo.join("targets")), &downloads)
            .unwrap();
        assert!(fetched, "{name}");
        assert_eq!(path, downloads.join(&name));
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(Sha256::digest(&bytes).to_hex(), sha256, "{name}");
    }
}

/// Divergence: tough serves `docs/guide.txt` as `<sha256>.docs/guide.txt`; the device asks
/// for the specification's (and python-tuf's) `docs/<sha256>.guide.txt`, so a nested target
/// of a tough repository is listed, verified, and not found. Nothing lands in the download
/// folder. Served under both names (as `repo` serves it), the same bytes download.
#[test]
fn a_nested_target_tough_wrote_is_not_found_under_the_name_the_device_asks_for() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = copy_of("tough", tmp.path());
    let (mut client, downloads) = tough_device(&repo, tmp.path());
    let sha256 = &expected("tough")["docs/guide.txt"];
    let found = find(&mut client, "docs/guide.txt");
    let before = tree(tmp.path());
    let err = client
        .download(found.listing(), &mirror(&repo.join("targets")), &downloads)
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let words = err.to_string();
    assert!(
        words.starts_with("docs/guide.txt: not found on any mirror (")
            && words.contains("/tough/targets/docs/")
            && words.ends_with(".guide.txt: not found)"),
        "{words}"
    );
    assert_eq!(tree(tmp.path()), before);

    let tough_name = repo
        .join("targets")
        .join(format!("{sha256}.docs/guide.txt"));
    let spec_name = repo
        .join("targets/docs")
        .join(format!("{sha256}.guide.txt"));
    std::fs::create_dir(spec_name.parent().unwrap()).unwrap();
    std::fs::copy(&tough_name, &spec_name).unwrap();
    let (path, _) = client
        .download(found.listing(), &mirror(&repo.join("targets")), &downloads)
        .unwrap();
    assert_eq!(
        &Sha256::digest(&std::fs::read(path).unwrap()).to_hex(),
        sha256
    );
}

/// Divergence: tough delegated `releases/*` and listed `releases/1.0/app.bin` under it (its
/// `*` crosses `/`). The device matches patterns segment by segment, as python-tuf and the
/// specification do, so the role is not trusted for that name: not found, nothing fetched.
#[test]
fn a_tough_delegation_star_does_not_cross_a_slash_on_the_device() {
    let repo = corpus("tough");
    let release: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("metadata/1.release.json")).unwrap())
            .unwrap();
    assert!(release["signed"]["targets"]["releases/1.0/app.bin"].is_object());
    let targets: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("metadata/1.targets.json")).unwrap())
            .unwrap();
    assert_eq!(
        targets["signed"]["delegations"]["roles"][0]["paths"],
        serde_json::json!(["app-*", "releases/*"])
    );
    let tmp = tempfile::tempdir().unwrap();
    let (mut client, downloads) = tough_device(&repo, tmp.path());
    let name = TargetName::new("releases/1.0/app.bin").unwrap();
    assert!(client.find_target(&name).unwrap().is_none());
    assert_eq!(std::fs::read_dir(&downloads).unwrap().count(), 0);
}

/// Hostile: the tough repository with one target's bytes changed (same length, one byte
/// flipped) on the mirror. The download is refused by its digest and leaves nothing behind:
/// not in the download folder, not beside it.
#[test]
fn a_changed_target_in_a_tough_repository_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = copy_of("tough", tmp.path());
    let sha256 = &expected("tough")["hello.txt"];
    let served = repo.join("targets").join(format!("{sha256}.hello.txt"));
    let mut bytes = std::fs::read(&served).unwrap();
    bytes[0] ^= 1;
    std::fs::write(&served, &bytes).unwrap();
    let (mut client, downloads) = tough_device(&repo, tmp.path());
    let found = find(&mut client, "hello.txt");
    let before = tree(tmp.path());
    let err = client
        .download(found.listing(), &mirror(&repo.join("targets")), &downloads)
        .unwrap_err();
    assert!(
        matches!(err, Error::Core(tuf_core::Error::HashMismatch { .. })),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!(
            "hello.txt: SHA-256 digest is {}, metadata says {sha256}",
            Sha256::digest(&bytes).to_hex()
        )
    );
    assert_eq!(tree(tmp.path()), before);
}
