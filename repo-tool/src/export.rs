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

/// Writes `public/` of `ws` to the gzip-compressed tar `out`.
pub fn export(ws: &Workspace, out: &Path) -> Result<Exported> {
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
