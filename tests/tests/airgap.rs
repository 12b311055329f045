//! Air-gapped sites: `repo export` writes one archive; devices update from the archive
//! itself or from its unpacked copy with the same verification; tampered archives are
//! refused with nothing unpacked into place.

use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::{example_key, read_json, repo, DemoRepo, Device};

const APP: &str = "releases/1.0.0/armv7/app.bin";

fn export(r: &DemoRepo, extra: &[&str]) -> PathBuf {
    let out = r.tmp.path().join("site.tar.gz");
    let mut args: Vec<std::ffi::OsString> = vec![
        "export".into(),
        r.path.clone().into(),
        "--out".into(),
        out.clone().into(),
    ];
    args.extend(extra.iter().map(|s| s.into()));
    repo(args).ok();
    out
}

/// Rewrites the archive with python's tarfile: `script` gets `members` (name -> bytes).
fn rewrite(archive: &Path, script: &str) {
    let code = format!(
        "import io, tarfile\nsrc = tarfile.open({a:?}, 'r:gz')\nmembers = {{m.name: src.extractfile(m).read() for m in src.getmembers() if m.isfile()}}\nsrc.close()\n{script}\nout = tarfile.open({a:?}, 'w:gz')\nfor name, data in members.items():\n    info = tarfile.TarInfo(name); info.size = len(data); out.addfile(info, io.BytesIO(data))\nout.close()\n",
        a = archive.display().to_string()
    );
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:#?}");
}

fn download_from(device: &Device, mirror: &Path) -> e2e_tests::Run {
    let m = mirror.display().to_string();
    device.download(&[&m], &[APP], &[])
}

#[test]
fn devices_update_from_the_archive_and_from_its_unpacked_copy() {
    let r = DemoRepo::signed();
    let timestamp = example_key("timestamp.pem").display().to_string();
    let archive = export(&r, &["--valid-for", "90d", "--timestamp-key", &timestamp]);
    // The timestamp now lasts 90 days, so the site keeps its expiry checks.
    let expires = read_json(&r.metadata("timestamp.json"))["signed"]["expires"].clone();
    let in_90_days = updater::datetime::UtcTime::now().plus_seconds(89 * 86_400);
    assert!(
        expires.as_str().unwrap() > in_90_days.to_string().as_str(),
        "{expires}"
    );

    let from_archive = Device::trusting(&r.root_json());
    download_from(&from_archive, &archive).ok();
    assert_eq!(
        from_archive.target(APP),
        std::fs::read(r.artifact(APP)).unwrap()
    );

    let unpacked = r.tmp.path().join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(status.success());
    let from_copy = Device::trusting(&r.root_json());
    download_from(&from_copy, &unpacked).ok();
    assert_eq!(
        from_copy.target(APP),
        std::fs::read(r.artifact(APP)).unwrap()
    );

    // No private key and nothing staged went into the archive.
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&archive)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing
            .lines()
            .all(|l| l.starts_with("metadata/") || l.starts_with("targets/")),
        "{listing}"
    );
    assert!(!listing.contains(".pem"));
}

#[test]
fn tampered_archives_are_refused_and_the_device_is_unchanged() {
    let r = DemoRepo::signed();
    let archive = export(&r, &[]);
    let original = std::fs::read(&archive).unwrap();
    let sha256 = updater::hash::Sha256::digest(&std::fs::read(r.artifact(APP)).unwrap()).to_hex();
    let device = Device::trusting(&r.root_json());
    let before = device.state();

    // A flipped byte in the compressed stream.
    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x40;
    std::fs::write(&archive, &flipped).unwrap();
    download_from(&device, &archive).fails_with(1, "refused: bundle");
    assert_eq!(before, device.state());

    // A member with "..".
    std::fs::write(&archive, &original).unwrap();
    rewrite(&archive, "members['../escape.txt'] = b'x'");
    download_from(&device, &archive).fails_with(1, "\"..\" is not allowed");
    assert_eq!(before, device.state());
    assert!(!r.tmp.path().join("escape.txt").exists());

    // An added member: a second root nobody trusted signed.
    std::fs::write(&archive, &original).unwrap();
    rewrite(
        &archive,
        "import json\nroot = json.loads(members['metadata/1.root.json'])\nroot['signed']['version'] = 2\nmembers['metadata/2.root.json'] = json.dumps(root).encode()",
    );
    download_from(&device, &archive).fails_with(1, "root: 0 of 1 required signatures are valid");
    assert_eq!(before, device.state());

    // A changed artifact inside the archive.
    std::fs::write(&archive, &original).unwrap();
    rewrite(
        &archive,
        &format!("members['targets/releases/1.0.0/armv7/{sha256}.app.bin'] = b'evil'"),
    );
    download_from(&device, &archive).fails_with(1, "length is 4 bytes");
    assert!(std::fs::read_dir(&device.target_dir).unwrap().all(|e| {
        let name = e.unwrap().file_name();
        !name.to_string_lossy().ends_with("app.bin")
    }));
}

#[test]
fn repo_mirror_copies_a_verified_repository_and_refuses_a_tampered_one() {
    use std::io::Write as _;
    let r = DemoRepo::signed();
    let server = e2e_tests::StaticServer::start(&r.public());
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
    let run = mirror().ok();
    assert!(run.stdout.contains("8 artifacts, all verified"), "{run:#?}");
    let device = Device::trusting(&r.root_json());
    download_from(&device, &dest).ok();
    assert_eq!(device.target(APP), std::fs::read(r.artifact(APP)).unwrap());

    // Upstream moves on, and one artifact gets a flipped byte: the mirror refuses it all.
    r.sign().ok();
    let before = e2e_tests::tree_state(&dest);
    let firmware = r.artifact("releases/1.0.0/armv7/firmware.img");
    let mut bytes = std::fs::read(&firmware).unwrap();
    bytes[100] ^= 1;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&firmware)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    mirror().fails_with(1, "is unchanged");
    assert_eq!(before, e2e_tests::tree_state(&dest));
    let leftovers: Vec<_> = std::fs::read_dir(r.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".site-mirror"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
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
        .fails_with(1, "not found on any mirror");
}
