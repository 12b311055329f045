//! Air-gapped sites, what devices do with an archive: update from the archive itself (read
//! in place, never unpacked) or from its unpacked copy with the same verification; tampered
//! and hostile archives are refused with nothing written anywhere. `repo mirror` copies a
//! repository only once it verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e_tests::{export, random_repo, repo, tree_state, untar, DemoRepo, Device, Run};

const APP: &str = "releases/1.0.0/armv7/app.bin";

/// Rewrites the archive with python's tarfile: `script` gets `members` (name -> bytes).
fn rewrite(archive: &Path, script: &str) {
    let code = format!(
        "import io, tarfile\nsrc = tarfile.open({a:?}, 'r:gz')\nmembers = {{m.name: src.extractfile(m).read() for m in src.getmembers() if m.isfile() or m.islnk()}}\nsrc.close()\n{script}\nout = tarfile.open({a:?}, 'w:gz')\nfor name, data in members.items():\n    info = tarfile.TarInfo(name); info.size = len(data); out.addfile(info, io.BytesIO(data))\nout.close()\n",
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
    let archive = export(&r, &[]);
    let from_archive = Device::trusting(&r.root_json());
    download_from(&from_archive, &archive).ok();
    assert_eq!(
        from_archive.target(APP),
        std::fs::read(r.artifact(APP)).unwrap()
    );

    let unpacked = untar(&archive, &r.tmp.path().join("unpacked"));
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
    download_from(&device, &archive).fails_with(
        1,
        &format!(
            "{}: refused: not a readable tar.gz archive",
            archive.display()
        ),
    );
    assert_eq!(before, device.state());

    // A member with "..": it would land beside the archive, or beside the updater's
    // TMPDIR (where older updaters unpacked archives): compare that whole tree.
    std::fs::write(&archive, &original).unwrap();
    rewrite(&archive, "members['../escape.txt'] = b'x'");
    let tmpdir = r.tmp.path().join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    let around = tree_state(r.tmp.path());
    let run = run_watching(
        updater_command(&device, &tmpdir, &download_args(&archive, &device)),
        &tmpdir,
    );
    run.run.fails_with(
        1,
        &format!(
            "{}: refused: archive member \"../escape.txt\": \"..\" is not allowed",
            archive.display()
        ),
    );
    assert!(run.seen_in_tmpdir.is_empty(), "{:?}", run.seen_in_tmpdir);
    assert_eq!(around, tree_state(r.tmp.path()));
    assert_eq!(before, device.state());

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

/// `updater --metadata-dir M ARGS` for `device`, with `tmpdir` as its private TMPDIR.
fn updater_command(device: &Device, tmpdir: &Path, args: &[String]) -> Command {
    let mut command = Command::new(e2e_tests::bin("updater"));
    command
        .env("TMPDIR", tmpdir)
        .arg("--metadata-dir")
        .arg(&device.metadata_dir)
        .args(args);
    command
}

/// Arguments of a download of `APP` from the archive (or folder) `mirror`.
fn download_args(mirror: &Path, device: &Device) -> Vec<String> {
    download_args_of(mirror, device, APP)
}

/// Arguments of a download of target `name` from the archive (or folder) `mirror`.
fn download_args_of(mirror: &Path, device: &Device, name: &str) -> Vec<String> {
    let m = mirror.display();
    vec![
        "--metadata-url".into(),
        format!("{m}/metadata"),
        "--target-base-url".into(),
        format!("{m}/targets"),
        "--target-name".into(),
        name.into(),
        "--target-dir".into(),
        device.target_dir.display().to_string(),
        "download".into(),
    ]
}

/// Arguments of a refresh from the archive `mirror`.
fn refresh_args(mirror: &Path) -> Vec<String> {
    vec![
        "--metadata-url".into(),
        format!("{}/metadata", mirror.display()),
        "refresh".into(),
    ]
}

/// A run, and every path that existed under the watched folder at any moment of it.
struct Watched {
    run: Run,
    seen_in_tmpdir: BTreeSet<String>,
}

/// Runs `command` (two minutes at most), listing `watch` over and over while it runs.
fn run_watching(mut command: Command, watch: &Path) -> Watched {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut seen = BTreeSet::new();
    while child.try_wait().unwrap().is_none() {
        seen.extend(paths_under(watch));
        if Instant::now() > deadline {
            child.kill().unwrap();
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    seen.extend(paths_under(watch));
    let out = child.wait_with_output().unwrap();
    Watched {
        run: Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        },
        seen_in_tmpdir: seen,
    }
}

/// Every path under `dir`, tolerating entries that vanish while it looks.
fn paths_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push(path.clone());
            }
            found.insert(path.strip_prefix(dir).unwrap().display().to_string());
        }
    }
    found
}

/// Where an archive could reach: one folder holding the device, the USB stick with the
/// archive and the updater's private TMPDIR, so that one tree covers the parent of the
/// device's folders, TMPDIR and TMPDIR's parent.
struct Site {
    world: tempfile::TempDir,
    device: Device,
    tmpdir: PathBuf,
    usb: PathBuf,
}

impl Site {
    fn new(root: &Path) -> Self {
        let world = tempfile::tempdir().unwrap();
        let tmpdir = world.path().join("tmp");
        let usb = world.path().join("usb");
        std::fs::create_dir(&tmpdir).unwrap();
        std::fs::create_dir(&usb).unwrap();
        let metadata_dir = world.path().join("device/metadata");
        let target_dir = world.path().join("device/targets");
        std::fs::create_dir_all(&metadata_dir).unwrap();
        std::fs::create_dir_all(&target_dir).unwrap();
        let device = Device {
            tmp: tempfile::tempdir().unwrap(),
            metadata_dir,
            target_dir,
            tmpdir: Some(tmpdir.clone()),
        };
        device.updater(&["init".as_ref(), root.as_os_str()]).ok();
        Site {
            world,
            device,
            tmpdir,
            usb,
        }
    }

    /// Everything in the world but the device's metadata folder.
    fn outside_metadata(&self) -> BTreeMap<String, (u32, Vec<u8>)> {
        let mut state = tree_state(self.world.path());
        state.retain(|name, _| !name.starts_with("device/metadata"));
        state
    }

    fn run(&self, args: &[String]) -> Watched {
        run_watching(
            updater_command(&self.device, &self.tmpdir, args),
            &self.tmpdir,
        )
    }
}

/// Writes `out`: the members of the archive `source` (hard links as copies) after the
/// members `script` adds with `reg(name, bytes)` and `sym(name, target)`, all but those
/// whose name `keep(name)` refuses.
fn hostile_archive(source: &Path, out: &Path, script: &str, keep: &str) {
    e2e_tests::run_python(&format!(
        "import io, json, tarfile\n\
         src = tarfile.open({s:?}, 'r:gz')\n\
         members = [(m.name, src.extractfile(m).read()) for m in src.getmembers() if m.isfile() or m.islnk()]\n\
         out = tarfile.open({o:?}, 'w:gz')\n\
         def reg(name, data):\n    info = tarfile.TarInfo(name); info.size = len(data); out.addfile(info, io.BytesIO(data))\n\
         def sym(name, target):\n    info = tarfile.TarInfo(name); info.type = tarfile.SYMTYPE; info.linkname = target; out.addfile(info)\n\
         def keep(name, data):\n    return {keep}\n\
         {script}\n\
         for name, data in members:\n    if keep(name, data): reg(name, data)\n\
         out.close()\n",
        s = source.display().to_string(),
        o = out.display().to_string(),
    ));
}

/// A script for [`hostile_archive`]: the timestamp's signature with one character changed.
const FORGE: &str = "import json\n\
        def keep(name, data):\n    return name != 'metadata/timestamp.json'\n\
        ts = json.loads(dict(members)['metadata/timestamp.json'])\n\
        sig = ts['signatures'][0]['sig']\n\
        ts['signatures'][0]['sig'] = ('0' if sig[0] != '0' else '1') + sig[1:]\n\
        reg('metadata/timestamp.json', json.dumps(ts).encode())";

/// One hostile archive: what, the script, which members to keep, the exit code and the message.
type Case = (&'static str, String, &'static str, i32, String);

/// The hostile archives, and what refusing each must say; `world` is the folder around the
/// site, where an absolute member would land.
fn hostile_cases(archive: &Path, world: &str) -> Vec<Case> {
    vec![
        (
            "metadata missing",
            String::new(),
            "not name.startswith('metadata/')",
            // Nothing refused: the archive has no such file, and the message says so
            // (`refresh` and `download` exit 1 for any failure, as the TUF client protocol has it).
            1,
            format!(
                "refresh could not fetch the metadata: timestamp.json: not found on any mirror \
                 ({}/metadata/timestamp.json: not found): is the metadata URL right? It names \
                 the folder that holds timestamp.json, usually ending in /metadata (check \
                 --metadata-url, or [repository] metadata in the config)",
                archive.display()
            ),
        ),
        (
            "forged timestamp",
            FORGE.into(),
            "True",
            1,
            "refresh refused: timestamp: 0 of 1 required signatures are valid \
             (key 81319263: the signature does not match the signed bytes)"
                .into(),
        ),
        (
            "symlink chain climbing out",
            "sym('p/q', '..')\nsym('p/q/u1', '..')\nreg('p/q/u1/x', b'escaped')".into(),
            "True",
            1,
            format!(
                "{}: refused: archive member \"p/q\": symbolic links are not allowed",
                archive.display()
            ),
        ),
        (
            "\"..\" member",
            "reg('../escape.txt', b'escaped')".into(),
            "True",
            1,
            format!(
                "{}: refused: archive member \"../escape.txt\": \"..\" is not allowed",
                archive.display()
            ),
        ),
        (
            "absolute member",
            format!("reg({:?}, b'escaped')", format!("{world}/abs.txt")),
            "True",
            1,
            format!(
                "{}: refused: archive member \"{world}/abs.txt\": absolute names are not allowed",
                archive.display()
            ),
        ),
    ]
}

/// `args` against the hostile archive are refused with exactly `message`, using no TMPDIR
/// and writing nothing outside the device's metadata folder.
fn assert_refused_writing_nothing(
    site: &Site,
    args: &[String],
    what: &str,
    code: i32,
    message: &str,
) {
    let before = site.outside_metadata();
    let watched = site.run(args);
    let run = watched.run.fails_with(code, message);
    assert_eq!(run.stderr, format!("updater: {message}\n"), "{what}");
    assert!(
        watched.seen_in_tmpdir.is_empty(),
        "{what}: the updater used TMPDIR: {:?}",
        watched.seen_in_tmpdir
    );
    assert_eq!(
        before,
        site.outside_metadata(),
        "{what}: something was written outside the device's metadata folder: {run:#?}"
    );
}

#[test]
fn unsigned_archives_are_never_unpacked_refused_archives_write_nothing() {
    let r = DemoRepo::signed();
    let exported = export(&r, &[]);
    let site = Site::new(&r.root_json());
    let archive = site.usb.join("site.tar.gz");
    let world = site.world.path().display().to_string();
    for (what, script, keep, code, message) in hostile_cases(&archive, &world) {
        hostile_archive(&exported, &archive, &script, keep);
        for args in [
            refresh_args(&archive),
            download_args(&archive, &site.device),
        ] {
            assert_refused_writing_nothing(&site, &args, what, code, &message);
        }
    }
}

#[test]
fn an_archive_mirror_uses_no_temporary_space() {
    let r = random_repo(&[24 << 20]);
    let exported = export(&r, &[]);
    let site = Site::new(&r.root_json());
    let archive = site.usb.join("site.tar.gz");
    std::fs::rename(&exported, &archive).unwrap();
    let before = site.outside_metadata();
    let name = "releases/1.0.0/armv7/f0.bin";
    // TMPDIR is listed over and over while the 24 MB download runs, and compared after.
    let watched = site.run(&download_args_of(&archive, &site.device, name));
    watched.run.ok();
    assert!(
        watched.seen_in_tmpdir.is_empty(),
        "the updater used TMPDIR: {:?}",
        watched.seen_in_tmpdir
    );
    assert_eq!(
        std::fs::read(
            site.device
                .target_dir
                .join(updater::names::percent_encode(name, false))
        )
        .unwrap(),
        std::fs::read(r.artifact(name)).unwrap()
    );
    // Only the device's folders changed: the stick, TMPDIR and their parent did not.
    let mut after = site.outside_metadata();
    after.retain(|n, _| !n.starts_with("device/targets"));
    let mut before = before;
    before.retain(|n, _| !n.starts_with("device/targets"));
    assert_eq!(before, after);
}
