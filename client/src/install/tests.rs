use super::*;
use crate::conventions::name_budget::local_file_name;
use crate::metadata::TargetInfo;
use crate::names::TargetName;

/// The listing of a `file` artifact holding `listed`, whose download in `dir` now holds
/// `on_disk`.
fn listed(dir: &Path, listed: &[u8], on_disk: &[u8]) -> (TargetName, TargetInfo) {
    let name = TargetName::new("releases/2.0.0/armv7/app.bin").unwrap();
    fs::write(dir.join(local_file_name(&name)), on_disk).unwrap();
    let info: TargetInfo = serde_json::from_value(serde_json::json!({
        "length": listed.len(),
        "hashes": {"sha512": crate::hash::Sha512::digest(listed).to_hex()},
        "custom": {"kind": "file"},
    }))
    .unwrap();
    (name, info)
}

fn artifact<'a>(dir: &'a Path, (name, info): &'a (TargetName, TargetInfo)) -> Artifact<'a> {
    Artifact {
        name,
        info,
        relative: "app.bin",
        downloads: dir,
    }
}

#[test]
fn a_download_changed_after_its_check_is_refused_while_it_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    let installer = Installer::new(&dir.path().join("install"), Hooks::default()).unwrap();
    let release = Release::new("2.0.0").unwrap();
    let changed = listed(dir.path(), b"the signed bytes", b"the signed byteZ");
    let changed = artifact(dir.path(), &changed);
    let err = installer
        .install(&release, &[changed], "policy")
        .unwrap_err();
    assert!(
        matches!(
            err,
            InstallError::Artifact(crate::Error::Core(tuf_core::Error::HashMismatch { .. }))
        ),
        "{err}"
    );
    assert_eq!(installer.link("current").unwrap(), None);
    assert!(!installer.release_dir(&release).exists());
    assert!(!installer.journal_path().exists());
    let good = listed(dir.path(), b"the signed bytes", b"the signed bytes");
    let good = artifact(dir.path(), &good);
    installer.install(&release, &[good], "policy").unwrap();
    assert_eq!(
        fs::read(installer.root.join("current/app.bin")).unwrap(),
        b"the signed bytes"
    );
}
