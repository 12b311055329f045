//! `repo remove`: unstages a release added by mistake (or one platform of it) before it is
//! signed, leaving the repository as it was before `repo add`: the staged index entry and
//! exactly the artifact files `repo add` wrote for those names (every served name, named by
//! hash), and the folders that only held them. Nothing another staged release lists is
//! touched: artifact names carry the release and platform, so no two releases share one.
//!
//! Published releases never change, so a release (or platform) already signed is refused,
//! pointing at `repo retire`. Every check runs before anything is removed; the staged index
//! changes first, in one atomic step, so an interrupted removal leaves at worst artifact
//! files no index lists, which the next `repo sign` clears with the rest of the staging
//! folder.

use std::collections::BTreeSet;
use std::io;
use std::path::Path;

use anyhow::{bail, Context, Result};
use updater::conventions::{check_label, release_folder, release_target_name, Release};

use crate::catalogue::{Place, Published, StagedReleases, TargetMap};
use crate::publication::Publication;
use crate::workspace::Workspace;

/// What `repo remove` took out of staging.
#[derive(Debug)]
pub struct Removed {
    /// The index entries removed.
    pub files: usize,
    /// The platforms they were for.
    pub platforms: Vec<String>,
}

/// Unstages `release` (every staged platform, or only `platform`), or refuses and changes
/// nothing.
pub fn remove(ws: &Workspace, release: &str, platform: Option<&str>) -> Result<Removed> {
    ws.check_exists()?;
    let release = Release::new(release)?;
    if let Some(platform) = platform {
        check_label("platform", platform)?;
    }
    let staged = StagedReleases::new(ws);
    let published = published_files(ws, &release)?;
    let refuse_published = |what: String| -> Result<Removed> {
        bail!(
            "{what} is published: releases never change, so it cannot be unstaged; `repo retire \
             {} --release {release}` stages it to leave the catalogue",
            ws.root().display()
        )
    };
    let Some(map) = staged.get(&release)? else {
        if published.is_some() {
            return refuse_published(format!("release {release}"));
        }
        bail!("release {release} is not staged: nothing to remove (`repo status` lists what is staged)");
    };
    let published = published.unwrap_or_default();
    // What to take out: the staged entries of the platform (or all), never a published one.
    let prefix = platform.map(|p| release_target_name(&release, p, ""));
    let chosen: TargetMap = map
        .iter()
        .filter(|(name, _)| prefix.as_ref().is_none_or(|p| name.as_str().starts_with(p)))
        .map(|(n, i)| (n.clone(), i.clone()))
        .collect();
    if chosen.is_empty() {
        let platforms = platforms_of(&map, &release).into_iter().collect::<Vec<_>>();
        bail!(
            "release {release} has no staged files for platform {}: nothing to remove (its \
             staged platforms: {})",
            platform.unwrap_or_default(),
            platforms.join(", ")
        );
    }
    if chosen.keys().any(|name| published.contains_key(name)) {
        return refuse_published(match platform {
            Some(platform) => format!("release {release} for {platform}"),
            None => format!("release {release}"),
        });
    }
    let remaining: TargetMap = map
        .into_iter()
        .filter(|(name, _)| !chosen.contains_key(name))
        .collect();

    // The staged index first, in one step: with nothing of its own left, the release's
    // staged file goes (as it was before `repo add`); else it lists what remains.
    let path = staged.path(&release);
    if remaining.is_empty() || remaining == published {
        // `staged/releases/` itself stays, empty, as `repo sign` leaves it.
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        updater::fs::sync_dir(&staged.dir())
            .with_context(|| format!("syncing {}", staged.dir().display()))?;
    } else {
        // As `repo add` writes it (a publication: the same mode, 0644, and durability).
        let mut publication = Publication::new();
        publication.replace(path, StagedReleases::bytes(&remaining)?);
        publication.commit()?;
    }

    remove_artifacts(ws, &chosen)?;
    Ok(Removed {
        files: chosen.len(),
        platforms: platforms_of(&chosen, &release).into_iter().collect(),
    })
}

/// Removes the artifact files `repo add` wrote for `chosen`, and folders they leave empty.
fn remove_artifacts(ws: &Workspace, chosen: &TargetMap) -> Result<()> {
    let base = ws.staged_artifacts_dir();
    for (name, info) in chosen {
        for served in Workspace::served_paths(&base, name, &info.hashes) {
            match std::fs::remove_file(&served) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("removing {}", served.display())),
            }
            let mut dir = served.parent();
            while let Some(d) = dir.filter(|d| d.starts_with(&base) && *d != base) {
                if !remove_empty(d)? {
                    break;
                }
                dir = d.parent();
            }
        }
    }
    updater::fs::sync_dir(&base).with_context(|| format!("syncing {}", base.display()))?;
    Ok(())
}

/// Removes `dir` if it is an empty folder; says whether it did.
fn remove_empty(dir: &Path) -> Result<bool> {
    match std::fs::remove_dir(dir) {
        Ok(()) => Ok(true),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::DirectoryNotEmpty
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e).with_context(|| format!("removing {}", dir.display())),
    }
}

/// The platforms the names of `map` are for.
fn platforms_of(map: &TargetMap, release: &Release) -> BTreeSet<String> {
    let folder = format!("{}/", release_folder(release));
    map.keys()
        .filter_map(|n| n.as_str().strip_prefix(&folder))
        .filter_map(|rest| rest.split('/').next())
        .map(str::to_owned)
        .collect()
}

/// The files of `release` as published, if it is.
fn published_files(ws: &Workspace, release: &Release) -> Result<Option<TargetMap>> {
    let published = Published::load(ws)?;
    let folder = format!("{}/", release_folder(release));
    Ok(match published.place(release) {
        Some(Place::Live(role)) => Some(published.files(ws, role.name.as_str())?),
        Some(Place::Volume(volume)) => Some(
            published
                .files(ws, volume.name.as_str())?
                .into_iter()
                .filter(|(name, _)| name.as_str().starts_with(&folder))
                .collect(),
        ),
        None => None,
    })
}
