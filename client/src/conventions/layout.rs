//! Where a release's files sit among the target names: `releases/<release>/<platform>/<file>`,
//! `<file>` being the file's path inside the release folder. `repo add` writes names this
//! way; the device's index reading and installer read them back. A name under `releases/`
//! that does not fit (a label outside the rule, no platform, no file) is refused, never
//! skipped: a release silently missing from the device's view is how the two programs used
//! to disagree about labels.

use super::label::{check_label, LabelError};
use super::release::Release;

/// The folder of target names that hold releases.
pub const RELEASES: &str = "releases";

/// The folder of target names holding every file of `release`, all platforms.
pub fn release_folder(release: &Release) -> String {
    format!("{RELEASES}/{release}")
}

/// The target name of the file at `relative` in `release` for `platform`.
pub fn release_target_name(release: &Release, platform: &str, relative: &str) -> String {
    format!("{RELEASES}/{release}/{platform}/{relative}")
}

/// A target name read as a release file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReleaseTarget<'a> {
    pub release: Release,
    pub platform: &'a str,
    /// The file's path inside the release folder.
    pub relative: &'a str,
}

/// A name under `releases/` that is not a release file.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    #[error("target {name}: {source}")]
    Label { name: String, source: LabelError },
    #[error("target {name} is under {RELEASES}/ but not {RELEASES}/<release>/<platform>/<file>")]
    Shape { name: String },
}

impl<'a> ReleaseTarget<'a> {
    /// Reads `name`: `None` for names outside `releases/` (the policy, other targets).
    pub fn parse(name: &'a str) -> Result<Option<Self>, LayoutError> {
        let mut parts = name.splitn(4, '/');
        if parts.next() != Some(RELEASES) {
            return Ok(None);
        }
        let (Some(release), Some(platform), Some(relative)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(LayoutError::Shape {
                name: name.to_owned(),
            });
        };
        let label = |e| LayoutError::Label {
            name: name.to_owned(),
            source: e,
        };
        let release = Release::new(release).map_err(label)?;
        check_label("platform", platform).map_err(label)?;
        Ok(Some(ReleaseTarget {
            release,
            platform,
            relative,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        let release = Release::new(&format!("3.0.0-{}", "x".repeat(94))).unwrap();
        let name = release_target_name(&release, "armv7", "share/data.txt");
        let read = ReleaseTarget::parse(&name).unwrap().unwrap();
        assert_eq!(read.release, release);
        assert_eq!((read.platform, read.relative), ("armv7", "share/data.txt"));
        assert_eq!(ReleaseTarget::parse("policy.xml"), Ok(None));
        assert_eq!(ReleaseTarget::parse("releasesx/1/a/b"), Ok(None));
    }

    #[test]
    fn refuses_names_under_releases_that_do_not_fit() {
        let long = "9".repeat(129);
        let name = format!("releases/{long}/armv7/app.bin");
        assert_eq!(
            ReleaseTarget::parse(&name).unwrap_err().to_string(),
            format!(
                "target {name}: release \"{long}\" must be 1-128 characters of letters, digits \
                 and . _ + - ~ (and not . or ..)"
            )
        );
        assert!(matches!(
            ReleaseTarget::parse("releases/1.0/armv 7/app.bin"),
            Err(LayoutError::Label { .. })
        ));
        assert_eq!(
            ReleaseTarget::parse("releases/1.0/app.bin"),
            Err(LayoutError::Shape {
                name: "releases/1.0/app.bin".into()
            })
        );
    }
}
