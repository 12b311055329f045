//! One artifact of a release as the installer sees it: where its verified copy is and what
//! that copy must hold (the listed bytes, or for an encrypted artifact the plaintext the
//! index recorded).

use std::borrow::Cow;
use std::path::{Path, PathBuf};

use crate::conventions::name_budget::local_file_name;
use crate::conventions::{
    ArtifactKind, Encrypted, EncryptedError, FileMode, KindError, ModeError, ReleaseTarget,
};
use crate::metadata::TargetInfo;
use crate::names::TargetName;

/// One artifact of the release, verified and on local disk: borrowed from the verified
/// index it was planned from, so a release of 100,000 files is not held twice.
#[derive(Clone, Copy, Debug)]
pub struct Artifact<'a> {
    pub name: &'a TargetName,
    pub info: &'a TargetInfo,
    /// Its path inside the release (`app.bin`, `share/data.txt`).
    pub relative: &'a str,
    /// The folder holding its verified download.
    pub downloads: &'a Path,
}

impl Artifact<'_> {
    /// What to do with it, as `repo add` recorded it; a kind the device cannot handle (a
    /// bundle it cannot unpack) is refused with the sentence `repo add` uses.
    pub fn kind(&self) -> Result<ArtifactKind, KindError> {
        ArtifactKind::listed(self.name, self.info)
    }

    /// The mode it is installed with, as `repo add` recorded it (`custom.mode`; none means
    /// 0644); a mode outside 0644 and 0755 is refused.
    pub fn mode(&self) -> Result<FileMode, ModeError> {
        FileMode::listed(self.name, self.info)
    }

    /// Its verified download, named as [`crate::update::client::Client::download`] names it.
    pub fn local(&self) -> PathBuf {
        self.downloads.join(local_file_name(self.name))
    }

    /// What the index says it is encrypted to, if it is encrypted (`custom.encrypted`).
    pub fn encrypted(&self) -> Result<Option<Encrypted>, EncryptedError> {
        Encrypted::listed(self.name, self.info)
    }

    /// The copy the installer reads, and the listing it must match: the download itself, or
    /// for an encrypted artifact its decrypted copy ([`crate::decrypt::plain_path`], written
    /// only once it matched) and the plaintext the index recorded.
    pub fn installed_copy(&self) -> Result<(PathBuf, Cow<'_, TargetInfo>), EncryptedError> {
        Ok(match self.encrypted()? {
            None => (self.local(), Cow::Borrowed(self.info)),
            Some(encrypted) => (
                crate::decrypt::plain_path(self.downloads, self.name, &encrypted),
                Cow::Owned(encrypted.plaintext()),
            ),
        })
    }
}

/// The artifacts of one release and platform from the index (`list`, in its order), with their
/// paths inside the release (after `releases/<release>/<platform>/`), downloaded into `downloads`.
pub fn release_artifacts<'a>(
    list: &'a [(TargetName, TargetInfo)],
    downloads: &'a Path,
) -> Vec<Artifact<'a>> {
    list.iter()
        .map(|(name, info)| Artifact {
            name,
            info,
            relative: ReleaseTarget::parse(name.as_str())
                .ok()
                .flatten()
                .map_or("", |t| t.relative),
            downloads,
        })
        .collect()
}
