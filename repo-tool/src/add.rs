//! `repo add`: stages every file of a release folder into the index.
//!
//! All work happens in `staged/.incoming-<pid>/` first; only when every file has been read,
//! hashed and checked does anything move into `staged/targets/` and the staged index
//! change, as one [`Publication`]. Any error removes the incoming folder and what the
//! publication made, so the repository is left as it was.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::json;
use updater::conventions::name_budget;
use updater::conventions::{check_label, release_target_name, ArtifactKind, Encrypted, FileMode};
use updater::hash::FileDigest;
use updater::metadata::{Hashes, HexDigest, TargetInfo};
use updater::names::TargetName;

use crate::catalogue::{Place, Published, StagedReleases, TargetMap};
use crate::encrypt::{encrypt_file, take_encrypted, Encryption};
use crate::ingest::copy_and_hash;
use crate::parallel;
use crate::progress::Progress;
use crate::publication::{Content, Publication};
use crate::release_dir::release_files;
use crate::workspace::Workspace;

/// What one release folder is: labels checked by the one label rule.
#[derive(Clone, Debug)]
pub struct Release {
    pub(crate) version: updater::conventions::Release,
    pub(crate) platform: String,
}

impl Release {
    /// Checks `version` and `platform` against the label rule.
    pub fn new(version: &str, platform: &str) -> Result<Self> {
        let version = updater::conventions::Release::new(version)?;
        check_label("platform", platform)?;
        Ok(Release {
            version,
            platform: platform.to_owned(),
        })
    }
}

/// One file of the release folder, about to be ingested.
struct SourceFile {
    path: PathBuf,
    name: TargetName,
    kind: ArtifactKind,
    /// The mode devices install it with, from its permission bits (the conventions' rule).
    mode: FileMode,
}

/// What `repo add` did.
#[derive(Debug)]
pub struct AddSummary {
    pub files: usize,
    pub bytes: u64,
    pub already_present: bool,
}

/// The files of `dir` and their target names, every name checked against the name budget
/// before anything is written.
fn collect_files(
    dir: &Path,
    release: &Release,
    encryption: Encryption<'_>,
) -> Result<Vec<SourceFile>> {
    let mut files = Vec::new();
    for mut file in release_files(dir)? {
        if let Encryption::Already(_) = encryption {
            // `app.bin.age` is installed as `app.bin`.
            if let Some(plain) = file.relative.strip_suffix(".age") {
                file.relative = plain.to_owned();
            }
        }
        // Refused before anything is written: a bundle no device can unpack.
        let kind = ArtifactKind::of_file(&file.relative)
            .with_context(|| format!("refusing {}", file.path.display()))?;
        let name = release_target_name(&release.version, &release.platform, &file.relative);
        if files.iter().any(|f: &SourceFile| f.name.as_str() == name) {
            bail!(
                "{} would be installed as {name}, like another file of the folder: rename one",
                file.path.display()
            );
        }
        let fits = TargetName::new(name.clone())
            .map_err(|e| e.to_string())
            .and_then(|n| {
                name_budget::check(&n)
                    .map(|()| n)
                    .map_err(|e| e.to_string())
            });
        let name = fits.map_err(|e| {
            anyhow!(
                "{}: its target name {name:?} {e}; rename it (or its folders) and add the \
                 release again",
                file.path.display()
            )
        })?;
        let bits = std::fs::metadata(&file.source)
            .with_context(|| format!("reading {}", file.source.display()))?
            .permissions()
            .mode();
        files.push(SourceFile {
            path: file.source,
            kind,
            name,
            mode: FileMode::of_permissions(bits),
        });
    }
    Ok(files)
}

/// The index entry of one file: its digests, and in `custom` its release, platform, kind,
/// the mode devices install it with and, if encrypted, its plaintext.
fn target_info(
    digest: &FileDigest,
    release: &Release,
    file: &SourceFile,
    encrypted: Option<&Encrypted>,
) -> TargetInfo {
    let mut custom = json!({
        "release": release.version,
        "platform": release.platform,
        "kind": file.kind.as_str(),
        "mode": file.mode.as_str(),
    });
    if let Some(encrypted) = encrypted {
        custom["encrypted"] = json!(encrypted);
    }
    TargetInfo {
        length: digest.length,
        hashes: Hashes::from([
            ("sha256".to_owned(), HexDigest(digest.sha256.0.to_vec())),
            ("sha512".to_owned(), HexDigest(digest.sha512.0.to_vec())),
        ]),
        custom: Some(custom.into()),
    }
}

/// Adds the files of `dir` as `release`, encrypted to `encrypt_to` if given. Adding the
/// same release again with the same bytes (and recipients, and modes) changes nothing; with
/// different bytes (or a different set of files, other recipients, or a file that became
/// executable or stopped being so) it is refused: a published release never changes, and a
/// device installs a file's mode as part of its content.
pub fn add(
    ws: &Workspace,
    dir: &Path,
    release: &Release,
    encryption: Encryption<'_>,
    quiet: bool,
) -> Result<AddSummary> {
    ws.check_exists()?;
    let files = collect_files(dir, release, encryption)?;
    crate::catalogue::migrate_staged(ws)?;
    let mut index = release_so_far(ws, &StagedReleases::new(ws), release)?;
    let prefix = release_target_name(&release.version, &release.platform, "");
    let existing: BTreeMap<TargetName, TargetInfo> = index
        .iter()
        .filter(|(name, _)| name.as_str().starts_with(&prefix))
        .map(|(n, i)| (n.clone(), i.clone()))
        .collect();

    let incoming = ws
        .staged_dir()
        .join(format!(".incoming-{}", std::process::id()));
    std::fs::create_dir_all(&incoming)
        .with_context(|| format!("creating {}", incoming.display()))?;
    let result = (|| -> Result<AddSummary> {
        let total: u64 = files
            .iter()
            .map(|f| std::fs::metadata(&f.path).map(|m| m.len()).unwrap_or(0))
            .sum();
        let digests = ingest(&files, &incoming, encryption, total, quiet)?;
        let new: BTreeMap<&TargetName, TargetInfo> = files
            .iter()
            .zip(&digests)
            .map(|(f, (d, e))| (&f.name, target_info(d, release, f, e.as_ref())))
            .collect();
        if !existing.is_empty() {
            check_same_release(release, &existing, &new)?;
            return Ok(AddSummary {
                files: files.len(),
                bytes: total,
                already_present: true,
            });
        }

        // Everything checked: the artifacts into staging, then the staged index, all at
        // once or not at all.
        let staged = ws.staged_artifacts_dir();
        let mut publication = Publication::new();
        for (i, file) in files.iter().enumerate() {
            let info = &new[&file.name];
            for path in Workspace::served_paths(&staged, &file.name, &info.hashes) {
                publication.versioned(path, Content::LinkOf(incoming.join(i.to_string())));
            }
        }
        for (name, info) in new {
            index.insert(name.clone(), info);
        }
        let path = StagedReleases::new(ws).path(&release.version);
        publication.replace(path, StagedReleases::bytes(&index)?);
        publication.commit()?;
        Ok(AddSummary {
            files: files.len(),
            bytes: total,
            already_present: false,
        })
    })();
    let _ = std::fs::remove_dir_all(&incoming);
    result
}

/// Reads each file once into `incoming/<i>`: copied and hashed, or encrypted, or (already
/// encrypted) copied and opened to record its plaintext. Returns each copy's digests and,
/// when encrypted, what the index records about its plaintext.
fn ingest(
    files: &[SourceFile],
    incoming: &Path,
    encryption: Encryption<'_>,
    total: u64,
    quiet: bool,
) -> Result<Vec<(FileDigest, Option<Encrypted>)>> {
    let doing = match encryption {
        Encryption::To(_) => "encrypting",
        _ => "hashing",
    };
    let progress = Progress::bytes(total, doing, quiet);
    let numbered: Vec<(usize, &SourceFile)> = files.iter().enumerate().collect();
    // Two files per core: while one waits for its O_DIRECT writes, the other hashes.
    let results = parallel::map(&numbered, 2, true, |(i, file)| {
        let dest = incoming.join(i.to_string());
        match encryption {
            Encryption::None => copy_and_hash(&file.path, &dest, &progress)
                .map(|digest| (digest, None))
                .map_err(anyhow::Error::from),
            Encryption::To(recipients) => encrypt_file(&file.path, &dest, recipients, &progress)
                .map(|(encrypted, digest)| (digest, Some(encrypted))),
            Encryption::Already(identity) => take_encrypted(&file.path, &dest, identity, &progress)
                .map(|(encrypted, digest)| (digest, Some(encrypted))),
        }
        .with_context(|| format!("reading {}", file.path.display()))
    });
    progress.finish();
    let mut digests = Vec::with_capacity(files.len());
    for result in results {
        match result {
            Some(Ok(d)) => digests.push(d),
            Some(Err(e)) => return Err(e),
            None => bail!("ingest stopped early"),
        }
    }
    Ok(digests)
}

/// Every file of `release` so far, all platforms: staged, else as published (a release in
/// the history never changes, so a new platform for it is refused here).
fn release_so_far(
    ws: &Workspace,
    staged: &StagedReleases<'_>,
    release: &Release,
) -> Result<TargetMap> {
    refuse_retired(ws, &release.version)?;
    if let Some(files) = staged.get(&release.version)? {
        return Ok(files);
    }
    let published = Published::load(ws)?;
    let folder = format!(
        "{}/",
        updater::conventions::release_folder(&release.version)
    );
    match published.place(&release.version) {
        Some(Place::Live(role)) => Ok(published.files(ws, role.name.as_str())?),
        Some(Place::Volume(volume)) => {
            let files: TargetMap = published
                .files(ws, volume.name.as_str())?
                .into_iter()
                .filter(|(name, _)| name.as_str().starts_with(&folder))
                .collect();
            let platform = release_target_name(&release.version, &release.platform, "");
            if !files.keys().any(|n| n.as_str().starts_with(&platform)) {
                bail!(
                    "release {} is in the history ({}): releases there never change; add {} under a new release",
                    release.version,
                    volume.name,
                    release.platform
                );
            }
            Ok(files)
        }
        None => Ok(TargetMap::new()),
    }
}

/// A retired release's label is never used again: devices that installed it must never meet
/// other bytes under its names, and `repo prune` removes its files by those names.
fn refuse_retired(ws: &Workspace, release: &updater::conventions::Release) -> Result<()> {
    if crate::catalogue::staged_retirements(ws)?.contains(release) {
        bail!("release {release} is staged to retire (`repo retire`): sign that first; a retired release is never added again, use a new release number");
    }
    let folder = format!("{}/", updater::conventions::release_folder(release));
    let retired = crate::sign::read_retired(ws)?;
    if retired.keys().any(|n| n.as_str().starts_with(&folder)) {
        bail!("release {release} was retired: releases never change; add it under a new release number");
    }
    Ok(())
}

fn check_same_release(
    release: &Release,
    existing: &BTreeMap<TargetName, TargetInfo>,
    new: &BTreeMap<&TargetName, TargetInfo>,
) -> Result<()> {
    let differs = |what: String| -> Result<()> {
        bail!(
            "release {} for {} is already in the index with different content ({what}); \
             releases never change: add it under a new release number",
            release.version,
            release.platform
        )
    };
    for (name, info) in new {
        match existing.get(*name) {
            None => differs(format!("{name} is new"))?,
            Some(old) if !same_content(name, old, info)? => {
                differs(format!("{name} has different bytes or recipients"))?
            }
            Some(old) if FileMode::listed(name, old)? != FileMode::listed(name, info)? => {
                differs(format!(
                    "{name} has a different mode ({} now, {} in the index)",
                    FileMode::listed(name, info)?.as_str(),
                    FileMode::listed(name, old)?.as_str()
                ))?
            }
            Some(_) => {}
        }
    }
    for name in existing.keys() {
        if !new.contains_key(name) {
            differs(format!("{name} is missing from the folder"))?;
        }
    }
    Ok(())
}

/// Whether two listings of `name` hold the same release file: the same bytes, or, both
/// encrypted, the same plaintext to the same recipients (age encryption is randomised, so
/// the same file encrypted twice never gives the same bytes).
fn same_content(name: &TargetName, old: &TargetInfo, new: &TargetInfo) -> Result<bool> {
    Ok(
        match (Encrypted::listed(name, old)?, Encrypted::listed(name, new)?) {
            (Some(old), Some(new)) => old == new,
            (None, None) => old.hashes == new.hashes && old.length == new.length,
            _ => false,
        },
    )
}
