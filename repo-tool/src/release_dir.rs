//! Reading a release folder: every regular file under it, by its path in the folder, in name
//! order. Nothing outside the folder is ever read: a symlink is followed (to a file or a
//! folder) only when it resolves inside the folder, a link that leads back to a folder
//! holding it is refused, and so are special files and empty folders (they would vanish
//! from the release without a word).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};

/// One regular file of a release folder.
pub(crate) struct ReleaseFile {
    /// Where it was found: the folder joined with its path in the folder (through links).
    pub(crate) path: PathBuf,
    /// Its path in the folder, `/`-separated.
    pub(crate) relative: String,
    /// The file to read: `path` with every link resolved.
    pub(crate) source: PathBuf,
}

/// Every regular file under `dir`, in name order.
pub(crate) fn release_files(dir: &Path) -> Result<Vec<ReleaseFile>> {
    let meta = std::fs::metadata(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    if !meta.is_dir() {
        bail!("{} is not a folder", dir.display());
    }
    let real_dir = dir
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dir.display()))?;
    let mut walk = Walk {
        dir,
        real_dir: real_dir.clone(),
        files: Vec::new(),
    };
    walk.folder(dir, &[], &mut vec![real_dir])?;
    if walk.files.is_empty() {
        bail!("{} holds no files", dir.display());
    }
    Ok(walk.files)
}

/// A walk of one release folder.
struct Walk<'a> {
    dir: &'a Path,
    real_dir: PathBuf,
    files: Vec<ReleaseFile>,
}

impl Walk<'_> {
    /// Walks `folder`, found at `relative` in the release folder; `ancestors` holds the
    /// resolved path of `folder` and of every folder the walk went through to reach it.
    fn folder(
        &mut self,
        folder: &Path,
        relative: &[&str],
        ancestors: &mut Vec<PathBuf>,
    ) -> Result<()> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(folder)
            .with_context(|| format!("cannot read {}", folder.display()))?
        {
            let entry = entry.with_context(|| format!("cannot read {}", folder.display()))?;
            let path = entry.path();
            let name = entry
                .file_name()
                .into_string()
                .map_err(|_| anyhow!("{} is not a UTF-8 name", path.display()))?;
            names.push(name);
        }
        if names.is_empty() && !relative.is_empty() {
            bail!(
                "{} is an empty folder; a release holds files, and an empty folder would be \
                 left out without a word: remove it or put its files in it",
                folder.display()
            );
        }
        names.sort();
        for name in &names {
            let path = folder.join(name);
            let mut inner = relative.to_vec();
            inner.push(name);
            let (source, is_link) = self.resolve(&path)?;
            let meta = std::fs::metadata(&source)
                .with_context(|| format!("cannot read {}", path.display()))?;
            if meta.is_dir() {
                if let Some(ancestor) = ancestors.iter().find(|a| **a == source) {
                    bail!(
                        "symlink {} leads back to {}, a folder that holds it; a release \
                         cannot hold itself: remove the link",
                        path.display(),
                        ancestor.display()
                    );
                }
                ancestors.push(source);
                self.folder(&path, &inner, ancestors)?;
                ancestors.pop();
            } else if meta.is_file() {
                self.files.push(ReleaseFile {
                    path,
                    relative: inner.join("/"),
                    source,
                });
            } else {
                bail!(
                    "{} is not a regular file (device, FIFO or socket); a release holds files only",
                    if is_link { &source } else { &path }.display()
                );
            }
        }
        Ok(())
    }

    /// Where `path` leads, with every link resolved, and whether it is a link; a link
    /// leading outside the release folder is refused before anything there is read.
    fn resolve(&self, path: &Path) -> Result<(PathBuf, bool)> {
        let meta = std::fs::symlink_metadata(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let real = path
            .canonicalize()
            .with_context(|| format!("symlink {} is broken", path.display()))?;
        if meta.is_symlink() && !real.starts_with(&self.real_dir) {
            bail!(
                "symlink {} points outside {} (to {}); a release may only hold its own files",
                path.display(),
                self.dir.display(),
                real.display()
            );
        }
        Ok((real, meta.is_symlink()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn relatives(dir: &Path) -> Vec<String> {
        release_files(dir)
            .unwrap()
            .into_iter()
            .map(|f| f.relative)
            .collect()
    }

    #[test]
    fn links_to_folders_inside_are_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("release");
        std::fs::create_dir_all(dir.join("lib.1")).unwrap();
        std::fs::write(dir.join("lib.1/a.so"), b"a").unwrap();
        symlink("lib.1", dir.join("lib")).unwrap();
        assert_eq!(relatives(&dir), ["lib/a.so", "lib.1/a.so"]);
    }

    #[test]
    fn a_loop_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("release");
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("sub/a"), b"a").unwrap();
        symlink("..", dir.join("sub/up")).unwrap();
        let e = release_files(&dir).err().unwrap().to_string();
        assert!(e.contains("sub/up leads back to"), "{e}");
    }

    #[test]
    fn an_empty_folder_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("release");
        std::fs::create_dir_all(dir.join("empty")).unwrap();
        std::fs::write(dir.join("a"), b"a").unwrap();
        let e = release_files(&dir).err().unwrap().to_string();
        assert!(e.contains("empty is an empty folder"), "{e}");
    }
}
