//! `repo export`: the served repository as one compressed archive, for air-gapped sites.
//!
//! Only `public/` goes in (every root, the current metadata, the artifacts): never a
//! private key, never anything staged. `metadata/` comes first, so a device reading the
//! archive in place finds its metadata without decompressing the artifacts. Each file's
//! bytes are written once: its other names (the sha256 twin, tough's names: the same inode)
//! are hard-link entries to the first, which is exactly the one kind of link the updater's
//! archive reader accepts. The archive is written to a new temporary file beside `--out`,
//! fsynced and renamed into place when complete; on any failure the temporary file is
//! removed.

use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;

/// What an export wrote.
pub struct Exported {
    pub files: u64,
    /// Bytes of file data written: each file once, however many names it has.
    pub bytes: u64,
}

/// The release an artifact file under `public/targets` belongs to, from its path
/// (`releases/R/...`, or tough's `<sha256>.releases/R/...`).
fn release_of(relative: &Path) -> Option<updater::rollout::policy::Release> {
    let mut parts = relative.iter().map(|p| p.to_str().unwrap_or_default());
    if parts.next()? != "targets" {
        return None;
    }
    let first = parts.next()?;
    let is_releases = first == "releases"
        || first
            .split_once('.')
            .is_some_and(|(hash, rest)| hash.len() == 64 && rest == "releases");
    if !is_releases {
        return None;
    }
    updater::rollout::policy::Release::new(parts.next()?).ok()
}

/// Writes `public/` of `ws` to the gzip-compressed tar `out`; with `newest`, only the
/// artifacts of the newest that many releases (metadata and other targets always). Each of
/// `overlay` (a path under `public/` and its bytes: metadata re-signed for this archive
/// only) goes in instead of the published file of that name, or beside them.
pub fn export(
    ws: &Workspace,
    out: &Path,
    newest: Option<usize>,
    overlay: &[(PathBuf, Vec<u8>)],
) -> Result<Exported> {
    ws.check_exists()?;
    if !ws.metadata_dir().join("timestamp.json").is_file() {
        bail!("nothing is published yet: run repo sign first");
    }
    let tmp = temporary_beside(out)?;
    match write_archive(&tmp, &ws.public_dir(), newest, overlay) {
        Ok(done) => {
            let placed = place_archive(&tmp, out);
            if placed.is_err() {
                let _ = std::fs::remove_file(&tmp);
            }
            placed.map(|()| done)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// A fresh, unpredictable name beside `out` (which must name a `.tar.gz` or `.tgz`) for the
/// archive while it is written.
fn temporary_beside(out: &Path) -> Result<PathBuf> {
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .context("--out needs a file name")?;
    if !(name.ends_with(".tar.gz") || name.ends_with(".tgz")) {
        bail!("--out must end in .tar.gz or .tgz");
    }
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).context("no randomness for a temporary name")?;
    Ok(out.with_file_name(format!(".{name}.{}.tmp", hex::encode(random))))
}

/// Creates `tmp` (never an existing file) and writes the whole archive into it, synced.
fn write_archive(
    tmp: &Path,
    public: &Path,
    newest: Option<usize>,
    overlay: &[(PathBuf, Vec<u8>)],
) -> Result<Exported> {
    let file = File::options()
        .write(true)
        .create_new(true)
        .open(tmp)
        .with_context(|| format!("creating {}", tmp.display()))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let entries = files_to_export(public, newest, overlay)?;
    let members = entries.len() + overlay.len();
    if members as u64 > updater::fetch::archive::MAX_MEMBERS {
        bail!(
            "{members} files exceed the {} an updater reads from one archive: use --releases",
            updater::fetch::archive::MAX_MEMBERS
        );
    }
    let mut done = Exported { files: 0, bytes: 0 };
    append_overlay(&mut tar, overlay, &mut done)?;
    append_files(&mut tar, public, entries, &mut done)?;
    let gz = tar.into_inner()?;
    let mut file = gz.finish()?;
    file.flush()?;
    file.sync_all()?;
    Ok(done)
}

/// The files under `public` that go in from disk: with `newest`, only the artifacts of the
/// newest that many releases; never a file `overlay` replaces; metadata first whatever the
/// names sort to, by name within each part.
fn files_to_export(
    public: &Path,
    newest: Option<usize>,
    overlay: &[(PathBuf, Vec<u8>)],
) -> Result<Vec<walkdir::DirEntry>> {
    let mut entries: Vec<_> = walkdir::WalkDir::new(public)
        .sort_by_file_name()
        .into_iter()
        .collect::<Result<_, _>>()?;
    entries.retain(|e| e.file_type().is_file());
    if let Some(n) = newest {
        let mut releases: Vec<_> = entries
            .iter()
            .filter_map(|e| release_of(e.path().strip_prefix(public).ok()?))
            .collect();
        releases.sort();
        releases.dedup();
        let keep: Vec<_> = releases.iter().rev().take(n).cloned().collect();
        entries.retain(|e| {
            let relative = e.path().strip_prefix(public).unwrap_or(e.path());
            release_of(relative).is_none_or(|r| keep.contains(&r))
        });
    }
    entries.sort_by_key(|e| !e.path().starts_with(public.join("metadata")));
    entries.retain(|e| {
        let relative = e.path().strip_prefix(public).unwrap_or(e.path());
        !overlay.iter().any(|(path, _)| path == relative)
    });
    Ok(entries)
}

/// Appends each re-signed overlay file as a regular entry.
fn append_overlay<W: Write>(
    tar: &mut tar::Builder<W>,
    overlay: &[(PathBuf, Vec<u8>)],
    done: &mut Exported,
) -> Result<()> {
    for (relative, bytes) in overlay {
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        header.set_size(bytes.len() as u64);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, relative, &bytes[..])?;
        done.bytes += bytes.len() as u64;
        done.files += 1;
    }
    Ok(())
}

/// Appends each file from disk: its bytes under the first of its names, a hard-link entry
/// to that name under every other.
fn append_files<W: Write>(
    tar: &mut tar::Builder<W>,
    public: &Path,
    entries: Vec<walkdir::DirEntry>,
    done: &mut Exported,
) -> Result<()> {
    // (device, inode) -> the name that holds the bytes.
    let mut written: HashMap<(u64, u64), PathBuf> = HashMap::new();
    for entry in entries {
        let relative = entry.path().strip_prefix(public)?;
        let meta = entry.metadata()?;
        let mut header = tar::Header::new_gnu();
        header.set_mode(0o644);
        if let Some(first) = written.get(&(meta.dev(), meta.ino())) {
            header.set_size(0);
            header.set_entry_type(tar::EntryType::Link);
            tar.append_link(&mut header, relative, first)?;
        } else {
            header.set_size(meta.len());
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, relative, File::open(entry.path())?)?;
            written.insert((meta.dev(), meta.ino()), relative.to_path_buf());
            done.bytes += meta.len();
        }
        done.files += 1;
    }
    Ok(())
}

/// Renames the finished archive over `out` and syncs its folder.
fn place_archive(tmp: &Path, out: &Path) -> Result<()> {
    std::fs::rename(tmp, out)
        .with_context(|| format!("writing {}", out.display()))
        .and_then(|()| {
            let dir = out.parent().filter(|d| !d.as_os_str().is_empty());
            updater::fs::sync_dir(dir.unwrap_or(Path::new(".")))
                .with_context(|| format!("syncing the folder of {}", out.display()))
        })
}
