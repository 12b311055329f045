//! The air-gap tests' shared steps: an export of a demo repository and a repository of
//! incompressible artifacts.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::demo_repo::DemoRepo;
use crate::run::repo;

/// `repo export` of `r` to `site.tar.gz` in its temporary folder, with `extra` arguments;
/// panics unless it succeeds.
pub fn export(r: &DemoRepo, extra: &[&str]) -> PathBuf {
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

/// A signed repository with release 1.0.0 for armv7 of random (incompressible) artifacts of
/// these sizes, named `f0.bin`, `f1.bin`...
pub fn random_repo(sizes: &[usize]) -> DemoRepo {
    use std::io::Read as _;
    let r = DemoRepo::init();
    let release = r.tmp.path().join("release");
    std::fs::create_dir(&release).unwrap();
    for (i, size) in sizes.iter().enumerate() {
        let mut bytes = Vec::new();
        std::fs::File::open("/dev/urandom")
            .unwrap()
            .take(*size as u64)
            .read_to_end(&mut bytes)
            .unwrap();
        std::fs::write(release.join(format!("f{i}.bin")), bytes).unwrap();
    }
    r.add_dir(&release, "1.0.0", "armv7").ok();
    r.sign().ok();
    r
}

/// Unpacks `archive` with tar into a new folder `into`, as an operator does for a client
/// that reads folders (python-tuf); returns `into`.
pub fn untar(archive: &Path, into: &Path) -> PathBuf {
    std::fs::create_dir(into).expect("create the folder to unpack into");
    let status = Command::new("tar")
        .arg("-xzf")
        .arg(archive)
        .arg("-C")
        .arg(into)
        .status()
        .expect("run tar");
    assert!(status.success(), "tar -xzf {}", archive.display());
    into.to_path_buf()
}
