use super::*;

/// A `file` artifact listed as `listed`, whose download on disk now holds `on_disk`.
fn artifact(dir: &Path, listed: &[u8], on_disk: &[u8]) -> Artifact {
    let local = dir.join("download");
    fs::write(&local, on_disk).unwrap();
    let info: TargetInfo = serde_json::from_value(serde_json::json!({
        "length": listed.len(),
        "hashes": {"sha512": crate::hash::Sha512::digest(listed).to_hex()},
        "custom": {"kind": "file"},
    }))
    .unwrap();
    Artifact {
        name: TargetName::new("releases/2.0.0/armv7/app.bin").unwrap(),
        info,
        relative: "app.bin".into(),
        local,
    }
}

#[test]
fn a_download_changed_after_its_check_is_refused_while_it_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    let installer = Installer::new(&dir.path().join("install"), Hooks::default()).unwrap();
    let release = Release::new("2.0.0").unwrap();
    let changed = artifact(dir.path(), b"the signed bytes", b"the signed byteZ");
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
    let good = artifact(dir.path(), b"the signed bytes", b"the signed bytes");
    installer.install(&release, &[good], "policy").unwrap();
    assert_eq!(
        fs::read(installer.root.join("current/app.bin")).unwrap(),
        b"the signed bytes"
    );
}
