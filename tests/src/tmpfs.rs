//! A size-limited tmpfs for tests of running out of space.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs of `size` mounted at `dir`, unmounted on drop (the tests run as root, as CI does
/// on this machine; a failed mount fails the test).
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {out:#?}"
        );
        Tmpfs(dir.to_path_buf())
    }

    pub fn free(&self) -> u64 {
        updater::install::free_bytes(&self.0).unwrap()
    }

    /// Removes everything on it.
    pub fn clear(&self) {
        for entry in std::fs::read_dir(&self.0).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
