//! The device key: private from its first byte, read only from a file only its owner can
//! use, and never replaced silently.

use super::*;
use crate::report::Bounds;
use std::os::unix::fs::{MetadataExt, PermissionsExt};

fn outbox(dir: &Path) -> Outbox {
    let bounds = Bounds {
        max_events: 10,
        max_bytes: u64::MAX,
    };
    Outbox::open(&dir.join("outbox"), bounds).unwrap()
}

/// A folder's names and contents, to compare before and after a refusal.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut all = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = std::fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            let bytes = if meta.is_file() {
                std::fs::read(entry.path()).unwrap()
            } else {
                Vec::new()
            };
            all.push((entry.path(), bytes));
        }
    }
    all.sort();
    all
}

#[test]
fn made_once_private_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(dir.path());
    let path = dir.path().join("keys/device.key");
    let (key, created) = DeviceKey::load_or_create(&path, &outbox).unwrap();
    assert!(created);
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
    let (again, created) = DeviceKey::load_or_create(&path, &outbox).unwrap();
    assert!(!created);
    assert_eq!(key.public_hex(), again.public_hex());
    assert_eq!(key.public_hex().len(), 64);
    assert_eq!(outbox.known_key().unwrap(), Some(key.public_hex()));
    // Only the key is left in its folder: no temporary file.
    assert_eq!(
        std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
        1
    );
    // The debug form shows the public half only.
    let seed_hex = hex::encode(key.signing.to_bytes());
    assert!(!format!("{key:?}").contains(&seed_hex));
}

#[test]
fn a_file_that_is_not_a_key_is_refused_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.key");
    std::fs::write(&path, b"not a key").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(
        DeviceKey::load_or_create(&path, &outbox(dir.path())),
        Err(KeyError::NotKey { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), b"not a key");
}

/// A key made, then deleted: a new one would sign reports no collector enrolled, so the
/// device refuses and says what to do; nothing is made.
#[test]
fn a_lost_key_is_refused_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(dir.path());
    let path = dir.path().join("device.key");
    let (key, _) = DeviceKey::load_or_create(&path, &outbox).unwrap();
    std::fs::remove_file(&path).unwrap();
    let before = tree(dir.path());
    let refused = DeviceKey::load_or_create(&path, &outbox).unwrap_err();
    assert!(
        matches!(&refused, KeyError::Lost { path: p, public } if p == &path && *public == key.public_hex()),
        "{refused:?}"
    );
    assert!(refused.to_string().contains("updater keygen --replace"));
    assert_eq!(tree(dir.path()), before);
    // `--replace` makes a new one and the outbox takes it.
    let new = DeviceKey::replace(&path, &outbox).unwrap();
    assert_ne!(new.public_hex(), key.public_hex());
    let (loaded, created) = DeviceKey::load_or_create(&path, &outbox).unwrap();
    assert!(!created);
    assert_eq!(loaded.public_hex(), new.public_hex());
    assert_eq!(std::fs::metadata(&path).unwrap().mode() & 0o777, 0o600);
}

/// A key file others could read or swap is refused, named, and left as it is.
#[test]
fn an_unsafe_key_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = outbox(dir.path());
    let real = dir.path().join("real.key");
    DeviceKey::load_or_create(&real, &outbox).unwrap();

    let link = dir.path().join("link.key");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let before = tree(dir.path());
    let refused = DeviceKey::load_or_create(&link, &outbox).unwrap_err();
    assert!(
        matches!(&refused, KeyError::File(SecretFileError::Symlink { path, .. }) if path == &link),
        "{refused:?}"
    );
    assert_eq!(tree(dir.path()), before);

    let folder = dir.path().join("folder.key");
    std::fs::create_dir(&folder).unwrap();
    let refused = DeviceKey::load(&folder).unwrap_err();
    assert!(
        matches!(&refused, KeyError::File(SecretFileError::NotRegular { path, kind: "a directory", .. }) if path == &folder),
        "{refused:?}"
    );

    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).unwrap();
    let refused = DeviceKey::load(&real).unwrap_err();
    assert!(
        matches!(&refused, KeyError::File(SecretFileError::Permissions { path, mode: 0o640, .. }) if path == &real),
        "{refused:?}"
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "the device key {} has mode 640: others than its owner may use it; refused (chmod 600 it)",
            real.display()
        )
    );
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    DeviceKey::load(&real).unwrap();

    let user = rustix::process::geteuid().as_raw();
    // Only root can give a file away; elsewhere this part has nothing to test.
    if user == 0 {
        std::os::unix::fs::chown(&real, Some(4242), None).unwrap();
        let refused = DeviceKey::load(&real).unwrap_err();
        assert!(
            matches!(&refused, KeyError::File(SecretFileError::Owner { path, owner: 4242, user: 0, .. }) if path == &real),
            "{refused:?}"
        );
    }
}
