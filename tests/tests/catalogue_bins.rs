//! A release too big for one role: its slot delegates its files to hash bins
//! (`path_hash_prefixes`), each within `volume_bytes`; the same once it folds into a
//! volume. Devices, python-tuf (keeping its trusted metadata between signings), `tough` and
//! `repo verify` read every shape the release goes through: live in bins, folded into a
//! volume in bins (the slot's bins re-signed empty and still listed), retired.

use std::collections::BTreeMap;
use std::path::Path;

use e2e_tests::{
    apply, example_key, listed_file, policy_for, publish_policy, python_tuf_fetch_in, read_json,
    repo, DemoRepo, Device, StaticServer,
};
use serde_json::Value;
use updater::hash::{Sha256, Sha512};

const FILES: usize = 40;
const BUDGET: u64 = 3000;

/// Sets `[catalogue]` in `repo.toml`.
fn set_catalogue(r: &DemoRepo, live: usize, volume_bytes: u64) {
    let path = r.path.join("repo.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        "live_releases = 32\nvolume_bytes = 4194304\n",
        &format!("live_releases = {live}\nvolume_bytes = {volume_bytes}\n"),
    );
    assert!(text.contains(&format!("volume_bytes = {volume_bytes}")));
    std::fs::write(&path, text).unwrap();
}

/// A release folder of `FILES` small files, two levels deep; their SHA-512 by name.
fn big_release(dir: &Path) -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for i in 0..FILES {
        let rel = format!("dir{:02}/file{i:04}.bin", i % 3);
        let path = dir.join(&rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let bytes = format!("file {i} of the big release\n");
        std::fs::write(&path, &bytes).unwrap();
        files.insert(rel, Sha512::digest(bytes.as_bytes()).to_hex());
    }
    files
}

fn current(metadata: &Path, role: &str) -> Value {
    read_json(&listed_file(metadata, role))
}

/// The delegations `role` makes: name -> path_hash_prefixes.
fn bins_of(role: &Value) -> BTreeMap<String, Vec<String>> {
    role["signed"]["delegations"]["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .map(|r| {
                    let prefixes = r["path_hash_prefixes"]
                        .as_array()
                        .unwrap_or_else(|| panic!("a bin by hash prefix: {r:#}"))
                        .iter()
                        .map(|p| p.as_str().unwrap().to_owned())
                        .collect();
                    (r["name"].as_str().unwrap().to_owned(), prefixes)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Checks that `role` splits exactly `expected` (target names) into bins, each within the
/// budget and listing only names of its prefix. Returns the bins' names.
fn assert_split(metadata: &Path, role: &str, expected: &[String]) -> Vec<String> {
    let parent = current(metadata, role);
    assert!(
        parent["signed"]["targets"].as_object().unwrap().is_empty(),
        "{role} lists its files through bins only"
    );
    let bins = bins_of(&parent);
    assert!(bins.len() > 1, "{role} is split: {parent:#}");
    let mut seen = Vec::new();
    for (bin, prefixes) in &bins {
        assert!(bin.starts_with(&format!("{role}-bin-")), "{bin}");
        let path = listed_file(metadata, bin);
        assert!(
            std::fs::metadata(&path).unwrap().len() <= BUDGET + 1024,
            "{bin} is within volume_bytes (and its envelope)"
        );
        let body = read_json(&path);
        for name in body["signed"]["targets"].as_object().unwrap().keys() {
            let hash = Sha256::digest(name.as_bytes()).to_hex();
            assert!(
                prefixes.iter().any(|p| hash.starts_with(p)),
                "{name} in {bin}"
            );
            seen.push(name.clone());
        }
    }
    seen.sort();
    assert_eq!(seen, expected);
    bins.into_keys().collect()
}

/// The snapshot's roles.
fn snapshot_roles(metadata: &Path) -> Vec<String> {
    let snapshot = current(metadata, "snapshot");
    snapshot["signed"]["meta"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.trim_end_matches(".json").to_owned())
        .collect()
}

#[test]
fn a_release_too_big_for_one_role_is_split_into_hash_bins_every_client_reads() {
    let r = DemoRepo::init();
    set_catalogue(&r, 1, BUDGET);
    let source = r.tmp.path().join("big");
    let files = big_release(&source);
    let names: Vec<String> = files
        .keys()
        .map(|f| format!("releases/1.0.0/armv7/{f}"))
        .collect();
    r.add_dir(&source, "1.0.0", "armv7").ok();
    r.set_policy(&policy_for("1.0.0", "")).ok();
    let all_keys = [
        example_key("targets.pem"),
        example_key("policy.pem"),
        example_key("snapshot.pem"),
        example_key("timestamp.pem"),
    ];
    r.sign_with(&all_keys).ok();
    let metadata = r.public().join("metadata");
    let slot_bins = assert_split(&metadata, "live-01", &names);

    // A device installs every file of the release, found through the bins.
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, "");
    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 1.0.0, was nothing"),
        "{run:#?}"
    );
    assert_eq!(device.running().as_deref(), Some("1.0.0"));
    for (file, sha) in &files {
        let bytes = std::fs::read(device.install_dir().join("current").join(file)).unwrap();
        assert_eq!(&Sha512::digest(&bytes).to_hex(), sha, "{file}");
    }
    // python-tuf (default configuration) and tough find every file; `repo verify` checks
    // every role and every artifact (the files and policy.xml).
    let python = tempfile::tempdir().unwrap();
    let fetched = python_tuf_fetch_in(&server.url(), &r.root_json(), python.path());
    for (file, sha) in &files {
        assert_eq!(
            fetched.get(&format!("releases/1.0.0/armv7/{file}")),
            Some(sha)
        );
    }
    assert_eq!(
        tough_targets(&r).len(),
        FILES + 1,
        "the files and policy.xml"
    );
    let run = r.verify(&[]).ok();
    assert!(
        run.stdout.contains(&format!("{} artifact", FILES + 1)),
        "{run:#?}"
    );

    // The next release pushes the big one into the history: its volume is split the same
    // way, and the slot's bins, no longer delegated, are re-signed empty and stay listed
    // (a client refuses a snapshot that drops a role it listed).
    let small = r.tmp.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("app.bin"), b"the next release\n").unwrap();
    r.add_dir(&small, "1.0.1", "armv7").ok();
    r.set_policy(&policy_for("1.0.1", "")).ok();
    r.sign_with(&all_keys).ok();
    let volume_bins = assert_split(&metadata, "volume-00001", &names);
    let slot = current(&metadata, "live-01");
    assert!(bins_of(&slot).is_empty(), "{slot:#}");
    let listed = snapshot_roles(&metadata);
    for bin in slot_bins.iter().chain(&volume_bins) {
        assert!(listed.contains(bin), "{bin} in {listed:?}");
    }
    for bin in &slot_bins {
        let body = current(&metadata, bin);
        assert!(body["signed"]["targets"].as_object().unwrap().is_empty());
    }
    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 1.0.1, was 1.0.0"),
        "{run:#?}"
    );
    let fetched = python_tuf_fetch_in(&server.url(), &r.root_json(), python.path());
    assert_eq!(fetched.len(), FILES + 2, "{fetched:?}");
    assert_eq!(tough_targets(&r).len(), FILES + 2);

    // Back to the big release, from the volume's bins.
    publish_policy(&r, &policy_for("1.0.0", ""));
    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 1.0.0, was 1.0.1"),
        "{run:#?}"
    );
    assert_eq!(device.running().as_deref(), Some("1.0.0"));

    // Retired, the volume and its bins are re-signed empty, still listed; every client
    // still accepts the repository.
    publish_policy(&r, &policy_for("1.0.1", ""));
    repo([
        "retire".as_ref(),
        r.path.as_os_str(),
        "--release".as_ref(),
        "1.0.0".as_ref(),
    ])
    .ok();
    r.sign().ok();
    for bin in &volume_bins {
        let body = current(&metadata, bin);
        assert!(body["signed"]["targets"].as_object().unwrap().is_empty());
        assert!(snapshot_roles(&metadata).contains(bin));
    }
    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 1.0.1, was 1.0.0"),
        "{run:#?}"
    );
    let fetched = python_tuf_fetch_in(&server.url(), &r.root_json(), python.path());
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert_eq!(tough_targets(&r).len(), 2);
    r.verify(&[]).ok();
}

/// Every target name `tough` 0.24 loads from the repository, each read and verified.
fn tough_targets(r: &DemoRepo) -> Vec<String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        use tough::IntoVec;
        let root = std::fs::read(r.root_json()).unwrap();
        let base = url::Url::from_directory_path(r.public()).unwrap();
        let loaded = tough::RepositoryLoader::new(
            &root,
            base.join("metadata/").unwrap(),
            base.join("targets/").unwrap(),
        )
        .load()
        .await
        .expect("tough loads the repository");
        let names: Vec<_> = loaded.all_targets().map(|(name, _)| name.clone()).collect();
        for name in &names {
            let stream = loaded.read_target(name).await.unwrap().unwrap();
            stream.into_vec().await.expect("tough verifies the bytes");
        }
        names.iter().map(|n| n.raw().to_owned()).collect()
    })
}
