//! `repo publish REPO URL`: uploads the served repository to object storage (S3 and any
//! S3-compatible server, GCS, Azure) or a local folder, so that a reader never sees a
//! half-published repository: artifacts first, then roots, then other versioned metadata,
//! and `timestamp.json` last, each phase complete before the next starts.
//!
//! Within a phase, files go up in bounded parallel, read from disk part by part (big ones
//! as multipart uploads), each file's bytes sent once: its other names (hard links in
//! `public/`) are copied on the server. Names carrying a hash or version never change, so
//! those the last publication's record (or, without one, a listing) shows are skipped.

mod part_buffers;
mod plan;
mod record;
mod transfer;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use anyhow::{Context, Result};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;

use crate::progress::Progress;
use crate::workspace::Workspace;
use plan::{Phase, ServedFile};
use record::{NoRecord, PublicationRecord, PublishedNames};
use transfer::Transfer;

/// Files handled at once within a phase (their requests share the transfer's budget).
const FILES_IN_FLIGHT: usize = 4;

/// What a publish did.
pub struct Published {
    /// Files whose bytes were sent.
    pub uploaded: usize,
    /// Names created by a copy on the server.
    pub copied: usize,
    /// Names already there.
    pub skipped: usize,
    /// Bytes of file contents sent.
    pub bytes_sent: u64,
}

/// Publishes `public/` of `ws` to `url` (`s3://bucket/prefix`, `gs://...`, `az://...`,
/// `file:///path`). S3 settings come from the usual `AWS_*` environment variables
/// (`AWS_ENDPOINT` for an S3-compatible server, `AWS_ALLOW_HTTP=true` for plain HTTP).
pub fn publish(ws: &Workspace, url: &str, quiet: bool) -> Result<Published> {
    ws.check_exists()?;
    let parsed = url::Url::parse(url).with_context(|| format!("{url} is not a URL"))?;
    let options: Vec<(String, String)> = std::env::vars()
        .filter(|(k, _)| {
            k.starts_with("AWS_") || k.starts_with("GOOGLE_") || k.starts_with("AZURE_")
        })
        .map(|(k, v)| (k.to_ascii_lowercase(), v))
        .collect();
    // The same bucket name on another endpoint is another destination.
    let destination = match std::env::var("AWS_ENDPOINT") {
        Ok(endpoint) if parsed.scheme() == "s3" => format!("{url} at {endpoint}"),
        _ => url.to_owned(),
    };
    let (store, prefix) = object_store::parse_url_opts(&parsed, options)
        .with_context(|| format!("{url}: unsupported object store"))?;
    let store: Arc<dyn ObjectStore> = Arc::from(store);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(publish_all(ws, &destination, store, prefix, quiet))
}

/// Counts shared by the files of a publication.
#[derive(Default)]
struct Counts {
    uploaded: AtomicUsize,
    copied: AtomicUsize,
    skipped: AtomicUsize,
    bytes_sent: AtomicU64,
}

async fn publish_all(
    ws: &Workspace,
    destination: &str,
    store: Arc<dyn ObjectStore>,
    prefix: ObjectPath,
    quiet: bool,
) -> Result<Published> {
    let public = ws.public_dir();
    let files = plan::served_files(&public)?;
    let location =
        |name: &str| ObjectPath::from(format!("{prefix}/{name}").trim_start_matches('/'));
    let timestamp_location = location("metadata/timestamp.json");

    let (there, listed) = match trusted_record(ws, destination, &*store, &timestamp_location).await
    {
        Ok(names) => (names, false),
        Err(why) => {
            eprintln!("repo: {why}: listing {destination} instead");
            (list(&*store, &prefix).await?, true)
        }
    };

    let to_send: u64 = files
        .iter()
        .filter(|f| needs_upload(f, &there, &location))
        .map(|f| f.size)
        .sum();
    let progress = Progress::bytes(to_send, "publishing", quiet);
    let transfer = Transfer::new(store, progress.clone());
    let counts = Counts::default();
    for phase in Phase::ALL {
        futures::stream::iter(files.iter().filter(|f| f.phase == phase))
            .map(|file| publish_file(file, &there, &location, &transfer, &counts))
            .buffer_unordered(FILES_IN_FLIGHT)
            .try_collect::<()>()
            .await?;
    }
    progress.finish();

    // Everything in public/ is now there; what earlier publications sent stays there.
    let mut names = there_if_recorded(there, listed);
    for file in &files {
        for name in &file.names {
            names.insert(location(name).to_string(), file.size);
        }
    }
    let timestamp = std::fs::read(public.join("metadata/timestamp.json"))
        .context("reading public/metadata/timestamp.json")?;
    record::save(
        ws,
        &PublicationRecord {
            destination: destination.to_owned(),
            timestamp_sha256: record::sha256_hex(&timestamp),
            names,
        },
    )?;
    Ok(Published {
        uploaded: counts.uploaded.into_inner(),
        copied: counts.copied.into_inner(),
        skipped: counts.skipped.into_inner(),
        bytes_sent: counts.bytes_sent.into_inner(),
    })
}

/// A listing may hold anything found under the prefix; only names a publication sent go
/// into the record.
fn there_if_recorded(there: PublishedNames, listed: bool) -> PublishedNames {
    if listed {
        PublishedNames::new()
    } else {
        there
    }
}

/// The names of the last publication's record, if it exists and the destination's
/// `timestamp.json` is still the one it sent; otherwise why not.
async fn trusted_record(
    ws: &Workspace,
    destination: &str,
    store: &dyn ObjectStore,
    timestamp: &ObjectPath,
) -> Result<PublishedNames, String> {
    let record = match record::load(ws, destination) {
        Ok(record) => record,
        Err(NoRecord::Missing) => {
            return Err(format!("no record of a publication to {destination}"))
        }
        Err(NoRecord::Unreadable(why)) => {
            return Err(format!(
                "the record of the last publication is unusable ({why})"
            ))
        }
    };
    let found = match store.get(timestamp).await {
        Ok(got) if got.meta.size as u64 <= updater::limits::MAX_TIMESTAMP_BYTES => {
            got.bytes().await.map(|b| record::sha256_hex(&b)).ok()
        }
        _ => None,
    };
    if found.as_deref() != Some(record.timestamp_sha256.as_str()) {
        return Err(format!(
            "{timestamp} at {destination} is not the one the record of the last publication names (published from elsewhere, or the bucket changed)"
        ));
    }
    Ok(record.names)
}

/// Every name under `prefix`, with its size.
async fn list(store: &dyn ObjectStore, prefix: &ObjectPath) -> Result<PublishedNames> {
    store
        .list(Some(prefix))
        .map_ok(|meta| (meta.location.to_string(), meta.size as u64))
        .try_collect::<BTreeMap<_, _>>()
        .await
        .context("listing the destination")
}

/// The names of `file` that must be created.
fn missing_names<'a>(
    file: &'a ServedFile,
    there: &PublishedNames,
    location: &impl Fn(&str) -> ObjectPath,
) -> Vec<&'a str> {
    file.names
        .iter()
        .filter(|name| {
            !file.fixed_content() || there.get(location(name).as_ref()) != Some(&file.size)
        })
        .map(String::as_str)
        .collect()
}

/// Whether `file`'s bytes will be sent (no name of it is there to copy from).
fn needs_upload(
    file: &ServedFile,
    there: &PublishedNames,
    location: &impl Fn(&str) -> ObjectPath,
) -> bool {
    missing_names(file, there, location).len() == file.names.len()
}

/// Creates the names of `file` not yet there: its bytes sent once, under one name, and
/// the others copied on the server from a name already there.
async fn publish_file(
    file: &ServedFile,
    there: &PublishedNames,
    location: &impl Fn(&str) -> ObjectPath,
    transfer: &Transfer,
    counts: &Counts,
) -> Result<()> {
    let missing = missing_names(file, there, location);
    counts
        .skipped
        .fetch_add(file.names.len() - missing.len(), Ordering::Relaxed);
    let Some(first) = missing.first() else {
        return Ok(());
    };
    let (source, to_copy) = match file.names.iter().find(|n| !missing.contains(&n.as_str())) {
        Some(present) => (location(present), &missing[..]),
        None => {
            let to = location(first);
            transfer.send(&file.path, file.size, &to).await?;
            counts.bytes_sent.fetch_add(file.size, Ordering::Relaxed);
            let uploaded = counts.uploaded.fetch_add(1, Ordering::Relaxed) + 1;
            pause_after_uploads(uploaded);
            (to, &missing[1..])
        }
    };
    for name in to_copy {
        transfer.copy(&source, &location(name)).await?;
        counts.copied.fetch_add(1, Ordering::Relaxed);
    }
    Ok(())
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
