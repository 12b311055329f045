//! Publication is all or nothing: `repo add`, `repo sign`, `repo timestamp` and
//! `repo export`, each run on a small full tmpfs at 20 fill levels, leave the repository
//! folder byte for byte as it was when they fail, and the retry publishes what a device
//! accepts. A versioned file, once published, never changes; `repo mirror` swaps DEST whole.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use e2e_tests::{
    example_key, fixture_release, init_args, read_json, repo, tree_state, DemoRepo, Device, Run,
    StaticServer, Tmpfs,
};

const NEW_APP: &str = "releases/2.0.0/armv7/app.bin";
const OLD_APP: &str = "releases/1.0.0/armv7/app.bin";

/// The four commands under test, each on a repository prepared for it.
#[derive(Clone, Copy, Debug)]
enum Scenario {
    /// `repo add` of release 2.0.0 to a repository with 1.0.0 published.
    Add,
    /// `repo sign` of a staged 2.0.0.
    Sign,
    /// `repo sign` of a staged root version 2 and a staged 2.0.0 at once: one
    /// publication, so a full disk leaves neither published.
    SignWithRoot,
    /// `repo timestamp` of a published repository.
    Timestamp,
    /// `repo export` of a published repository into the same tmpfs.
    Export,
}

fn sign_keys() -> Vec<PathBuf> {
    ["targets.pem", "snapshot.pem", "timestamp.pem"]
        .iter()
        .map(|k| example_key(k))
        .collect()
}

fn run_sign(path: &Path) -> Run {
    sign_with(path, &sign_keys())
}

fn sign_with(path: &Path, keys: &[PathBuf]) -> Run {
    let mut args: Vec<String> = vec!["sign".into(), path.display().to_string()];
    for k in keys {
        args.extend(["--key".into(), k.display().to_string()]);
    }
    repo(&args)
}

fn run_add(path: &Path, release: &str) -> Run {
    repo([
        "add".as_ref(),
        path.as_os_str(),
        fixture_release(release, "armv7").as_os_str(),
        "--release".as_ref(),
        release.as_ref(),
        "--platform".as_ref(),
        "armv7".as_ref(),
    ])
}

impl Scenario {
    /// The repository before the command, built in `path`.
    fn prepare(self, path: &Path) {
        repo(init_args(path, &[])).ok();
        run_add(path, "1.0.0").ok();
        run_sign(path).ok();
        if let Scenario::SignWithRoot = self {
            repo([
                "root".as_ref(),
                "edit".as_ref(),
                path.as_os_str(),
                "--expires".as_ref(),
                "500d".as_ref(),
            ])
            .ok();
        }
        if let Scenario::Sign | Scenario::SignWithRoot = self {
            run_add(path, "2.0.0").ok();
        }
    }

    /// The command under test, on the repository at `path` (exports go to `out`).
    fn run(self, path: &Path, out: &Path) -> Run {
        match self {
            Scenario::Add => run_add(path, "2.0.0"),
            Scenario::Sign => run_sign(path),
            Scenario::SignWithRoot => {
                let mut keys = sign_keys();
                keys.push(example_key("root.pem"));
                sign_with(path, &keys)
            }
            Scenario::Timestamp => repo([
                "timestamp".as_ref(),
                path.as_os_str(),
                "--key".as_ref(),
                example_key("timestamp.pem").as_os_str(),
            ]),
            Scenario::Export => repo([
                "export".as_ref(),
                path.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
            ]),
        }
    }

    /// After a successful run: a device accepts what was published.
    fn device_accepts(self, path: &Path, out: &Path) {
        let root = path.join("public/metadata/1.root.json");
        let device = Device::trusting(&root);
        match self {
            Scenario::Add | Scenario::Sign | Scenario::SignWithRoot => {
                if let Scenario::Add = self {
                    run_sign(path).ok();
                }
                let server = StaticServer::start(&path.join("public"));
                device.download(&[&server.url()], &[NEW_APP], &[]).ok();
                assert_eq!(
                    device.target(NEW_APP),
                    std::fs::read(fixture_release("2.0.0", "armv7").join("app.bin")).unwrap()
                );
                if let Scenario::SignWithRoot = self {
                    let trusted = read_json(&device.metadata_dir.join("root.json"));
                    assert_eq!(trusted["signed"]["version"], 2);
                }
            }
            Scenario::Timestamp => {
                let server = StaticServer::start(&path.join("public"));
                device.refresh(&[&server.url()]).ok();
                let trusted = read_json(&device.metadata_dir.join("timestamp.json"));
                assert_eq!(trusted["signed"]["version"], 2);
            }
            Scenario::Export => {
                let archive = out.display().to_string();
                device.download(&[&archive], &[OLD_APP], &[]).ok();
            }
        }
    }
}

/// Runs `scenario` at 20 fill levels of a tmpfs holding the repository: from no room at
/// all to twice what the command takes. Returns how many levels failed.
fn at_twenty_fill_levels(scenario: Scenario) -> usize {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    scenario.prepare(&base);
    let disk = Tmpfs::mount(&tmp.path().join("fs"), "4m");
    let path = disk.0.join("repo");
    let out = disk.0.join("site.tar.gz");
    let copy_base = || {
        disk.clear();
        let status = Command::new("cp")
            .arg("-a")
            .arg(&base)
            .arg(&path)
            .status()
            .unwrap();
        assert!(status.success());
    };

    // What the command takes when there is room.
    copy_base();
    let free = disk.free();
    scenario.run(&path, &out).ok();
    let need = free - disk.free();
    // What stays used afterwards understates a signing's peak: it also writes files it
    // removes once the publication stands (the staged release, the replaced record), so
    // its levels reach at least 64 KiB of room.
    let least = match scenario {
        Scenario::Sign | Scenario::SignWithRoot => 32 * 1024,
        _ => 4096,
    };
    let step = need.max(least) * 2 / 19;

    let mut failed = 0;
    for level in 0..20u64 {
        copy_base();
        let slack = level * step;
        let filler = disk.0.join("filler");
        std::fs::write(&filler, vec![0u8; (disk.free() - slack) as usize]).unwrap();
        let before = tree_state(&path);
        let names = disk.names();
        let run = scenario.run(&path, &out);
        if run.code != Some(0) {
            failed += 1;
            assert_eq!(
                run.code,
                Some(2),
                "{scenario:?} at {slack} bytes free: {run:#?}"
            );
            assert!(
                run.stderr.contains("No space left on device"),
                "{scenario:?} at {slack} bytes free: {run:#?}"
            );
            // Byte for byte as it was, and nothing left beside it (no temporary files).
            assert_eq!(
                before,
                tree_state(&path),
                "{scenario:?} at {slack} bytes free changed the repository: {run:#?}"
            );
            assert_eq!(names, disk.names(), "{scenario:?} at {slack} bytes free");
            std::fs::remove_file(&filler).unwrap();
            scenario.run(&path, &out).ok();
        } else {
            std::fs::remove_file(&filler).unwrap();
        }
        scenario.device_accepts(&path, &out);
    }
    eprintln!("{scenario:?}: needs {need} bytes; {failed} of 20 fill levels failed, each leaving the repository as it was");
    failed
}

#[test]
fn repo_add_on_a_full_disk_leaves_the_repository_as_it_was() {
    assert!((5..20).contains(&at_twenty_fill_levels(Scenario::Add)));
}

#[test]
fn repo_sign_on_a_full_disk_leaves_the_repository_as_it_was() {
    assert!((5..20).contains(&at_twenty_fill_levels(Scenario::Sign)));
}

#[test]
fn repo_sign_of_a_new_root_and_a_release_on_a_full_disk_publishes_both_or_neither() {
    assert!((5..20).contains(&at_twenty_fill_levels(Scenario::SignWithRoot)));
}

#[test]
fn repo_timestamp_on_a_full_disk_leaves_the_repository_as_it_was() {
    assert!((5..20).contains(&at_twenty_fill_levels(Scenario::Timestamp)));
}

#[test]
fn repo_export_on_a_full_disk_leaves_the_repository_as_it_was() {
    assert!((5..20).contains(&at_twenty_fill_levels(Scenario::Export)));
}

/// A snapshot left by a run that did not finish (what older versions of `repo sign` left
/// on a full disk) is never rewritten: the next sign publishes the version after it.
#[test]
fn a_published_snapshot_is_never_rewritten() {
    let r = DemoRepo::signed();
    r.add("2.0.0", "armv7").ok();
    let left = r.metadata("2.snapshot.json");
    std::fs::copy(r.metadata("1.snapshot.json"), &left).unwrap();
    let planted = std::fs::read(&left).unwrap();
    let run = r.sign().ok();
    assert!(
        run.stdout.contains("published snapshot version 3"),
        "{run:#?}"
    );
    assert_eq!(std::fs::read(&left).unwrap(), planted);
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    device.download(&[&server.url()], &[NEW_APP], &[]).ok();
}

/// The served path of `name` by its SHA-512, from its staged release.
fn staged_artifact_path(r: &DemoRepo, name: &str) -> PathBuf {
    let release = name.split('/').nth(1).unwrap();
    let staged = read_json(&r.path.join(format!("staged/releases/{release}.json")));
    let sha512 = staged[name]["hashes"]["sha512"]
        .as_str()
        .unwrap()
        .to_owned();
    let (dir, base) = name.rsplit_once('/').unwrap();
    r.public()
        .join("targets")
        .join(dir)
        .join(format!("{sha512}.{base}"))
}

/// An artifact name (it carries its hash) already served with other bytes is refused,
/// naming the file, and nothing anywhere beside the repository changes.
#[test]
fn an_artifact_already_served_with_other_bytes_is_refused_and_nothing_changes() {
    let r = DemoRepo::signed();
    r.add("2.0.0", "armv7").ok();
    let planted = staged_artifact_path(&r, NEW_APP);
    std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
    std::fs::write(&planted, b"not the artifact").unwrap();
    let before = tree_state(r.tmp.path());
    r.sign().fails_with(
        2,
        &format!(
            "{} is already published with other bytes, and a published versioned file never changes; nothing was written",
            planted.display()
        ),
    );
    assert_eq!(before, tree_state(r.tmp.path()));
}

/// Counts how often a reader looking at DEST found a whole copy (its timestamp and the
/// snapshot that timestamp names, read through one handle on the folder) and what else it
/// found. A copy swapped out between the two reads (being removed) is looked at again.
fn watch(dest: &Path, stop: &AtomicBool) -> (u64, Vec<String>) {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::MetadataExt;
    let (mut whole, mut broken) = (0, Vec::new());
    let id = |m: std::fs::Metadata| (m.dev(), m.ino());
    while !stop.load(Ordering::Relaxed) {
        let folder = match std::fs::File::open(dest) {
            Ok(f) => f,
            Err(e) => {
                broken.push(format!("DEST missing: {e}"));
                continue;
            }
        };
        let inside = PathBuf::from(format!("/proc/self/fd/{}/metadata", folder.as_raw_fd()));
        let found = std::fs::read(inside.join("timestamp.json"))
            .map_err(|e| format!("no timestamp.json: {e}"))
            .and_then(|bytes| {
                let timestamp: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
                let version = &timestamp["signed"]["meta"]["snapshot.json"]["version"];
                let snapshot = inside.join(format!("{version}.snapshot.json"));
                snapshot
                    .is_file()
                    .then_some(())
                    .ok_or(format!("no {version}.snapshot.json"))
            });
        match found {
            Ok(()) => whole += 1,
            Err(e) => {
                let still_dest =
                    std::fs::metadata(dest).ok().map(id) == Some(id(folder.metadata().unwrap()));
                if still_dest {
                    broken.push(e);
                }
            }
        }
    }
    (whole, broken)
}

#[test]
fn repo_mirror_dest_is_wholly_old_or_wholly_new() {
    let r = DemoRepo::signed();
    let server = StaticServer::start(&r.public());
    let dest = r.tmp.path().join("site-mirror");
    let root = r.root_json();
    let mirror = || {
        repo([
            "mirror".as_ref(),
            server.url().as_ref(),
            dest.as_os_str(),
            "--root".as_ref(),
            root.as_os_str(),
        ])
    };
    mirror().ok();

    // Upstream moves on; a reader watches DEST while the new copy replaces it.
    r.sign().ok();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (dest, stop) = (dest.clone(), stop.clone());
        std::thread::spawn(move || watch(&dest, &stop))
    };
    for _ in 0..5 {
        mirror().ok();
    }
    stop.store(true, Ordering::Relaxed);
    let (whole, broken) = watcher.join().unwrap();
    assert!(broken.is_empty(), "{broken:?} ({whole} whole looks)");
    assert!(whole > 0);
    let trusted = read_json(&dest.join("metadata/timestamp.json"));
    assert_eq!(trusted["signed"]["version"], 2);

    // A copy that does not verify leaves DEST, and everything beside it, as it was.
    r.sign().ok();
    let firmware = r.artifact("releases/1.0.0/armv7/firmware.img");
    let mut bytes = std::fs::read(&firmware).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&firmware, &bytes).unwrap();
    let before: BTreeMap<_, _> = tree_state(r.tmp.path());
    mirror().fails_with(1, "is unchanged");
    assert_eq!(before, tree_state(r.tmp.path()));
}
