//! Independent TUF clients with their default limits read a catalogue of 200,000 artifacts
//! (issue 13, acceptance 3): python-tuf (an `Updater` built without a config, over HTTP on
//! 127.0.0.1) and `tough` 0.24 (`Limits::default()`, from the same folder) refresh and
//! download a file of the newest release (in its live slot) and one of the oldest (in a
//! volume under `history`), and get the bytes `repo add` was given. A client refusing is
//! this test failing with the client's message.
//!
//! The catalogue is built once, with the real `repo` as an admin would use it: `repo add`
//! per release of 100 files, `repo sign` every [`RELEASES_PER_SIGN`] releases. It lives on a
//! tmpfs: on a shared disk the build's time is the two syncs per command, which say
//! nothing about what the clients read. Build and client times are
//! printed (`--nocapture`), never asserted. `tough` loads every role when it loads the
//! repository (all 200,000 targets, each matched against its delegation's paths), which
//! is most of its time.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use e2e_tests::{
    init_args, listed_file, python_tuf_get, read_json, repo, tough_read, DemoRepo, StaticServer,
    Tmpfs,
};
use tempfile::TempDir;
use updater::hash::Sha512;

/// Releases `1.0.0` .. `1.0.1999`, each of [`FILES`] files: 200,000 artifacts.
const RELEASES: usize = 2000;
/// Files per release, ten per folder: `dirNNN/fileNNNNNN.bin`.
const FILES: usize = 100;
/// Releases staged between two `repo sign`s, as a nightly admin catching up would.
const RELEASES_PER_SIGN: usize = 100;
/// The file of each release the clients download: `dir004/file000042.bin`.
const FILE_INDEX: usize = 42;

/// The bytes of file `i` of release `release`: different for every artifact, so a client
/// handed the wrong artifact cannot match.
fn content(release: &str, i: usize) -> String {
    format!("{release} {i}\n")
}

fn release(n: usize) -> String {
    format!("1.0.{n}")
}

fn target_name(release: &str) -> String {
    let (dir, file) = (FILE_INDEX / 10, FILE_INDEX);
    format!("releases/{release}/x86_64/dir{dir:03}/file{file:06}.bin")
}

/// The catalogue on its own tmpfs; unmounted first on drop (the repository's files go
/// with it).
struct Catalogue {
    _fs: Tmpfs,
    repo: DemoRepo,
    _mount_point: TempDir,
}

/// Writes release `release`'s files into `dir` (the same names every release).
fn write_release(dir: &Path, release: &str) {
    for i in 0..FILES {
        let folder = dir.join(format!("dir{:03}", i / 10));
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("file{i:06}.bin")), content(release, i)).unwrap();
    }
}

fn build_catalogue() -> Catalogue {
    let mount_point = tempfile::tempdir().unwrap();
    let fs = Tmpfs::mount(&mount_point.path().join("fs"), "8g");
    let tmp = tempfile::tempdir_in(&fs.0).unwrap();
    let path = tmp.path().join("repo");
    repo(init_args(&path, &[])).ok();
    let repo = DemoRepo { tmp, path };
    let folder = repo.tmp.path().join("release");
    for n in 0..RELEASES {
        write_release(&folder, &release(n));
        repo.add_dir(&folder, &release(n), "x86_64").ok();
        if (n + 1) % RELEASES_PER_SIGN == 0 || n + 1 == RELEASES {
            repo.sign().ok();
        }
    }
    Catalogue {
        _fs: fs,
        repo,
        _mount_point: mount_point,
    }
}

/// Every role the current snapshot lists, with the size of its served file.
fn role_sizes(metadata: &Path) -> BTreeMap<String, u64> {
    let snapshot = read_json(&listed_file(metadata, "snapshot"));
    let meta = snapshot["signed"]["meta"].as_object().unwrap();
    meta.keys()
        .map(|file| {
            let role = file.strip_suffix(".json").unwrap();
            let size = std::fs::metadata(listed_file(metadata, role))
                .unwrap()
                .len();
            (role.to_owned(), size)
        })
        .collect()
}

/// Prints what the clients' default limits are measured against (the largest role, the
/// snapshot, the number of roles), and checks the largest is within `volume_bytes`.
fn print_sizes(repo: &DemoRepo) {
    let metadata = repo.public().join("metadata");
    let sizes = role_sizes(&metadata);
    let (largest, largest_size) = sizes.iter().max_by_key(|(_, s)| **s).unwrap();
    let volumes = sizes.keys().filter(|r| r.starts_with("volume-")).count();
    let snapshot = std::fs::metadata(listed_file(&metadata, "snapshot"))
        .unwrap()
        .len();
    println!(
        "catalogue: {} roles in the snapshot ({volumes} volumes); largest {largest} \
         {largest_size} bytes; snapshot {snapshot} bytes; top-level targets {} bytes",
        sizes.len(),
        sizes["targets"],
    );
    // `volume_bytes` (default 4 MiB) bounds every role `repo` signs: what python-tuf's
    // default `targets_max_length` (5,000,000) would allow were a snapshot to list no length.
    assert!(
        *largest_size <= 4 * 1024 * 1024,
        "{largest} is {largest_size} bytes, over volume_bytes"
    );
}

/// The name of the role (as its served file name says) that lists `name`.
fn listing_role(repo: &DemoRepo, name: &str) -> String {
    let file = repo.role_listing(name);
    let file = file.file_name().unwrap().to_string_lossy().into_owned();
    let (_, role) = file.split_once('.').unwrap();
    role.strip_suffix(".json").unwrap().to_owned()
}

#[test]
fn python_tuf_and_tough_with_default_limits_read_a_200000_artifact_catalogue() {
    let start = Instant::now();
    let catalogue = build_catalogue();
    let repo = &catalogue.repo;
    println!(
        "built {} artifacts ({RELEASES} releases, `repo sign` every {RELEASES_PER_SIGN}) in {:.1} s",
        RELEASES * FILES,
        start.elapsed().as_secs_f64()
    );
    print_sizes(repo);

    let (oldest, newest) = (release(0), release(RELEASES - 1));
    let names = [target_name(&newest), target_name(&oldest)];
    // The layout this test is about: the newest release in a slot of its own, the oldest
    // folded into a volume under the history.
    assert!(listing_role(repo, &names[0]).starts_with("live-"));
    assert!(listing_role(repo, &names[1]).starts_with("volume-"));
    let expected: Vec<String> = [&newest, &oldest]
        .iter()
        .map(|r| content(r, FILE_INDEX))
        .collect();

    let server = StaticServer::start(&repo.public());
    let start = Instant::now();
    let (config, got) = python_tuf_get(&server.url(), &repo.root_json(), &names);
    println!(
        "python-tuf (default config {config}): refresh and 2 downloads in {:.1} s",
        start.elapsed().as_secs_f64()
    );
    for (name, bytes) in names.iter().zip(&expected) {
        assert_eq!(
            got.get(name),
            Some(&Sha512::digest(bytes.as_bytes()).to_hex()),
            "{name}"
        );
    }

    let start = Instant::now();
    let tough = tough_read(repo, Some(&names));
    let listed = tough.listed;
    println!(
        "tough 0.24 (default limits {:?}): load, list {} targets and 2 reads in {:.1} s",
        tough::Limits::default(),
        listed.len(),
        start.elapsed().as_secs_f64()
    );
    for (name, want) in names.iter().zip(&expected) {
        assert_eq!(tough.read[name], want.as_bytes(), "{name}");
    }
    // Every artifact, and besides them only what the repository lists of its own.
    let releases = listed.iter().filter(|n| n.starts_with("releases/")).count();
    assert_eq!(releases, RELEASES * FILES);
    let others: Vec<&String> = listed
        .iter()
        .filter(|n| !n.starts_with("releases/"))
        .collect();
    assert!(others.iter().all(|n| *n == "policy.xml"), "{others:?}");
}
