//! The releases a verified repository offers: release -> platform -> artifacts, read from
//! the target names under `releases/`.
//!
//! Invariant: [`gather`] puts an artifact in the index only as the delegation search for
//! its name answers (`tuf_core::delegation::list_under`): the role trusted for that name,
//! with what that role lists. So what `decide` sees, what `apply` downloads and what
//! `repo` checks a policy against agree, whichever role lists a release. A device gathers
//! only the folders of the releases its policy can send it to ([`releases_for`]), so with
//! a role per release it fetches those roles and no others.

use std::collections::{BTreeMap, BTreeSet};

use tuf_core::delegation::{list_under, TargetsSource};

use crate::conventions::{release_folder, ArtifactKind, KindError, LayoutError, ReleaseTarget};
use crate::conventions::{Release, RELEASES};
use crate::metadata::{TargetInfo, Targets};
use crate::names::TargetName;
use crate::rollout::policy::Policy;

/// Which releases to gather.
#[derive(Clone, Copy, Debug)]
pub enum Wanted<'a> {
    /// These releases, every platform: what a device needs.
    Releases(&'a BTreeSet<Release>),
    /// Every release under `releases/`: what `repo` checks a whole policy against.
    All,
}

/// Why an index could not be gathered: a role could not be had, or a trusted name under
/// `releases/` does not fit the layout.
#[derive(Debug, thiserror::Error)]
pub enum GatherError<E: std::error::Error + 'static> {
    #[error(transparent)]
    Source(E),
    #[error(transparent)]
    Layout(#[from] LayoutError),
}

/// The index of the `wanted` releases, each artifact as the delegation search for its name
/// answers in `source`. The one way both programs build it.
pub fn gather<S>(source: &mut S, wanted: Wanted<'_>) -> Result<Index, GatherError<S::Error>>
where
    S: TargetsSource + ?Sized,
    S::Error: std::error::Error + From<tuf_core::Error> + 'static,
{
    let folders: Vec<String> = match wanted {
        Wanted::Releases(releases) => releases.iter().map(release_folder).collect(),
        Wanted::All => vec![RELEASES.to_owned()],
    };
    let mut index = Index::default();
    for folder in &folders {
        let listed = list_under(source, folder).map_err(GatherError::Source)?;
        index.make_room(listed.names())?;
        for found in listed {
            let (name, _, info) = found.map_err(GatherError::Source)?;
            index.add(name, info)?;
        }
    }
    index.settle();
    Ok(index)
}

/// The releases `policy` can send a device on `channel` to: the channel's target and its
/// stepping stones (none if the policy has no such channel). `decide` looks at no other.
pub fn releases_for(policy: &Policy, channel: &str) -> BTreeSet<Release> {
    let Some(channel) = policy.channels.get(channel) else {
        return BTreeSet::new();
    };
    let target = channel.target.iter().map(|t| t.release.clone());
    target
        .chain(channel.vias.iter().map(|v| v.release.clone()))
        .collect()
}

/// The releases a verified index holds: release -> platform -> artifacts.
#[derive(Clone, Debug, Default)]
pub struct Index {
    releases: BTreeMap<Release, BTreeMap<String, Vec<(TargetName, TargetInfo)>>>,
}

impl Index {
    /// The releases one role lists, as if it were the only role (tests, previews).
    pub fn from_targets(targets: &Targets) -> Result<Self, LayoutError> {
        Self::from_listed(targets.targets.iter().map(|(n, i)| (n.clone(), i.clone())))
    }

    /// Which releases exist for which platforms, without their files: what `repo` checks a
    /// policy against (which releases it names, which devices it strands) without reading
    /// the history's roles.
    pub fn from_platforms(releases: impl IntoIterator<Item = (Release, Vec<String>)>) -> Self {
        let releases = releases
            .into_iter()
            .map(|(r, platforms)| (r, platforms.into_iter().map(|p| (p, Vec::new())).collect()))
            .collect();
        Index { releases }
    }

    /// Reads `releases/<release>/<platform>/<file>` names; other names are not releases.
    /// A name under `releases/` that does not fit the layout refuses the index: skipping it
    /// would hide a release the repository published.
    fn from_listed(
        listed: impl IntoIterator<Item = (TargetName, TargetInfo)>,
    ) -> Result<Self, LayoutError> {
        let mut index = Index::default();
        for (name, info) in listed {
            index.add(name, info)?;
        }
        index.settle();
        Ok(index)
    }

    /// Makes room for `names` (those in the layout) in their platforms' lists at once, so
    /// a release of 100,000 files is not held again in the spare room of lists grown by
    /// doubling.
    fn make_room(&mut self, names: &[TargetName]) -> Result<(), LayoutError> {
        let mut counts: BTreeMap<(Release, &str), usize> = BTreeMap::new();
        for name in names {
            if let Some(file) = ReleaseTarget::parse(name.as_str())? {
                *counts.entry((file.release, file.platform)).or_default() += 1;
            }
        }
        for ((release, platform), count) in counts {
            let files = self
                .releases
                .entry(release)
                .or_default()
                .entry(platform.to_owned())
                .or_default();
            files.reserve_exact(count);
        }
        Ok(())
    }

    /// Adds one listed file as [`Index::from_listed`] reads it; other names are skipped.
    fn add(&mut self, name: TargetName, info: TargetInfo) -> Result<(), LayoutError> {
        let Some(file) = ReleaseTarget::parse(name.as_str())? else {
            return Ok(());
        };
        let files = self
            .releases
            .entry(file.release)
            .or_default()
            .entry(file.platform.to_owned())
            .or_default();
        files.push((name, info));
        Ok(())
    }

    /// Puts each platform's files in name order (each name is listed once), and drops the
    /// platforms [`Index::make_room`] made room for whose files no search answered: a
    /// release is in the index only with files a device may install.
    fn settle(&mut self) {
        for platforms in self.releases.values_mut() {
            platforms.retain(|_, files| !files.is_empty());
            for files in platforms.values_mut() {
                files.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            }
        }
        self.releases.retain(|_, platforms| !platforms.is_empty());
    }

    /// Why the device could not install `release` for `platform` as listed: an artifact of
    /// a kind it does not handle (a bundle in a format it cannot unpack). The same sentence
    /// `repo add` refuses such a file with.
    pub(crate) fn unusable(&self, release: &Release, platform: &str) -> Option<KindError> {
        self.artifacts(release, platform)?
            .iter()
            .find_map(|(name, info)| ArtifactKind::listed(name, info).err())
    }

    /// Every release the index holds, lowest first.
    pub fn releases(&self) -> impl Iterator<Item = &Release> {
        self.releases.keys()
    }

    /// Whether the index holds `release` for any platform.
    pub fn has_release(&self, release: &Release) -> bool {
        self.releases.contains_key(release)
    }

    /// The artifacts of `release` for `platform`.
    pub fn artifacts(
        &self,
        release: &Release,
        platform: &str,
    ) -> Option<&[(TargetName, TargetInfo)]> {
        self.releases.get(release)?.get(platform).map(Vec::as_slice)
    }

    /// The platforms `release` has artifacts for.
    pub fn platforms(&self, release: &Release) -> Vec<&str> {
        self.releases
            .get(release)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default()
    }
}

/// For tests: a top-level targets listing of `names`, each one byte long.
#[cfg(test)]
pub(crate) fn targets_listing(names: &[&str]) -> crate::metadata::Targets {
    let targets: serde_json::Map<String, serde_json::Value> = names
        .iter()
        .map(|n| {
            let info = serde_json::json!({"length": 1, "hashes": {"sha512": "00"}});
            (n.to_string(), info)
        })
        .collect();
    serde_json::from_value(serde_json::json!({
        "_type": "targets", "spec_version": "1.0.31", "version": 1,
        "expires": "2030-01-01T00:00:00Z", "targets": targets
    }))
    .expect("a valid listing")
}

/// For tests: an index holding `releases/R/P/app.bin` for each `(R, P)`.
#[cfg(test)]
pub(crate) fn of_release_files(files: &[(&str, &str)]) -> Index {
    let names: Vec<String> = files
        .iter()
        .map(|(r, p)| format!("releases/{r}/{p}/app.bin"))
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    Index::from_targets(&targets_listing(&names)).expect("names in the layout")
}
