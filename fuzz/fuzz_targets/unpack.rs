//! A bundle's bytes (plain tar, or gzip when they start with gzip's magic) unpacked by the
//! confined extractor into a fresh folder each run.
//!
//! Invariants checked beyond "no panic": nothing appears, changes or disappears outside the
//! destination (its parent and a neighbour folder are compared before and after, whether the
//! archive was accepted or refused); in an accepted archive every symbolic link that
//! resolves stays beneath the destination and no file keeps a setuid, setgid or sticky bit.
#![no_main]

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use updater::install::unpack::{unpack, unpack_file, UnpackLimits};
use updater_fuzz::fix_tar_checksums;

/// Small limits, so the entry, size and bomb guards are reached by small inputs.
const LIMITS: UnpackLimits = UnpackLimits {
    max_entries: 200,
    max_bytes: 1 << 20,
    max_ratio: 100,
    ratio_floor: 64 << 10,
};

/// The folder every run works in, made once per process: `neighbour/` (a folder an escape
/// would reach) and, during a run, `run/dest/` and `run/input.tar.gz`.
fn work() -> &'static Path {
    static WORK: OnceLock<tempfile::TempDir> = OnceLock::new();
    WORK.get_or_init(|| {
        // In memory when the machine has /dev/shm: every run makes and removes a tree.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() {
            tempfile::tempdir_in(shm).unwrap()
        } else {
            tempfile::tempdir().unwrap()
        };
        fs::create_dir(dir.path().join("neighbour")).unwrap();
        fs::write(
            dir.path().join("neighbour/kept"),
            b"outside the destination",
        )
        .unwrap();
        dir
    })
    .path()
}

fuzz_target!(|input: &[u8]| {
    let work = work();
    let run = work.join("run");
    let dest = run.join("dest");
    fs::create_dir_all(&dest).unwrap();
    let gzip = input.starts_with(&[0x1f, 0x8b]);
    // A plain tar gets valid header checksums, so mutations reach past the tar crate.
    let mut owned = input.to_vec();
    if !gzip {
        fix_tar_checksums(&mut owned);
    }
    let data = owned.as_slice();
    let input = run.join("input.tar.gz");
    if gzip {
        fs::write(&input, data).unwrap();
    }
    let before = tree(work, &run);

    let result = if gzip {
        unpack_file(&input, "bundle.tar.gz", &dest, LIMITS)
    } else {
        unpack(data, &dest, LIMITS)
    };

    assert_eq!(
        tree(work, &run),
        before,
        "something changed outside the destination"
    );
    let mut run_now: Vec<_> = fs::read_dir(&run)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    run_now.sort();
    let expected: Vec<&str> = if gzip {
        vec!["dest", "input.tar.gz"]
    } else {
        vec!["dest"]
    };
    assert_eq!(
        run_now, expected,
        "something appeared beside the destination"
    );
    if result.is_ok() {
        check_accepted(&dest);
    }
    fs::remove_dir_all(&run).unwrap();
});

/// Everything under `root` except `skip`: path -> (kind, length, mode, link target).
fn tree(root: &Path, skip: &Path) -> BTreeMap<PathBuf, (String, u64, u32, Option<PathBuf>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path == skip {
                continue;
            }
            let meta = fs::symlink_metadata(&path).unwrap();
            let kind = format!("{:?}", meta.file_type());
            let link = fs::read_link(&path).ok();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            out.insert(path, (kind, meta.len(), meta.mode(), link));
        }
    }
    out
}

/// An accepted archive's links stay beneath `dest` and its files carry no special bits.
fn check_accepted(dest: &Path) {
    let dest_real = fs::canonicalize(dest).unwrap();
    let mut stack = vec![dest.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                if let Ok(real) = fs::canonicalize(&path) {
                    assert!(
                        real.starts_with(&dest_real),
                        "link {path:?} resolves to {real:?}, outside the destination"
                    );
                }
            } else if meta.is_dir() {
                stack.push(path);
            } else {
                assert_eq!(
                    meta.permissions().mode() & 0o7000,
                    0,
                    "{path:?} keeps a special mode bit"
                );
            }
        }
    }
}
