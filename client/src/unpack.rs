//! Unpacking a verified bundle (tar, or gzip-compressed tar) into a fresh staging folder,
//! refusing anything that could reach outside it or that is not plain data.
//!
//! Refused, before anything reaches its place (the caller unpacks into a staging folder
//! that is removed on any error): absolute paths, `..`, symlinks whose target is absolute
//! or leaves the folder, hard links to anything outside what this bundle unpacked, device
//! files, FIFOs and other special entries, more than a limit of files or bytes.

use std::fs::{self, File};
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Component, Path, PathBuf};

/// Limits on one bundle.
#[derive(Clone, Copy, Debug)]
pub struct UnpackLimits {
    pub max_files: u64,
    pub max_bytes: u64,
}

impl Default for UnpackLimits {
    fn default() -> Self {
        UnpackLimits {
            max_files: 100_000,
            max_bytes: 16 << 30,
        }
    }
}

/// What a bundle held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Unpacked {
    pub files: u64,
    pub bytes: u64,
}

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("bundle entry {entry:?}: {reason}")]
    Refused { entry: String, reason: String },
    #[error("bundle holds more than {0} files")]
    TooManyFiles(u64),
    #[error("bundle unpacks to more than {0} bytes")]
    TooLarge(u64),
    #[error("bundle is not a readable tar archive: {0}")]
    Format(io::Error),
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
}

/// The bundle formats understood, by file name.
pub fn is_supported(name: &str) -> bool {
    name.ends_with(".tar") || name.ends_with(".tar.gz") || name.ends_with(".tgz")
}

/// Unpacks the bundle `archive` (named `name`, for its format) into `dest`, which must
/// exist and is normally empty.
pub fn unpack_file(
    archive: &Path,
    name: &str,
    dest: &Path,
    limits: UnpackLimits,
) -> Result<Unpacked, UnpackError> {
    let file = File::open(archive).map_err(UnpackError::Format)?;
    if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
        let mut gz = flate2::read::GzDecoder::new(file);
        let done = unpack(&mut gz, dest, limits)?;
        // tar stops at its end marker; reading on to the end of the gzip stream makes the
        // decoder check its CRC, so a flipped byte anywhere refuses the whole bundle.
        io::copy(&mut gz, &mut io::sink()).map_err(UnpackError::Format)?;
        Ok(done)
    } else if name.ends_with(".tar") {
        unpack(file, dest, limits)
    } else {
        Err(UnpackError::Format(io::Error::other(format!(
            "{name}: unsupported bundle format (use .tar, .tar.gz or .tgz)"
        ))))
    }
}

/// Unpacks a tar stream into `dest`.
pub fn unpack(
    reader: impl Read,
    dest: &Path,
    limits: UnpackLimits,
) -> Result<Unpacked, UnpackError> {
    let mut archive = tar::Archive::new(reader);
    let mut done = Unpacked::default();
    let entries = archive.entries().map_err(UnpackError::Format)?;
    for entry in entries {
        let mut entry = entry.map_err(UnpackError::Format)?;
        let raw = entry.path_bytes().into_owned();
        let shown = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |reason: &str| UnpackError::Refused {
            entry: shown.clone(),
            reason: reason.to_owned(),
        };
        let relative = safe_relative(&raw).map_err(|r| refuse(&r))?;
        let Some(relative) = relative else {
            continue; // "." or "./": the folder itself
        };
        done.files += 1;
        if done.files > limits.max_files {
            return Err(UnpackError::TooManyFiles(limits.max_files));
        }
        let path = dest.join(&relative);
        let write_err = |source: io::Error| UnpackError::Write {
            path: path.clone(),
            source,
        };
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            fs::create_dir_all(&path).map_err(write_err)?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(write_err)?;
        }
        if kind.is_file() || kind == tar::EntryType::Continuous {
            let size = entry.header().size().map_err(UnpackError::Format)?;
            done.bytes = done.bytes.saturating_add(size);
            if done.bytes > limits.max_bytes {
                return Err(UnpackError::TooLarge(limits.max_bytes));
            }
            let mut out = File::options()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(write_err)?;
            let copied = io::copy(&mut (&mut entry).take(size), &mut out).map_err(write_err)?;
            if copied != size {
                return Err(UnpackError::Format(io::Error::other(format!(
                    "{shown}: archive ends inside the file"
                ))));
            }
            // Permission bits only: no setuid, setgid or sticky bit from a bundle.
            let mode = entry.header().mode().unwrap_or(0o644) & 0o777;
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).map_err(write_err)?;
        } else if kind.is_symlink() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| refuse("symlink without a target"))?
                .into_owned();
            let target =
                std::str::from_utf8(&target).map_err(|_| refuse("symlink target is not UTF-8"))?;
            if !link_stays_inside(&relative, target) {
                return Err(refuse(&format!(
                    "symlink to {target:?} leaves the release folder"
                )));
            }
            std::os::unix::fs::symlink(target, &path).map_err(write_err)?;
        } else if kind.is_hard_link() {
            let target = entry
                .link_name_bytes()
                .ok_or_else(|| refuse("hard link without a target"))?
                .into_owned();
            let target = safe_relative(&target)
                .map_err(|r| refuse(&format!("hard link target: {r}")))?
                .ok_or_else(|| refuse("hard link to the folder itself"))?;
            let source = dest.join(&target);
            // Only to a regular file this bundle already unpacked (not through a symlink).
            let is_plain_file = fs::symlink_metadata(&source).is_ok_and(|m| m.is_file());
            if !is_plain_file {
                return Err(refuse(&format!(
                    "hard link to {:?}, which is not a file of this bundle",
                    target.display().to_string()
                )));
            }
            fs::hard_link(&source, &path).map_err(write_err)?;
        } else {
            let what = if kind.is_character_special() || kind.is_block_special() {
                "device files are not allowed"
            } else if kind.is_fifo() {
                "FIFOs are not allowed"
            } else {
                "only files, folders and links are allowed"
            };
            return Err(refuse(what));
        }
    }
    Ok(done)
}

/// A tar path as a relative path with only normal components; `None` for the folder itself.
fn safe_relative(raw: &[u8]) -> Result<Option<PathBuf>, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "path is not UTF-8".to_owned())?;
    if text.contains('\0') {
        return Err("path holds a NUL byte".into());
    }
    let path = Path::new(text);
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(c) => out.push(c),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are not allowed".into())
            }
            Component::ParentDir => return Err("\"..\" is not allowed".into()),
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Whether a symlink at `link` (relative to the release folder) pointing at `target` stays
/// inside the folder, judged on the path alone: relative, and never climbing above the top.
fn link_stays_inside(link: &Path, target: &str) -> bool {
    if target.is_empty() || Path::new(target).is_absolute() {
        return false;
    }
    let mut depth: i64 = link.components().count() as i64 - 1;
    for component in Path::new(target).components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(build: impl FnOnce(&mut tar::Builder<Vec<u8>>)) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        build(&mut builder);
        builder.into_inner().unwrap()
    }

    fn header(kind: tar::EntryType, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_size(size);
        h.set_mode(0o644);
        h
    }

    /// Writes a raw path into the header (the builder itself refuses `..` and absolute paths).
    fn raw_path(h: &mut tar::Header, path: &str) {
        let name = &mut h.as_old_mut().name;
        name.fill(0);
        name[..path.len()].copy_from_slice(path.as_bytes());
        h.set_cksum();
    }

    #[test]
    fn unpacks_files_folders_and_inner_links() {
        let data = tar_with(|b| {
            let mut h = header(tar::EntryType::Directory, 0);
            b.append_data(&mut h, "bin/", &[][..]).unwrap();
            let mut h = header(tar::EntryType::Regular, 5);
            h.set_mode(0o4755);
            b.append_data(&mut h, "bin/app", &b"hello"[..]).unwrap();
            let mut h = header(tar::EntryType::Symlink, 0);
            b.append_link(&mut h, "lib/app", "../bin/app").unwrap();
            let mut h = header(tar::EntryType::Link, 0);
            b.append_link(&mut h, "app-copy", "bin/app").unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let got = unpack(&data[..], dir.path(), UnpackLimits::default()).unwrap();
        assert_eq!(got, Unpacked { files: 4, bytes: 5 });
        assert_eq!(fs::read(dir.path().join("lib/app")).unwrap(), b"hello");
        assert_eq!(fs::read(dir.path().join("app-copy")).unwrap(), b"hello");
        let mode = fs::metadata(dir.path().join("bin/app"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o755, "setuid dropped");
    }

    #[test]
    fn refuses_what_leaves_the_folder_or_is_not_data() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "dotdot",
                tar_with(|b| {
                    let mut h = header(tar::EntryType::Regular, 1);
                    raw_path(&mut h, "../x");
                    b.append(&h, &b"x"[..]).unwrap();
                }),
                "\"..\" is not allowed",
            ),
            (
                "absolute",
                tar_with(|b| {
                    let mut h = header(tar::EntryType::Regular, 1);
                    raw_path(&mut h, "/etc/x");
                    b.append(&h, &b"x"[..]).unwrap();
                }),
                "absolute paths are not allowed",
            ),
            (
                "symlink out",
                tar_with(|b| {
                    let mut h = header(tar::EntryType::Symlink, 0);
                    b.append_link(&mut h, "etc", "/etc").unwrap();
                }),
                "symlink to \"/etc\" leaves the release folder",
            ),
            (
                "symlink climbs",
                tar_with(|b| {
                    let mut h = header(tar::EntryType::Symlink, 0);
                    b.append_link(&mut h, "a/b", "../../x").unwrap();
                }),
                "leaves the release folder",
            ),
            (
                "hard link out",
                tar_with(|b| {
                    let mut h = header(tar::EntryType::Link, 0);
                    b.append_link(&mut h, "passwd", "../../etc/passwd").unwrap();
                }),
                "hard link target: \"..\" is not allowed",
            ),
            (
                "hard link to nothing",
                tar_with(|b| {
                    let mut h = header(tar::EntryType::Link, 0);
                    b.append_link(&mut h, "x", "etc/passwd").unwrap();
                }),
                "which is not a file of this bundle",
            ),
            (
                "device",
                tar_with(|b| {
                    let mut h = header(tar::EntryType::Char, 0);
                    b.append_data(&mut h, "dev/null", &[][..]).unwrap();
                }),
                "device files are not allowed",
            ),
            (
                "fifo",
                tar_with(|b| {
                    let mut h = header(tar::EntryType::Fifo, 0);
                    b.append_data(&mut h, "pipe", &[][..]).unwrap();
                }),
                "FIFOs are not allowed",
            ),
        ];
        for (what, data, needle) in cases {
            let dir = tempfile::tempdir().unwrap();
            let err = unpack(&data[..], dir.path(), UnpackLimits::default()).unwrap_err();
            assert!(err.to_string().contains(needle), "{what}: {err}");
        }
    }

    #[test]
    fn limits_files_and_bytes() {
        let data = tar_with(|b| {
            for i in 0..5 {
                let mut h = header(tar::EntryType::Regular, 100);
                b.append_data(&mut h, format!("f{i}"), &[0u8; 100][..])
                    .unwrap();
            }
        });
        let dir = tempfile::tempdir().unwrap();
        let few = UnpackLimits {
            max_files: 3,
            max_bytes: 1 << 20,
        };
        assert!(matches!(
            unpack(&data[..], dir.path(), few),
            Err(UnpackError::TooManyFiles(3))
        ));
        let dir = tempfile::tempdir().unwrap();
        let small = UnpackLimits {
            max_files: 100,
            max_bytes: 250,
        };
        assert!(matches!(
            unpack(&data[..], dir.path(), small),
            Err(UnpackError::TooLarge(250))
        ));
    }
}
