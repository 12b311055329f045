//! `repo export`: the served repository as one compressed archive, for air-gapped sites.
//!
//! Only `public/` goes in (every root, the current metadata, the artifacts): never a
//! private key, never anything staged. The archive is written to a temporary file beside
//! `--out` and renamed into place when complete.

use std::fs::File;
use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::workspace::Workspace;

/// What an export wrote.
pub struct Exported {
    pub files: u64,
    pub bytes: u64,
}

/// The release an artifact file under `public/targets` belongs to, from its path
/// (`releases/R/...`, or tough's `<sha256>.releases/R/...`).
fn release_of(relative: &Path) -> Option<updater::policy::Release> {
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
    updater::policy::Release::new(parts.next()?).ok()
}

/// Writes `public/` of `ws` to the gzip-compressed tar `out`; with `newest`, only the
/// artifacts of the newest that many releases (metadata and other targets always).
pub fn export(ws: &Workspace, out: &Path, newest: Option<usize>) -> Result<Exported> {
    ws.check_exists()?;
    let public = ws.public_dir();
    if !ws.metadata_dir().join("timestamp.json").is_file() {
        bail!("nothing is published yet: run repo sign first");
    }
    let name = out
        .file_name()
        .and_then(|n| n.to_str())
        .context("--out needs a file name")?;
    if !(name.ends_with(".tar.gz") || name.ends_with(".tgz")) {
        bail!("--out must end in .tar.gz or .tgz");
    }
    let tmp = out.with_file_name(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| -> Result<Exported> {
        let file = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let mut done = Exported { files: 0, bytes: 0 };
        let mut entries: Vec<_> = walkdir::WalkDir::new(&public)
            .sort_by_file_name()
            .into_iter()
            .collect::<Result<_, _>>()?;
        entries.retain(|e| e.file_type().is_file());
        if let Some(n) = newest {
            let mut releases: Vec<_> = entries
                .iter()
                .filter_map(|e| release_of(e.path().strip_prefix(&public).ok()?))
                .collect();
            releases.sort();
            releases.dedup();
            let keep: Vec<_> = releases.iter().rev().take(n).cloned().collect();
            entries.retain(|e| {
                let relative = e.path().strip_prefix(&public).unwrap_or(e.path());
                release_of(relative).is_none_or(|r| keep.contains(&r))
            });
        }
        for entry in entries {
            let relative = entry.path().strip_prefix(&public)?;
            let mut header = tar::Header::new_gnu();
            let meta = entry.metadata()?;
            header.set_size(meta.len());
            header.set_mode(0o644);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, relative, File::open(entry.path())?)?;
            done.files += 1;
            done.bytes += meta.len();
        }
        let gz = tar.into_inner()?;
        let mut file = gz.finish()?;
        file.flush()?;
        file.sync_all()?;
        Ok(done)
    })();
    match result {
        Ok(done) => {
            std::fs::rename(&tmp, out).with_context(|| format!("writing {}", out.display()))?;
            Ok(done)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
