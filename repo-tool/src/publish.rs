//! `repo publish REPO URL`: uploads the served repository to object storage (S3 and any
//! S3-compatible server, GCS, Azure) or a local folder, so that a reader never sees a
//! half-published repository: artifacts first, then roots and versioned metadata, and
//! `timestamp.json` last. Files whose names carry their version or hash never change, so
//! those already present are skipped.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, PutPayload};

use crate::workspace::Workspace;

/// What a publish did.
pub struct Published {
    pub uploaded: usize,
    pub skipped: usize,
}

/// Publishes `public/` of `ws` to `url` (`s3://bucket/prefix`, `gs://...`, `az://...`,
/// `file:///path`). S3 settings come from the usual `AWS_*` environment variables
/// (`AWS_ENDPOINT` for an S3-compatible server, `AWS_ALLOW_HTTP=true` for plain HTTP).
pub fn publish(ws: &Workspace, url: &str) -> Result<Published> {
    ws.check_exists()?;
    let parsed = url::Url::parse(url).with_context(|| format!("{url} is not a URL"))?;
    let options: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_")
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    let (store, prefix) = object_store::parse_url_opts(&parsed, options)
        .with_context(|| format!("{url}: unsupported object store"))?;
    let store: Arc<dyn ObjectStore> = Arc::from(store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(upload_all(ws, store, prefix))
}

async fn upload_all(
    ws: &Workspace,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
) -> Result<Published> {
    let public = ws.public_dir();
    let existing: std::collections::BTreeSet<String> = store
        .list(Some(&prefix))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .context("listing the destination")?;
    let mut files: Vec<std::path::PathBuf> = walkdir::WalkDir::new(&public)
        .sort_by_file_name()
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect();
    // Artifacts, then roots, then other versioned metadata, timestamp.json last.
    let rank = |p: &Path| -> u8 {
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if p.starts_with(public.join("targets")) {
            0
        } else if name.ends_with(".root.json") {
            1
        } else if name == "timestamp.json" {
            3
        } else {
            2
        }
    };
    files.sort_by_key(|p| rank(p));
    let mut done = Published {
        uploaded: 0,
        skipped: 0,
    };
    for file in files {
        let relative = file.strip_prefix(&public)?.to_string_lossy().into_owned();
        let location = ObjectPath::from(format!("{prefix}/{relative}").trim_start_matches('/'));
        let immutable = rank(&file) != 3;
        if immutable && existing.contains(location.as_ref()) {
            done.skipped += 1;
            continue;
        }
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        store
            .put(&location, PutPayload::from(bytes))
            .await
            .with_context(|| format!("uploading {location}"))?;
        done.uploaded += 1;
        pause_after_uploads(done.uploaded);
    }
    Ok(done)
}

/// Stops here when `REPO_TEST_PAUSE_AFTER_UPLOADS` is `uploaded`, so crash tests can kill
/// `repo` mid-publication. Only in builds with the `fault-injection` feature (the e2e
/// tests'): a release build has no such hook for its environment to trigger.
#[cfg(feature = "fault-injection")]
fn pause_after_uploads(uploaded: usize) {
    if std::env::var("REPO_TEST_PAUSE_AFTER_UPLOADS")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
        == Some(uploaded)
    {
        eprintln!("repo: paused after {uploaded} uploads (REPO_TEST_PAUSE_AFTER_UPLOADS)");
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

/// Without `fault-injection`, uploads run straight through.
#[cfg(not(feature = "fault-injection"))]
fn pause_after_uploads(_uploaded: usize) {}
