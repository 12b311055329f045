//! The scenario `python-tuf-succinct`: python-tuf's top-level targets lists `hello.txt` and
//! delegates everything else through TAP 15 succinct hash bins (`bit_length` 5, prefix
//! `bins`: 32 bins, `bins-00` to `bins-1f`), expiring in 2099
//! (`.venv/bin/python tests/python/make_succinct_repo.py tests/data/python-tuf-succinct`,
//! which also writes `python-tuf-succinct.bins.json`, the bin python-tuf chose for each name,
//! and two hostile variants: only the metadata files that differ, signed in the same run).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use updater::hash::Sha256;
use updater::names::TargetName;
use updater::Error;

use super::{copy_of, corpus, device, expected, mirror, tree, valid_time};

/// The listing python-tuf wrote beside the corpus: each name's bin, and the name the
/// `wrong-bin` variant moved into another bin (with that bin).
fn succinct_bins() -> (BTreeMap<String, String>, (String, String)) {
    #[derive(serde::Deserialize)]
    struct Listing {
        bins: BTreeMap<String, String>,
        moved: (String, String),
    }
    let path = corpus("python-tuf-succinct.bins.json");
    let listing: Listing = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    (listing.bins, listing.moved)
}

/// A copy of the succinct scenario with hostile `variant`'s metadata files laid over it.
fn succinct_variant(variant: &str, into: &Path) -> PathBuf {
    let repo = copy_of("python-tuf-succinct", into);
    let changed = corpus(&format!("python-tuf-succinct.{variant}/metadata"));
    for entry in std::fs::read_dir(changed).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), repo.join("metadata").join(entry.file_name())).unwrap();
    }
    repo
}

/// A device reads python-tuf's succinct hash bins: each target is found in the bin python-tuf
/// put it in (the one bin its name hashes to) and downloads with the bytes python-tuf hashed.
#[test]
fn every_target_python_tuf_signed_into_succinct_hash_bins_is_found_and_downloaded() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = corpus("python-tuf-succinct");
    let store = tmp.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let mut client = device(&repo, &store, valid_time()).unwrap();
    let downloads = tmp.path().join("downloads");
    std::fs::create_dir(&downloads).unwrap();
    let (bins, _) = succinct_bins();
    let expected = expected("python-tuf-succinct");
    assert_eq!(expected.len(), 9);
    for (name, sha256) in &expected {
        let found = client
            .find_target(&TargetName::new(name).unwrap())
            .unwrap()
            .unwrap_or_else(|| panic!("{name} not found"));
        let role = bins.get(name).map_or("targets", String::as_str);
        assert_eq!(found.role.as_str(), role, "{name}");
        let (path, fetched) = client
            .download(found.listing(), &mirror(&repo.join("targets")), &downloads)
            .unwrap();
        assert!(fetched, "{name}");
        assert_eq!(path.parent(), Some(downloads.as_path()), "{name}");
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&Sha256::digest(&bytes).to_hex(), sha256, "{name}");
    }
    // Only the bins that hold a wanted name were fetched, not all 32.
    let mut stored: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.starts_with("bins-"))
        .collect();
    stored.sort();
    let mut wanted: Vec<String> = bins.values().map(|b| format!("{b}.json")).collect();
    wanted.sort();
    assert_eq!(stored, wanted);
}

/// Hostile: the bin key (every bin shares it) signs a target into a bin that is not its own
/// (`files/file2.txt` hashes to `bins-1f`; `bins-00` lists it, `bins-1f` no longer does).
/// The device looks for a name only in its own bin: not found, nothing fetched or stored
/// for it; the bin that lists it is still trusted for its own names.
#[test]
fn a_target_signed_into_the_wrong_succinct_bin_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = succinct_variant("wrong-bin", tmp.path());
    let (bins, (moved, wrong_bin)) = succinct_bins();
    assert_eq!(
        (moved.as_str(), wrong_bin.as_str()),
        ("files/file2.txt", "bins-00")
    );
    assert_eq!(bins[&moved], "bins-1f");
    let wrong: serde_json::Value =
        serde_json::from_slice(&std::fs::read(repo.join("metadata/1.bins-00.json")).unwrap())
            .unwrap();
    assert!(wrong["signed"]["targets"][&moved].is_object());
    let store = tmp.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let mut client = device(&repo, &store, valid_time()).unwrap();
    let before = tree(tmp.path());
    let found = client
        .find_target(&TargetName::new(&moved).unwrap())
        .unwrap();
    assert!(found.is_none(), "{found:?}");
    // Its own bin was asked (and lists nothing of the kind); the wrong one never was.
    let mut after = before.clone();
    after.insert(
        PathBuf::from("store/bins-1f.json"),
        std::fs::read(repo.join("metadata/1.bins-1f.json")).unwrap(),
    );
    assert_eq!(tree(tmp.path()), after);
    let neighbour = client
        .find_target(&TargetName::new("files/file22.txt").unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(neighbour.role.as_str(), "bins-00");
}

/// Hostile: targets raises every bin's threshold to 2 (`succinct_roles.threshold`), and the
/// bins carry one signature: each bin is refused, with the threshold the delegation names,
/// and nothing of it is stored.
#[test]
fn succinct_bins_below_the_delegated_threshold_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let repo = succinct_variant("threshold-2", tmp.path());
    let store = tmp.path().join("store");
    std::fs::create_dir(&store).unwrap();
    let mut client = device(&repo, &store, valid_time()).unwrap();
    let before = tree(tmp.path());
    let err = client
        .find_target(&TargetName::new("releases/1.0/app.bin").unwrap())
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Core(tuf_core::Error::ThresholdNotMet { role, valid: 1, threshold: 2, .. })
                if role.as_str() == "bins-17"
        ),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "bins-17: 1 of 2 required signatures are valid"
    );
    assert_eq!(tree(tmp.path()), before);
    // The top-level role's own target is unaffected.
    let hello = client.find_target(&TargetName::new("hello.txt").unwrap());
    assert_eq!(hello.unwrap().unwrap().role.as_str(), "targets");
}
