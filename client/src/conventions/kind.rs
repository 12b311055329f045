//! Artifact kinds: what the device does with each file of a release. `repo add` decides a
//! file's kind from its name and records it in the index (`custom.kind`); the device reads
//! it back from there. Bundles are tar archives unpacked into the release folder, and only
//! in the formats the device's extractor reads ([`BundleFormat`]); `pre-install*` and
//! `post-install*` are maintenance scripts; anything else is a file installed as it is.
//!
//! A compressed tar the device cannot unpack (`.tar.xz`, `.tar.zst`, ...) is refused by
//! `repo add` and, should an index list one as a bundle anyway, by the device, with the
//! same sentence ([`KindError::Unpackable`]).

use super::layout::ReleaseTarget;
use crate::metadata::TargetInfo;
use crate::names::TargetName;

/// The bundle formats the device unpacks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BundleFormat {
    /// `.tar`
    Tar,
    /// `.tar.gz` or `.tgz`
    TarGz,
}

/// Name endings of the bundle formats, as the refusal lists them.
const UNPACKED: &str = ".tar, .tar.gz and .tgz";

/// Compressed tar archives the device has no decompressor for. `repo add` used to call the
/// first two bundles; a name ending so is refused rather than shipped as an opaque file,
/// because whoever named it most likely meant it to be unpacked.
const NOT_UNPACKED: [&str; 7] = [
    ".tar.xz", ".tar.zst", ".tar.bz2", ".tar.lz4", ".txz", ".tzst", ".tbz2",
];

impl BundleFormat {
    /// The format of a bundle named `name`, if the device unpacks it.
    pub fn of(name: &str) -> Option<Self> {
        if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            Some(BundleFormat::TarGz)
        } else if name.ends_with(".tar") {
            Some(BundleFormat::Tar)
        } else {
            None
        }
    }
}

/// What the device does with an artifact.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ArtifactKind {
    /// Unpacked into the release folder.
    Bundle(BundleFormat),
    /// Installed as it is (and given to the installer hook, if any).
    File,
    /// Run in the staging folder before the switch.
    PreInstall,
    /// Run in the release folder after the switch, as part of its trial.
    PostInstall,
}

/// An artifact neither program will handle.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KindError {
    #[error(
        "{relative}: devices cannot unpack {ending} bundles (they unpack {UNPACKED}); repack \
         it as one of those, or rename it (for example to {relative}.bin) to ship it as an \
         opaque file"
    )]
    Unpackable {
        relative: String,
        ending: &'static str,
    },
    #[error("{relative}: unknown artifact kind {kind:?}")]
    Unknown { relative: String, kind: String },
}

impl ArtifactKind {
    /// The kind `repo add` gives the release file at `relative` (its path in the release).
    pub fn of_file(relative: &str) -> Result<Self, KindError> {
        let base = relative.rsplit('/').next().unwrap_or(relative);
        if base.starts_with("pre-install") {
            Ok(ArtifactKind::PreInstall)
        } else if base.starts_with("post-install") {
            Ok(ArtifactKind::PostInstall)
        } else if let Some(format) = BundleFormat::of(base) {
            Ok(ArtifactKind::Bundle(format))
        } else if let Some(ending) = NOT_UNPACKED.iter().find(|e| base.ends_with(*e)) {
            Err(KindError::Unpackable {
                relative: relative.to_owned(),
                ending,
            })
        } else {
            Ok(ArtifactKind::File)
        }
    }

    /// The kind an index entry records (`custom.kind`; none means `file`) for the file at
    /// `relative`: a bundle must be in a format the device unpacks.
    pub(crate) fn from_index(relative: &str, recorded: Option<&str>) -> Result<Self, KindError> {
        match recorded.unwrap_or("file") {
            "bundle" => {
                let base = relative.rsplit('/').next().unwrap_or(relative);
                BundleFormat::of(base)
                    .map(ArtifactKind::Bundle)
                    .ok_or_else(|| KindError::Unpackable {
                        relative: relative.to_owned(),
                        ending: NOT_UNPACKED
                            .iter()
                            .find(|e| base.ends_with(*e))
                            .copied()
                            .unwrap_or("such"),
                    })
            }
            "file" => Ok(ArtifactKind::File),
            "pre-install" => Ok(ArtifactKind::PreInstall),
            "post-install" => Ok(ArtifactKind::PostInstall),
            other => Err(KindError::Unknown {
                relative: relative.to_owned(),
                kind: other.to_owned(),
            }),
        }
    }

    /// The kind the index lists for the artifact `name` (`custom.kind`).
    pub fn listed(name: &TargetName, info: &TargetInfo) -> Result<Self, KindError> {
        let relative = ReleaseTarget::parse(name.as_str())
            .ok()
            .flatten()
            .map_or(name.as_str(), |t| t.relative);
        match info.custom.as_ref().and_then(|c| c.get("kind")) {
            None => Self::from_index(relative, None),
            Some(serde_json::Value::String(kind)) => Self::from_index(relative, Some(&kind)),
            Some(other) => Err(KindError::Unknown {
                relative: relative.to_owned(),
                kind: other.to_string(),
            }),
        }
    }

    /// The name the index records.
    pub fn as_str(self) -> &'static str {
        match self {
            ArtifactKind::Bundle(_) => "bundle",
            ArtifactKind::File => "file",
            ArtifactKind::PreInstall => "pre-install",
            ArtifactKind::PostInstall => "post-install",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_add_names_kinds_by_file_name() {
        for (name, kind) in [
            ("app.tar", ArtifactKind::Bundle(BundleFormat::Tar)),
            ("sub/app.tar.gz", ArtifactKind::Bundle(BundleFormat::TarGz)),
            ("app.tgz", ArtifactKind::Bundle(BundleFormat::TarGz)),
            ("pre-install.sh", ArtifactKind::PreInstall),
            ("post-install-2.sh", ArtifactKind::PostInstall),
            ("app.bin", ArtifactKind::File),
            ("app.tar.xz.bin", ArtifactKind::File),
            ("notes.xz", ArtifactKind::File),
        ] {
            assert_eq!(ArtifactKind::of_file(name), Ok(kind), "{name}");
            // What repo add records, the device reads back as the same kind.
            assert_eq!(
                ArtifactKind::from_index(name, Some(kind.as_str())),
                Ok(kind),
                "{name}"
            );
        }
    }

    /// The sentence `repo add` refuses a `.tar.xz` with is the one a device refuses an index
    /// entry with.
    #[test]
    fn both_sides_refuse_unpackable_bundles_with_one_sentence() {
        let sentence = "share/app.tar.xz: devices cannot unpack .tar.xz bundles (they unpack \
                        .tar, .tar.gz and .tgz); repack it as one of those, or rename it (for \
                        example to share/app.tar.xz.bin) to ship it as an opaque file";
        let by_repo = ArtifactKind::of_file("share/app.tar.xz").unwrap_err();
        let by_device = ArtifactKind::from_index("share/app.tar.xz", Some("bundle")).unwrap_err();
        assert_eq!(by_repo.to_string(), sentence);
        assert_eq!(by_device, by_repo);
        for name in ["a.tar.zst", "a.txz", "a.tar.bz2"] {
            assert!(matches!(
                ArtifactKind::of_file(name),
                Err(KindError::Unpackable { .. })
            ));
        }
        assert!(matches!(
            ArtifactKind::from_index("app.zip", Some("bundle")),
            Err(KindError::Unpackable { ending: "such", .. })
        ));
    }

    #[test]
    fn device_refuses_unknown_kinds() {
        assert_eq!(
            ArtifactKind::from_index("x", Some("driver")),
            Err(KindError::Unknown {
                relative: "x".into(),
                kind: "driver".into()
            })
        );
        assert_eq!(ArtifactKind::from_index("x", None), Ok(ArtifactKind::File));
    }
}
