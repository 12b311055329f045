//! `repo mirror URL DEST --root ROOT`: a local, verified copy of a repository served
//! elsewhere. Everything is fetched into a temporary sibling of DEST and verified there as
//! `repo verify` does (every root from the trusted one on, every signature, version, expiry
//! and artifact); only then does the copy replace DEST, swapped in with one
//! `renameat2(RENAME_EXCHANGE)`. A tampered upstream leaves DEST as it was, and at no moment
//! is DEST missing or part old, part new.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use rustix::fs::{renameat_with, RenameFlags, CWD};
use rustix::io::Errno;
use updater::datetime::UtcTime;
use updater::fetch::mirrors::{Mirrors, RetryPolicy};
use updater::fetch::store::MetadataStore;
use updater::fetch::{for_location, HttpOptions};
use updater::limits::{MAX_ROOT_BYTES, MAX_SNAPSHOT_BYTES, MAX_TARGETS_BYTES, MAX_TIMESTAMP_BYTES};
use updater::names::RoleName;
use updater::update::client::{Client, FoundTarget};

use crate::verify_repo::verify_repository;
use crate::workspace::Workspace;

/// What a mirror run copied.
pub struct Mirrored {
    pub metadata: usize,
    pub artifacts: usize,
}

/// Copies the repository at `url` into `dest`, trusting `root_bytes`.
pub fn mirror(url: &str, dest: &Path, root_bytes: &[u8]) -> Result<Mirrored> {
    let name = dest
        .file_name()
        .and_then(|n| n.to_str())
        .context("DEST needs a folder name")?;
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if dest.symlink_metadata().is_ok_and(|m| !m.is_dir()) {
        bail!("{} exists and is not a folder", dest.display());
    }
    // An unpredictable name, created O_EXCL; removed when dropped (after the swap below, it
    // holds the old copy).
    let staging = tempfile::Builder::new()
        .prefix(&format!(".{name}.mirror"))
        .tempdir_in(parent)
        .with_context(|| format!("creating a folder beside {}", dest.display()))?;
    // A served folder: readable by the web server, as a folder made by mkdir would be.
    std::fs::set_permissions(staging.path(), std::fs::Permissions::from_mode(0o755))?;
    let done = fetch_into(url, staging.path(), root_bytes)?;
    // Verified: the copy takes DEST's place in one step, so DEST is always wholly the old
    // copy or wholly the new one.
    updater::fs::sync_dir(staging.path())?;
    match renameat_with(CWD, staging.path(), CWD, dest, RenameFlags::EXCHANGE) {
        Ok(()) => {}
        Err(Errno::NOENT) => {
            // No DEST yet: the copy takes the name, unless something took it meanwhile.
            renameat_with(CWD, staging.path(), CWD, dest, RenameFlags::NOREPLACE)
                .with_context(|| format!("writing {}", dest.display()))?;
        }
        Err(e) => {
            return Err(std::io::Error::from(e)).with_context(|| {
                format!(
                    "swapping the verified copy with {} (the file system must support renameat2 RENAME_EXCHANGE)",
                    dest.display()
                )
            })
        }
    }
    updater::fs::sync_dir(parent)?;
    Ok(done)
}

/// Fetches the repository at `url` into `staging` through the updater's own client (so the
/// chain from `root_bytes` is checked as a device checks it), then verifies the copy as a
/// whole.
fn fetch_into(url: &str, staging: &Path, root_bytes: &[u8]) -> Result<Mirrored> {
    let upstream = Upstream::connect(url)?;
    let folders = StagingFolders::create(staging)?;
    let store = MetadataStore::open(&folders.trust)?;
    Client::init(&store, root_bytes, false)?;
    let now = UtcTime::now();
    let mut client = Client::open(store, upstream.metadata, now)
        .context("the upstream repository is refused")?;
    let found = client
        .all_targets()
        .context("the upstream repository is refused")?;
    let copied = copy_metadata(&upstream.raw, &client, &folders.metadata)?;
    copy_artifacts(&client, &found, &upstream.targets, &folders)?;
    std::fs::remove_dir_all(&folders.trust)?;
    std::fs::remove_dir_all(&folders.downloads)?;

    let report = verify_repository(staging, root_bytes, now, true)?;
    if let Some(e) = report.bad_artifacts.first() {
        bail!("the copy does not verify: {e}");
    }
    Ok(Mirrored {
        metadata: copied,
        artifacts: found.len(),
    })
}

/// The upstream repository's folders: `metadata` for the client's verified walk, `raw` for
/// copying the served metadata files as they are, `targets` for the artifacts.
struct Upstream {
    metadata: Mirrors,
    raw: Mirrors,
    targets: Mirrors,
}

impl Upstream {
    fn connect(url: &str) -> Result<Self> {
        let base = url.trim_end_matches('/');
        let metadata_options = HttpOptions {
            total_timeout: Some(Duration::from_secs(300)),
            ..HttpOptions::default()
        };
        let transport = |path: &str, options: &HttpOptions| {
            for_location(&format!("{base}/{path}"), options).map_err(anyhow::Error::msg)
        };
        Ok(Upstream {
            metadata: Mirrors::new(
                vec![transport("metadata", &metadata_options)?],
                RetryPolicy::default(),
            ),
            raw: Mirrors::new(
                vec![transport("metadata", &metadata_options)?],
                RetryPolicy::default(),
            ),
            targets: Mirrors::new(
                vec![transport("targets", &HttpOptions::default())?],
                RetryPolicy::default(),
            ),
        })
    }
}

/// The folders of the copy (`metadata/`, `targets/`) and the client's working folders
/// (`.trust/`, `.downloads/`), removed before the copy is verified.
struct StagingFolders {
    metadata: PathBuf,
    targets: PathBuf,
    trust: PathBuf,
    downloads: PathBuf,
}

impl StagingFolders {
    fn create(staging: &Path) -> Result<Self> {
        let folders = StagingFolders {
            metadata: staging.join("metadata"),
            targets: staging.join("targets"),
            trust: staging.join(".trust"),
            downloads: staging.join(".downloads"),
        };
        for dir in [
            &folders.metadata,
            &folders.targets,
            &folders.trust,
            &folders.downloads,
        ] {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        Ok(folders)
    }
}

/// Copies the served metadata files as they are upstream (every root up to the trusted one,
/// timestamp, the trusted snapshot and every role it lists) into `meta_dir`; they are
/// verified as a whole afterwards. Returns how many files it copied.
fn copy_metadata(raw: &Mirrors, client: &Client, meta_dir: &Path) -> Result<usize> {
    let mut copied = 0;
    let mut copy = |path: String, limit: u64, required: bool| -> Result<()> {
        match raw.fetch(&path, &path, limit, Ok) {
            Ok(bytes) => {
                std::fs::write(meta_dir.join(&path), bytes)?;
                copied += 1;
                Ok(())
            }
            Err(updater::Error::NotFound { .. }) if !required => Ok(()),
            Err(e) => Err(e.into()),
        }
    };
    let latest_root = client.trusted().root().version.get();
    for version in 1..=latest_root {
        copy(format!("{version}.root.json"), MAX_ROOT_BYTES, false)?;
    }
    copy("timestamp.json".into(), MAX_TIMESTAMP_BYTES, true)?;
    let snapshot = client.trusted().snapshot();
    copy(
        format!("{}.snapshot.json", snapshot.version),
        MAX_SNAPSHOT_BYTES,
        true,
    )?;
    for (file, meta) in &snapshot.meta {
        let role =
            RoleName::new(file.trim_end_matches(".json")).map_err(|e| anyhow::anyhow!("{e}"))?;
        copy(
            format!("{}.{}.json", meta.version, role.file_stem()),
            MAX_TARGETS_BYTES,
            true,
        )?;
    }
    Ok(copied)
}

/// Every artifact, verified on download, copied under every name a client may ask for.
fn copy_artifacts(
    client: &Client,
    found: &[FoundTarget],
    targets: &Mirrors,
    folders: &StagingFolders,
) -> Result<()> {
    for target in found {
        let (local, _) = client.download(target.listing(), targets, &folders.downloads)?;
        for path in Workspace::served_paths(&folders.targets, &target.name, &target.info.hashes) {
            let parent = path.parent().context("artifact path has a folder")?;
            std::fs::create_dir_all(parent)?;
            std::fs::copy(&local, &path)?;
        }
    }
    Ok(())
}
