//! Signed but hostile bundles: a release whose bundle holds chains of relative symbolic
//! links, each of which looks inside on its own, installed with `updater apply` from a real
//! repository. The install is refused with the entry and the reason, `current` keeps running
//! the old release byte for byte, and nothing changes beside the install root or in the
//! running release: the places where the climbing links would have put their files.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use e2e_tests::{example_key, tree_state, DemoRepo, Device, Run, StaticServer};

fn policy_for(release: &str) -> String {
    format!(
        r#"<policy>
  <channel name="stable">
    <target release="{release}"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
"#
    )
}

fn apply(device: &Device, config: &Path) -> Run {
    device.updater(&["--config".as_ref(), config.as_os_str(), "apply".as_ref()])
}

/// Builds a release folder holding `app.bin` and `bundle.tar`, made by python's tarfile from
/// `entries`: `(name, Some(link target))` for a symbolic link, `(name, None)` for a file, or
/// a folder if the name ends with `/`.
fn hostile_release(dir: &Path, entries: &[(&str, Option<&str>)]) -> PathBuf {
    let release = dir.join("release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::write(release.join("app.bin"), b"3.0.0\n").unwrap();
    let mut code = format!(
        "import io, tarfile\nt = tarfile.open({:?}, 'w')\n",
        release.join("bundle.tar").display().to_string()
    );
    for (name, link) in entries {
        code += &match link {
            Some(target) => format!(
                "i = tarfile.TarInfo({name:?}); i.type = tarfile.SYMTYPE; i.linkname = {target:?}; t.addfile(i)\n"
            ),
            None if name.ends_with('/') => format!(
                "i = tarfile.TarInfo({name:?}); i.type = tarfile.DIRTYPE; i.mode = 0o755; t.addfile(i)\n"
            ),
            None => format!(
                "i = tarfile.TarInfo({name:?}); i.size = 8; t.addfile(i, io.BytesIO(b'escaped\\n'))\n"
            ),
        };
    }
    code += "t.close()\n";
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:#?}");
    release
}

/// The tree of the install root's parent, without what `apply` rightly changes there: the
/// metadata and download folders, and the install root's own `state.json`.
fn neighbours(device: &Device) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut tree = tree_state(device.tmp.path());
    tree.retain(|path, _| {
        !(path.starts_with("metadata/")
            || path.starts_with("targets/")
            || path == "install/state.json")
    });
    tree
}

#[test]
fn hostile_bundles_are_refused_and_nothing_changes() {
    // Staged in INSTALL/.staging/3.0.x: each link climbs one more level, to the install
    // root's parent, and files are aimed there and into the running release.
    let chain = vec![
        ("p/", None),
        ("p/q", Some("..")),
        ("p/q/u1", Some("..")),
        ("p/q/u1/u2", Some("..")),
        ("p/q/u1/u2/u3", Some("..")),
        ("p/q/u1/u2/u3/escaped.txt", None),
        ("p/q/u1/u2/releases/1.0.0/escaped.txt", None),
    ];
    // Links through links: `b` is `.staging`, `b2` the install root, `b3` its parent.
    let through = vec![
        ("s", Some(".")),
        ("b", Some("s/..")),
        ("b2", Some("b/..")),
        ("b3", Some("b2/..")),
        ("ok.txt", None),
    ];
    let cases = [
        (
            chain,
            "bundle entry \"p/q/u1\": passes through the symbolic link \"p/q\"",
        ),
        (
            through,
            "bundle entry \"b\": symlink to \"s/..\" leaves the release folder",
        ),
    ];

    let repo = DemoRepo::with_policy(&policy_for("1.0.0"));
    let server = StaticServer::start(&repo.public());
    let device = Device::trusting(&repo.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, "");
    apply(&device, &config).ok();
    assert_eq!(device.running().as_deref(), Some("1.0.0"));
    let running = device.install_dir().join("releases/1.0.0");

    for (i, (entries, refusal)) in cases.iter().enumerate() {
        let release = format!("3.0.{i}");
        let tmp = tempfile::tempdir().unwrap();
        let dir = hostile_release(tmp.path(), entries);
        repo.add_dir(&dir, &release, "armv7").ok();
        repo.sign().ok();
        repo.set_policy(&policy_for(&release)).ok();
        repo.sign_with(&[
            example_key("policy.pem"),
            example_key("snapshot.pem"),
            example_key("timestamp.pem"),
        ])
        .ok();

        let release_before = tree_state(&running);
        let neighbours_before = neighbours(&device);
        apply(&device, &config).fails_with(1, refusal);

        assert_eq!(device.running().as_deref(), Some("1.0.0"), "{release}");
        assert_eq!(release_before, tree_state(&running), "{release}");
        assert_eq!(neighbours_before, neighbours(&device), "{release}");
        for file in [
            "app.bin",
            "firmware.img",
            "pre-install.sh",
            "share/data.txt",
        ] {
            assert_eq!(
                std::fs::read(device.install_dir().join("current").join(file)).unwrap(),
                std::fs::read(e2e_tests::fixture_release("1.0.0", "armv7").join(file)).unwrap(),
                "current/{file}"
            );
        }
        assert!(!device
            .install_dir()
            .join(".staging")
            .join(&release)
            .exists());
    }
}
