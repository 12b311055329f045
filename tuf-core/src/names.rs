//! Names that come from metadata and become paths: target names and delegated role names.
//!
//! Both are checked once, while deserializing, so that no code can join an unchecked name
//! onto a folder. A name that passes can be used as a relative path on any platform.

use std::fmt;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use serde::{Deserialize, Deserializer, Serialize};

/// Longest target or role name accepted; longer names are an attack or a mistake.
const MAX_NAME_LEN: usize = 1024;

/// Why a name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("is empty")]
    Empty,
    #[error("is longer than {MAX_NAME_LEN} bytes")]
    TooLong,
    #[error("is an absolute path")]
    Absolute,
    #[error("contains a '..' segment")]
    ParentSegment,
    #[error("contains a '.' segment")]
    CurrentSegment,
    #[error("contains an empty path segment")]
    EmptySegment,
    #[error("contains a backslash")]
    Backslash,
    #[error("contains a control character")]
    Control,
}

fn check_common(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong);
    }
    if name.contains('\\') {
        return Err(NameError::Backslash);
    }
    if name.chars().any(char::is_control) {
        return Err(NameError::Control);
    }
    Ok(())
}

/// A target path such as `releases/2.4.1/armv7/app.tar.zst`: relative, `/`-separated,
/// with no `..`, `.` or empty segment and no backslash.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct TargetName(String);

impl TargetName {
    /// Checks `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        check_common(&name)?;
        if name.starts_with('/') {
            return Err(NameError::Absolute);
        }
        for segment in name.split('/') {
            match segment {
                "" => return Err(NameError::EmptySegment),
                ".." => return Err(NameError::ParentSegment),
                "." => return Err(NameError::CurrentSegment),
                _ => {}
            }
        }
        Ok(TargetName(name))
    }

    /// The name as written in metadata.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (`app.tar.zst`).
    pub fn basename(&self) -> &str {
        self.0
            .rsplit_once('/')
            .map_or(self.0.as_str(), |(_, base)| base)
    }
}

impl<'de> Deserialize<'de> for TargetName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        TargetName::new(raw.clone())
            .map_err(|e| serde::de::Error::custom(format!("target name {raw:?} {e}")))
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TargetName({:?})", self.0)
    }
}

/// A role name: `root`, `targets`, or a delegated role such as `policy`. Delegated names are
/// chosen by whoever delegates, so any non-empty string is accepted; it becomes a file name
/// only through [`RoleName::file_stem`], which percent-encodes every byte that could change
/// the meaning of a path.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct RoleName(String);

impl RoleName {
    /// Checks `name`.
    pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
        let name = name.into();
        if name.is_empty() {
            return Err(NameError::Empty);
        }
        if name.len() > MAX_NAME_LEN {
            return Err(NameError::TooLong);
        }
        Ok(RoleName(name))
    }

    /// A name known to be valid at compile time.
    fn fixed(name: &'static str) -> Self {
        RoleName(name.to_owned())
    }

    /// `root`.
    pub fn root() -> Self {
        Self::fixed("root")
    }
    /// `timestamp`.
    pub fn timestamp() -> Self {
        Self::fixed("timestamp")
    }
    /// `snapshot`.
    pub fn snapshot() -> Self {
        Self::fixed("snapshot")
    }
    /// `targets`.
    pub fn targets() -> Self {
        Self::fixed("targets")
    }

    /// The name as written in metadata.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{self}-{suffix}`: the name of a TAP 15 hash bin. Not checked against the length
    /// limit again: `SuccinctRoles` refuses, while parsing, a prefix whose bins exceed it.
    pub(crate) fn bin(&self, suffix: &str) -> RoleName {
        RoleName(format!("{}-{suffix}", self.0))
    }

    /// True for the four roles that root itself defines.
    pub(crate) fn is_top_level(&self) -> bool {
        matches!(
            self.0.as_str(),
            "root" | "timestamp" | "snapshot" | "targets"
        )
    }

    /// The name as used in file names and URLs (`N.<stem>.json`): every byte other than
    /// ASCII letters, digits and `-._~` percent-encoded, as python-tuf does, so that `/`,
    /// `\` and `%` can never form a path.
    pub fn file_stem(&self) -> String {
        percent_encode(&self.0, false)
    }
}

/// What python-tuf leaves unquoted in a role name: ASCII letters and digits (never in the
/// set) and RFC 3986's other unreserved characters `-._~`. Every other byte, and every byte
/// of a non-ASCII character, is written `%XX` with upper-case hex.
const QUOTED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The same, keeping the `/` between the segments of a target path.
const QUOTED_KEEPING_SLASH: &AsciiSet = &QUOTED.remove(b'/');

/// Percent-encodes every byte except ASCII letters, digits and `-._~` (and `/` if
/// `keep_slash`): python-tuf's quoting of role names, and, keeping `/`, of target paths in
/// URLs. Served and downloaded file names are made with it, so its output must never change
/// (`percent_encoding_is_pinned`).
pub fn percent_encode(text: &str, keep_slash: bool) -> String {
    let set = if keep_slash {
        QUOTED_KEEPING_SLASH
    } else {
        QUOTED
    };
    utf8_percent_encode(text, set).to_string()
}

impl<'de> Deserialize<'de> for RoleName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        RoleName::new(raw.clone())
            .map_err(|e| serde::de::Error::custom(format!("role name {raw:?} {e}")))
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoleName({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_names() {
        assert!(TargetName::new("releases/2.4.1/armv7/app.tar.zst").is_ok());
        assert!(TargetName::new("a..b/c.d").is_ok());
        assert_eq!(TargetName::new("../x"), Err(NameError::ParentSegment));
        assert_eq!(TargetName::new("a/../x"), Err(NameError::ParentSegment));
        assert_eq!(TargetName::new("/etc/passwd"), Err(NameError::Absolute));
        assert_eq!(TargetName::new("a//b"), Err(NameError::EmptySegment));
        assert_eq!(TargetName::new("a/"), Err(NameError::EmptySegment));
        assert_eq!(TargetName::new("a\\b"), Err(NameError::Backslash));
        assert_eq!(TargetName::new("./a"), Err(NameError::CurrentSegment));
        assert_eq!(TargetName::new(""), Err(NameError::Empty));
        assert_eq!(TargetName::new("a\0b"), Err(NameError::Control));
    }

    /// Served file names and URLs are made from these: a change would orphan every file
    /// already published (and disagree with python-tuf, which quotes the same way).
    #[test]
    fn percent_encoding_is_pinned() {
        for (text, keep_slash, encoded) in [
            (
                "releases/2.4.1/armv7/app.tar.zst",
                true,
                "releases/2.4.1/armv7/app.tar.zst",
            ),
            (
                "releases/2.4.1/armv7/app.tar.zst",
                false,
                "releases%2F2.4.1%2Farmv7%2Fapp.tar.zst",
            ),
            ("a b+c~d_e-f.g", true, "a%20b%2Bc~d_e-f.g"),
            (
                "100%/x?y#z&=;:@!$'()*,",
                true,
                "100%25/x%3Fy%23z%26%3D%3B%3A%40%21%24%27%28%29%2A%2C",
            ),
            (
                "Прошивка.bin",
                false,
                "%D0%9F%D1%80%D0%BE%D1%88%D0%B8%D0%B2%D0%BA%D0%B0.bin",
            ),
            ("固件/é", true, "%E5%9B%BA%E4%BB%B6/%C3%A9"),
            ("tab\tnl\n\u{7f}", false, "tab%09nl%0A%7F"),
            (
                "[x]{y}|^`\"<>\\",
                false,
                "%5Bx%5D%7By%7D%7C%5E%60%22%3C%3E%5C",
            ),
        ] {
            assert_eq!(percent_encode(text, keep_slash), encoded, "{text:?}");
        }
    }

    #[test]
    fn role_names() {
        assert_eq!(RoleName::new("policy").unwrap().file_stem(), "policy");
        assert_eq!(RoleName::new("../root").unwrap().file_stem(), "..%2Froot");
        assert_eq!(RoleName::new("a\\b%").unwrap().file_stem(), "a%5Cb%25");
        assert!(serde_json::from_str::<RoleName>("\"\"").is_err());
    }
}
