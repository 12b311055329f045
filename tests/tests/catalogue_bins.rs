//! A release too big for one role: its slot delegates its files to hash bins
//! (`path_hash_prefixes`), each within `volume_bytes`; the same once it folds into a
//! volume. Devices, python-tuf (keeping its trusted metadata between signings), `tough` and
//! `repo verify` read every shape the release goes through: live in bins, folded into a
//! volume in bins (the slot's bins re-signed empty and still listed), retired.

use std::collections::BTreeMap;
use std::path::Path;

use e2e_tests::{
    apply, listed_file, policy_for, publish_policy, python_tuf_fetch_in, read_json, repo,
    tough_read, tree_state, DemoRepo, Device, StaticServer,
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
            std::fs::metadata(&path).unwrap().len() <= BUDGET,
            "{bin} is within volume_bytes"
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

/// What the phases of the test share: the repository, its server, a device, the folder
/// where python-tuf keeps its trusted metadata, and the big release's files.
struct Scene {
    r: DemoRepo,
    server: StaticServer,
    device: Device,
    config: std::path::PathBuf,
    python: tempfile::TempDir,
    /// File (relative to the release folder) -> SHA-512.
    files: BTreeMap<String, String>,
    /// The big release's target names.
    names: Vec<String>,
}

impl Scene {
    fn metadata(&self) -> std::path::PathBuf {
        self.r.public().join("metadata")
    }

    fn apply_says(&self, what: &str) {
        let run = apply(&self.device, &self.config).ok();
        assert!(run.stdout.contains(what), "{run:#?}");
    }

    fn python_tuf(&self) -> BTreeMap<String, String> {
        python_tuf_fetch_in(&self.server.url(), &self.r.root_json(), self.python.path())
    }
}

/// A budget no number of bins can keep (each bin holds its envelope alone): `repo sign`
/// fails with the reason before writing anything.
#[test]
fn a_release_not_even_4096_bins_can_hold_is_refused_and_changes_nothing() {
    let r = DemoRepo::init();
    set_catalogue(&r, 1, 1100);
    let source = r.tmp.path().join("big");
    big_release(&source);
    r.add_dir(&source, "1.0.0", "armv7").ok();
    let before = tree_state(r.tmp.path());
    r.sign_all().fails_with(
        2,
        &format!(
            "role live-01 lists {FILES} files: even in 4096 bins one would pass volume_bytes \
             (1100 bytes); nothing was published; split the release"
        ),
    );
    assert_eq!(tree_state(r.tmp.path()), before);
}

#[test]
fn a_release_too_big_for_one_role_is_split_into_hash_bins_every_client_reads() {
    let (scene, slot_bins) = live_in_bins();
    let volume_bins = folded_into_a_volume(&scene, &slot_bins);
    retired(&scene, &volume_bins);
}

/// Release 1.0.0 published in its slot's bins: a device installs every file, python-tuf
/// (default configuration) and tough find every file, `repo verify` checks every role and
/// artifact. Returns the scene and the slot's bins.
fn live_in_bins() -> (Scene, Vec<String>) {
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
    r.sign_all().ok();
    let slot_bins = assert_split(&r.public().join("metadata"), "live-01", &names);

    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, "");
    let python = tempfile::tempdir().unwrap();
    let scene = Scene {
        r,
        server,
        device,
        config,
        python,
        files,
        names,
    };
    scene.apply_says("installed 1.0.0, was nothing");
    assert_eq!(scene.device.running().as_deref(), Some("1.0.0"));
    let current = scene.device.install_dir().join("current");
    let fetched = scene.python_tuf();
    for (file, sha) in &scene.files {
        let bytes = std::fs::read(current.join(file)).unwrap();
        assert_eq!(&Sha512::digest(&bytes).to_hex(), sha, "{file}");
        let name = format!("releases/1.0.0/armv7/{file}");
        assert_eq!(fetched.get(&name), Some(sha), "python-tuf: {name}");
    }
    let with_policy = FILES + 1;
    assert_eq!(tough_targets(&scene.r).len(), with_policy);
    let run = scene.r.verify(&[]).ok();
    assert!(
        run.stdout.contains(&format!("{with_policy} artifact")),
        "{run:#?}"
    );
    (scene, slot_bins)
}

/// The next release pushes the big one into the history: its volume is split the same
/// way, and the slot's bins, no longer delegated, are re-signed empty and stay listed (a
/// client refuses a snapshot that drops a role it listed). The device moves on, then back
/// to the big release from the volume's bins. Returns the volume's bins.
fn folded_into_a_volume(scene: &Scene, slot_bins: &[String]) -> Vec<String> {
    let r = &scene.r;
    let metadata = scene.metadata();
    let small = r.tmp.path().join("small");
    std::fs::create_dir_all(&small).unwrap();
    std::fs::write(small.join("app.bin"), b"the next release\n").unwrap();
    r.add_dir(&small, "1.0.1", "armv7").ok();
    r.set_policy(&policy_for("1.0.1", "")).ok();
    r.sign_all().ok();
    let volume_bins = assert_split(&metadata, "volume-00001", &scene.names);
    let slot = current(&metadata, "live-01");
    assert!(bins_of(&slot).is_empty(), "{slot:#}");
    let listed = snapshot_roles(&metadata);
    for bin in slot_bins.iter().chain(&volume_bins) {
        assert!(listed.contains(bin), "{bin} in {listed:?}");
    }
    for bin in slot_bins {
        let body = current(&metadata, bin);
        assert!(body["signed"]["targets"].as_object().unwrap().is_empty());
    }
    scene.apply_says("installed 1.0.1, was 1.0.0");
    let fetched = scene.python_tuf();
    assert_eq!(fetched.len(), FILES + 2, "{fetched:?}");
    assert_eq!(tough_targets(r).len(), FILES + 2);

    publish_policy(r, &policy_for("1.0.0", ""));
    scene.apply_says("installed 1.0.0, was 1.0.1");
    assert_eq!(scene.device.running().as_deref(), Some("1.0.0"));
    volume_bins
}

/// Retired, the volume and its bins are re-signed empty, still listed; every client still
/// accepts the repository.
fn retired(scene: &Scene, volume_bins: &[String]) {
    let r = &scene.r;
    let metadata = scene.metadata();
    publish_policy(r, &policy_for("1.0.1", ""));
    repo([
        "retire".as_ref(),
        r.path.as_os_str(),
        "--release".as_ref(),
        "1.0.0".as_ref(),
    ])
    .ok();
    r.sign().ok();
    for bin in volume_bins {
        let body = current(&metadata, bin);
        assert!(body["signed"]["targets"].as_object().unwrap().is_empty());
        assert!(snapshot_roles(&metadata).contains(bin));
    }
    scene.apply_says("installed 1.0.1, was 1.0.0");
    let fetched = scene.python_tuf();
    assert_eq!(fetched.len(), 2, "{fetched:?}");
    assert_eq!(tough_targets(r).len(), 2);
    r.verify(&[]).ok();
}

/// Every target name `tough` 0.24 lists, each read and verified.
fn tough_targets(r: &DemoRepo) -> Vec<String> {
    tough_read(r, None).listed
}
