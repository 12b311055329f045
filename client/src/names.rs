//! Names that come from metadata and become paths: target names and delegated role names.
//!
//! Both are checked once, while deserializing, so that no code can join an unchecked name
//! onto a folder. A name that passes can be used as a relative path on any platform.

use std::fmt;

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

    /// The folder part (`releases/2.4.1/armv7`), empty for a top-level name.
    pub fn dirname(&self) -> &str {
        self.0.rsplit_once('/').map_or("", |(dir, _)| dir)
    }

    /// The last segment (`app.tar.zst`).
    pub fn basename(&self) -> &str {
        self.0
            .rsplit_once('/')
            .map_or(self.0.as_str(), |(_, base)| base)
    }

    /// The path under `targets/` with consistent snapshots: `dir/<hash>.<basename>`.
    pub fn with_hash_prefix(&self, hash_hex: &str) -> String {
        match self.0.rsplit_once('/') {
            Some((dir, base)) => format!("{dir}/{hash_hex}.{base}"),
            None => format!("{hash_hex}.{}", self.0),
        }
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

    /// True for the four roles that root itself defines.
    pub fn is_top_level(&self) -> bool {
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

/// Percent-encodes every byte except ASCII letters, digits and `-._~` (and `/` if
/// `keep_slash`): python-tuf's quoting of role names, and, keeping `/`, of target paths in
/// URLs.
pub fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
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

    #[test]
    fn hash_prefix_goes_on_the_basename() {
        let n = TargetName::new("releases/1/x86/app.bin").unwrap();
        assert_eq!(n.with_hash_prefix("ab"), "releases/1/x86/ab.app.bin");
        let top = TargetName::new("policy.xml").unwrap();
        assert_eq!(top.with_hash_prefix("ab"), "ab.policy.xml");
    }

    #[test]
    fn role_names() {
        assert_eq!(RoleName::new("policy").unwrap().file_stem(), "policy");
        assert_eq!(RoleName::new("../root").unwrap().file_stem(), "..%2Froot");
        assert_eq!(RoleName::new("a\\b%").unwrap().file_stem(), "a%5Cb%25");
        assert!(serde_json::from_str::<RoleName>("\"\"").is_err());
    }
}
