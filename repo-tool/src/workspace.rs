//! The on-disk layout of a repository folder, kept in one place.
//!
//! ```text
//! REPO/repo.toml              admin's settings (expiry periods); never served
//! REPO/staged/targets.json    the index being edited, unsigned; never served
//! REPO/staged/policy.xml      the rollout policy checked by `repo policy set`; never served
//! REPO/staged/targets/...     artifacts added but not yet signed; never served
//! REPO/public/metadata/...    served: N.root.json, timestamp.json, N.snapshot.json, ...
//! REPO/public/targets/...     served: <dir>/<sha512>.<name> and its <sha256> hard link
//! ```
//! Only `public/` is served, so nothing served ever holds a private key or an unsigned
//! file: artifacts move there when `repo sign` publishes metadata that lists them.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use updater::conventions::served;
use updater::fs::read_bounded;
use updater::limits::MAX_ROOT_BYTES;
use updater::metadata::{Hashes, Root, Targets, Version};
use updater::names::TargetName;
use updater::trusted::verify_self_signed_root;
use updater::verify::Verified;

use crate::period::Period;

/// `exported-versions.toml`: the newest snapshot and timestamp versions signed for an
/// archive only (`repo export --valid-for`). The online repository's next versions go past
/// them, so a device that read the archive and later goes online never meets two different
/// files under one version.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExportedVersions {
    pub snapshot: u64,
    pub timestamp: u64,
}

impl ExportedVersions {
    /// `version`, or the first version past `floor` if that is newer.
    pub(crate) fn past(version: Version, floor: u64) -> Version {
        Version::new(floor.saturating_add(1)).map_or(version, |first| version.max(first))
    }
}

/// Paths inside one repository folder.
#[derive(Clone, Debug)]
pub struct Workspace {
    root: PathBuf,
}

/// Expiry period of each role, as kept in `repo.toml`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub(crate) struct Expiry {
    pub(crate) root: Period,
    pub(crate) targets: Period,
    pub(crate) snapshot: Period,
    pub(crate) timestamp: Period,
    /// Repositories made before the policy role existed have no entry: 30 days.
    #[serde(default = "default_policy_expiry")]
    pub(crate) policy: Period,
    /// Release roles, volumes and the history (see `catalogue`): ten years unless set.
    #[serde(default = "default_releases_expiry")]
    pub(crate) releases: Period,
}

fn default_releases_expiry() -> Period {
    Period::days(3650)
}

fn default_policy_expiry() -> Period {
    Period::days(30)
}

impl Default for Expiry {
    fn default() -> Self {
        Expiry {
            root: Period::days(365),
            targets: Period::days(90),
            snapshot: Period::days(7),
            timestamp: Period::days(1),
            policy: default_policy_expiry(),
            releases: default_releases_expiry(),
        }
    }
}

/// `repo.toml`: the admin's settings.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub(crate) expiry: Expiry,
    /// Key id -> a name for people (the key file's name when it was added).
    #[serde(default)]
    pub names: std::collections::BTreeMap<String, String>,
    /// How releases are laid out as roles (see `catalogue`).
    #[serde(default)]
    pub(crate) catalogue: CatalogueSettings,
}

impl Workspace {
    /// The repository at `root` (which need not exist yet).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Workspace { root: root.into() }
    }

    /// The repository folder.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }
    /// `repo.toml`.
    pub(crate) fn settings_file(&self) -> PathBuf {
        self.root.join("repo.toml")
    }
    /// `staged/`.
    pub fn staged_dir(&self) -> PathBuf {
        self.root.join("staged")
    }
    /// `staged/targets.json`.
    pub(crate) fn staged_targets_file(&self) -> PathBuf {
        self.staged_dir().join("targets.json")
    }
    /// `staged/policy.xml`: the policy `repo policy set` accepted, published by `repo sign`.
    pub fn staged_policy_file(&self) -> PathBuf {
        self.staged_dir().join("policy.xml")
    }
    /// `staged/targets/`: artifacts added but not yet published.
    pub(crate) fn staged_artifacts_dir(&self) -> PathBuf {
        self.staged_dir().join("targets")
    }
    /// `public/`: the folder to serve.
    pub fn public_dir(&self) -> PathBuf {
        self.root.join("public")
    }
    /// `public/metadata/`.
    pub(crate) fn metadata_dir(&self) -> PathBuf {
        self.public_dir().join("metadata")
    }
    /// `public/targets/`.
    pub(crate) fn artifacts_dir(&self) -> PathBuf {
        self.public_dir().join("targets")
    }

    /// Fails unless this looks like a repository made by `repo init`.
    pub(crate) fn check_exists(&self) -> Result<()> {
        if !self.settings_file().is_file() || !self.metadata_dir().is_dir() {
            bail!(
                "{} is not a repository made by `repo init` (no repo.toml or public/metadata/)",
                self.root.display()
            );
        }
        Ok(())
    }

    /// Reads `repo.toml`.
    pub fn settings(&self) -> Result<Settings> {
        let path = self.settings_file();
        let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_CONFIG_BYTES)?;
        let text = String::from_utf8(bytes).context("repo.toml is not UTF-8")?;
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// Rewrites `repo.toml` atomically.
    pub(crate) fn write_settings(&self, settings: &Settings) -> Result<()> {
        let text = toml::to_string_pretty(settings)?;
        let path = self.settings_file();
        updater::fs::write_atomic(&path, text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))
    }

    /// `exported-versions.toml`.
    pub fn exported_versions_file(&self) -> PathBuf {
        self.root.join("exported-versions.toml")
    }

    /// The versions `repo export --valid-for` used (none: zeros).
    pub fn exported_versions(&self) -> Result<ExportedVersions> {
        let path = self.exported_versions_file();
        if !path.exists() {
            return Ok(ExportedVersions::default());
        }
        let bytes = read_bounded(&path, updater::limits::MAX_CONFIG_BYTES)?;
        let text =
            String::from_utf8(bytes).with_context(|| format!("{} is not UTF-8", path.display()))?;
        toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
    }

    /// Rewrites `exported-versions.toml` atomically (`None`: removes it).
    pub fn write_exported_versions(&self, versions: Option<ExportedVersions>) -> Result<()> {
        let path = self.exported_versions_file();
        match versions {
            Some(v) => {
                let text = format!(
                    "# Written by `repo export --valid-for`: versions used in an archive only.\n{}",
                    toml::to_string_pretty(&v)?
                );
                updater::fs::write_atomic(&path, text.as_bytes())
                    .with_context(|| format!("writing {}", path.display()))
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    Err(e).with_context(|| format!("removing {}", path.display()))
                }
                _ => Ok(()),
            },
        }
    }

    /// The newest `N.root.json` published, verified by its own keys (the admin trusts
    /// their own repository's newest root; devices verify the whole chain).
    pub(crate) fn latest_root(&self) -> Result<(Verified<Root>, PathBuf)> {
        match self.published_root()? {
            Some(found) => Ok(found),
            None if self.staged_dir().join("root.json").is_file() => bail!(
                "root version 1 of {} is staged but not yet signed by a threshold of its root keys: sign it with `repo sign {} --key ROOT_KEY` (on this folder or a copy, then `repo merge`)",
                self.root.display(),
                self.root.display()
            ),
            None => bail!("no N.root.json in {}", self.metadata_dir().display()),
        }
    }

    /// The newest `N.root.json` published, if any (none while root version 1 still gathers
    /// its signatures).
    pub(crate) fn published_root(&self) -> Result<Option<(Verified<Root>, PathBuf)>> {
        let dir = self.metadata_dir();
        let mut best: Option<(u64, PathBuf)> = None;
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let entry = entry?;
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".root.json"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if best.as_ref().is_none_or(|(m, _)| n > *m) {
                best = Some((n, entry.path()));
            }
        }
        let Some((_, path)) = best else {
            return Ok(None);
        };
        let bytes = read_bounded(&path, MAX_ROOT_BYTES)?;
        let root = verify_self_signed_root(&bytes)
            .with_context(|| format!("{} does not verify", path.display()))?;
        Ok(Some((root, path)))
    }

    /// The staged (unsigned) index.
    pub(crate) fn staged_targets(&self) -> Result<Targets> {
        let path = self.staged_targets_file();
        let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TARGETS_BYTES)?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid", path.display()))
    }

    /// The staged index as `staged/targets.json` holds it.
    pub(crate) fn staged_targets_bytes(&self, targets: &Targets) -> Result<Vec<u8>> {
        Ok(serde_json::to_vec_pretty(targets)?)
    }

    /// Writes the staged index atomically.
    pub(crate) fn write_staged_targets(&self, targets: &Targets) -> Result<()> {
        let bytes = self.staged_targets_bytes(targets)?;
        let path = self.staged_targets_file();
        updater::fs::write_atomic(&path, &bytes)
            .with_context(|| format!("writing {}", path.display()))
    }

    /// Every path under `base` (`public/targets` or `staged/targets`) a client may fetch an
    /// artifact by, all hard links of one file: the served names of the conventions.
    pub(crate) fn served_paths(base: &Path, name: &TargetName, hashes: &Hashes) -> Vec<PathBuf> {
        served::served_names(name, hashes)
            .into_iter()
            .map(|n| base.join(n))
            .collect()
    }
}

/// `[catalogue]` in `repo.toml`: how releases are laid out as roles (see `catalogue`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct CatalogueSettings {
    /// How many of the newest releases keep a role of their own.
    pub(crate) live_releases: usize,
    /// Largest volume, in bytes of its signed file (a release larger than this alone gets a
    /// volume of its own).
    pub(crate) volume_bytes: u64,
}

impl Default for CatalogueSettings {
    fn default() -> Self {
        CatalogueSettings {
            live_releases: 32,
            volume_bytes: 4 * 1024 * 1024,
        }
    }
}
