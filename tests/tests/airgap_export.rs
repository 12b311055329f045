//! Air-gapped sites, what `repo export` writes: one archive of the served repository, its
//! snapshot and timestamp optionally re-signed for the archive only, only the newest
//! releases if asked, each artifact's bytes once; an export made on a copy merges back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::{
    example_key, export, random_repo, read_json, repo, tree_state, untar, DemoRepo, Device,
};

const APP: &str = "releases/1.0.0/armv7/app.bin";

/// `--key` arguments with the example snapshot and timestamp keys.
fn online_keys() -> Vec<String> {
    ["snapshot.pem", "timestamp.pem"]
        .iter()
        .flat_map(|k| ["--key".to_owned(), example_key(k).display().to_string()])
        .collect()
}

/// `signed.expires` of `name` inside `archive`.
fn expires_in_archive(archive: &Path, name: &str) -> String {
    let out = Command::new("tar")
        .arg("-xzOf")
        .arg(archive)
        .arg(format!("metadata/{name}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:#?}");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["signed"]["expires"].as_str().unwrap().to_owned()
}

#[test]
fn valid_for_re_signs_snapshot_and_timestamp_in_the_archive_only() {
    let r = DemoRepo::signed();
    let public = r.path.join("public");
    let before = tree_state(&public);
    let mut args = vec!["--valid-for".to_owned(), "60d".to_owned()];
    args.extend(online_keys());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let archive = export(&r, &args);
    // The served repository keeps its own lifetimes: nothing in public/ changed.
    assert_eq!(before, tree_state(&public));
    // Inside the archive, snapshot and timestamp both last the period.
    let in_59_days = updater::datetime::UtcTime::now()
        .plus_seconds(59 * 86_400)
        .to_string();
    let timestamp = expires_in_archive(&archive, "timestamp.json");
    assert!(timestamp > in_59_days, "{timestamp}");
    let snapshot = expires_in_archive(&archive, "2.snapshot.json");
    assert!(snapshot > in_59_days, "{snapshot}");

    // A device whose clock is 30 days ahead updates from it...
    let device = Device::trusting(&r.root_json());
    let m = archive.display().to_string();
    device
        .updater_at("+30d", &device.download_args(&[&m], &[APP], &[]))
        .ok();
    assert_eq!(device.target(APP), std::fs::read(r.artifact(APP)).unwrap());
    // ...but not from an archive exported without it, whose snapshot lasts 7 days.
    let plain = r.tmp.path().join("plain.tar.gz");
    repo([
        "export".as_ref(),
        r.path.as_os_str(),
        "--out".as_ref(),
        plain.as_os_str(),
    ])
    .ok();
    let late = Device::trusting(&r.root_json());
    let p = plain.display().to_string();
    late.updater_at("+30d", &late.download_args(&[&p], &[APP], &[]))
        .fails_with(1, "expired");

    // A timestamp alone would name the served snapshot, older than the archive's: refused.
    let before = tree_state(&r.path);
    repo([
        "timestamp".as_ref(),
        r.path.as_os_str(),
        "--key".as_ref(),
        example_key("timestamp.pem").as_os_str(),
    ])
    .fails_with(
        2,
        "an archive exported with --valid-for holds snapshot version 2, newer than the served 1",
    );
    assert_eq!(before, tree_state(&r.path));

    // The online repository's next versions go past the archive's, so the device that
    // read the archive follows the online repository afterwards.
    r.add("2.0.0", "armv7").ok();
    r.sign().ok();
    let served = read_json(&r.metadata("timestamp.json"));
    assert_eq!(served["signed"]["version"], 3);
    assert_eq!(served["signed"]["meta"]["snapshot.json"]["version"], 3);
    let server = e2e_tests::StaticServer::start(&public);
    device.refresh(&[&server.url()]).ok();
    assert_eq!(
        read_json(&device.metadata_dir.join("timestamp.json"))["signed"]["version"],
        3
    );
}

#[test]
fn valid_for_longer_than_a_role_lives_is_refused_with_each_expiry() {
    let r = DemoRepo::signed();
    let before = tree_state(&r.path);
    let out = r.tmp.path().join("site.tar.gz");
    let mut args: Vec<String> = ["export", &r.path.display().to_string(), "--out"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(out.display().to_string());
    args.extend(["--valid-for".to_owned(), "100d".to_owned()]);
    args.extend(online_keys());
    let run = repo(&args).fails_with(2, "the archive cannot stay valid for 100d (until ");
    // targets lasts 90 days: named with its real expiry; root (365 days) is not named.
    let targets = read_json(&r.metadata("1.targets.json"))["signed"]["expires"].clone();
    assert!(
        run.stderr.contains(&format!(
            "targets version 1 expires at {}",
            targets.as_str().unwrap()
        )),
        "{run:#?}"
    );
    assert!(!run.stderr.contains("root version"), "{run:#?}");
    assert_eq!(before, tree_state(&r.path));
    assert!(!out.exists());
}

#[test]
fn export_can_hold_only_the_newest_releases() {
    let r = DemoRepo::init();
    for release in ["1.0.0", "2.0.0"] {
        r.add(release, "armv7").ok();
    }
    r.sign().ok();
    let archive = export(&r, &["--releases", "1"]);
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(!listing.contains("releases/1.0.0/"), "{listing}");
    assert!(listing.contains("releases/2.0.0/"), "{listing}");
    assert!(listing.contains("metadata/1.targets.json"), "{listing}");
    let device = Device::trusting(&r.root_json());
    let m = archive.display().to_string();
    device
        .download(&[&m], &["releases/2.0.0/armv7/app.bin"], &[])
        .ok();
    device
        .download(&[&m], &[APP], &[])
        .fails_with(1, &format!("{APP}: not found on any mirror ({m}/targets/"));
}

#[test]
fn export_writes_each_artifact_once_and_its_other_names_as_hard_links() {
    use std::os::unix::fs::MetadataExt as _;
    let r = random_repo(&[3 << 20, 2 << 20, 1 << 20]);
    // Every artifact is published under 3 names (sha512, its sha256 twin, tough's name).
    let mut inodes = BTreeMap::new();
    for entry in walk(&r.public().join("targets")) {
        let meta = std::fs::metadata(&entry).unwrap();
        assert_eq!(meta.nlink(), 3, "{}", entry.display());
        inodes.insert(meta.ino(), meta.len());
    }
    let artifact_bytes: u64 = inodes.values().sum();
    let archive = export(&r, &[]);
    let archive_bytes = std::fs::metadata(&archive).unwrap().len();
    let ratio = archive_bytes as f64 / artifact_bytes as f64;
    println!(
        "artifacts: {} files, {artifact_bytes} bytes; archive: {archive_bytes} bytes; ratio {ratio:.4}",
        inodes.len()
    );
    assert!(ratio <= 1.05, "archive is {ratio:.3}x the artifacts");

    // Metadata comes first; every other name of a file is a hard link to its first name.
    let listing = Command::new("tar")
        .arg("-tvzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let kinds: Vec<char> = listing.lines().map(|l| l.chars().next().unwrap()).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == 'h').count(),
        2 * inodes.len(),
        "{listing}"
    );
    let first_target = listing
        .lines()
        .position(|l| l.contains(" targets/"))
        .unwrap();
    assert!(
        listing
            .lines()
            .skip(first_target)
            .all(|l| !l.contains(" metadata/")),
        "{listing}"
    );

    // A device downloads every artifact from the archive itself.
    let device = Device::trusting(&r.root_json());
    let m = archive.display().to_string();
    let names: Vec<String> = (0..3)
        .map(|i| format!("releases/1.0.0/armv7/f{i}.bin"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    device.download(&[&m], &names, &[]).ok();
    for name in &names {
        assert_eq!(
            device.target(name),
            std::fs::read(r.artifact(name)).unwrap()
        );
    }

    // python-tuf reads the archive once tar has unpacked it.
    let unpacked = untar(&archive, &r.tmp.path().join("unpacked"));
    let server = e2e_tests::StaticServer::start(&unpacked);
    let got = e2e_tests::python_tuf_fetch(&server.url(), &r.root_json());
    for name in &names {
        let want = updater::hash::Sha512::digest(&std::fs::read(r.artifact(name)).unwrap());
        assert_eq!(got.get(*name), Some(&want.to_hex()), "{name}: {got:?}");
    }
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn an_export_made_on_a_copy_is_merged_back_with_its_versions() {
    let r = DemoRepo::signed();
    let copy = r.tmp.path().join("copy");
    let status = Command::new("cp")
        .arg("-a")
        .arg(&r.path)
        .arg(&copy)
        .status()
        .unwrap();
    assert!(status.success());
    let out = r.tmp.path().join("from-copy.tar.gz");
    let mut args: Vec<String> = ["export", &copy.display().to_string(), "--out"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.push(out.display().to_string());
    args.extend(["--valid-for".to_owned(), "30d".to_owned()]);
    args.extend(online_keys());
    repo(&args).ok();
    // Merged back, the next online versions go past the archive's (snapshot 2, timestamp 2).
    repo(["merge".as_ref(), r.path.as_os_str(), copy.as_os_str()]).ok();
    r.add("2.0.0", "armv7").ok();
    r.sign().ok();
    let served = read_json(&r.metadata("timestamp.json"));
    assert_eq!(served["signed"]["version"], 3);
    assert_eq!(served["signed"]["meta"]["snapshot.json"]["version"], 3);
}
