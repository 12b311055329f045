//! The TUF 1.0 metadata model: root, timestamp, snapshot, targets (with delegations).
//!
//! These types describe structure only. A value of them proves nothing about who wrote it;
//! `verify::Verified<T>` is the only way to hold metadata whose signatures were checked.
//! Deserializing checks every field that later becomes a decision or a path: versions are
//! at least 1, thresholds at least 1, target and role names are safe, hashes are hex.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::datetime::UtcTime;
use crate::key::{KeyId, PublicKey, Signature};
use crate::names::{RoleName, TargetName};

mod custom;
mod delegations;
mod hashes;
mod succinct;

pub use custom::Custom;
pub use delegations::{DelegatedRole, Delegations, Roles};
pub use hashes::Hashes;
pub use succinct::{BitLength, SuccinctRoles};

/// The TUF specification version we write.
pub const SPEC_VERSION: &str = "1.0.31";

/// A metadata version: an integer of at least 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Version(u64);

impl Version {
    /// The first version of any role.
    pub const FIRST: Version = Version(1);

    /// `n`, if it is at least 1.
    pub fn new(n: u64) -> Option<Self> {
        (n >= 1).then_some(Version(n))
    }

    /// The number.
    pub fn get(&self) -> u64 {
        self.0
    }

    /// The next version.
    pub fn next(&self) -> Version {
        Version(self.0.saturating_add(1))
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u64::deserialize(d)?;
        Version::new(n).ok_or_else(|| serde::de::Error::custom("version must be at least 1"))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "v{}", self.0)
    }
}

/// A signature threshold: an integer of at least 1.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct Threshold(u32);

impl Threshold {
    /// `n`, if it is at least 1.
    pub fn new(n: u32) -> Option<Self> {
        (n >= 1).then_some(Threshold(n))
    }

    /// The number.
    pub fn get(&self) -> u32 {
        self.0
    }
}

impl<'de> Deserialize<'de> for Threshold {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = u32::deserialize(d)?;
        Threshold::new(n).ok_or_else(|| serde::de::Error::custom("threshold must be at least 1"))
    }
}

impl fmt::Display for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Threshold {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "threshold {}", self.0)
    }
}

/// A digest as raw bytes, written as lowercase hex.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct HexDigest(pub Vec<u8>);

impl Serialize for HexDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for HexDigest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        hex::decode(&raw)
            .map(HexDigest)
            .map_err(|e| serde::de::Error::custom(format!("digest {raw:?} is not hex: {e}")))
    }
}

impl fmt::Debug for HexDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(&self.0))
    }
}

/// Which top-level roles a metadata type is.
pub trait Role: serde::de::DeserializeOwned + Serialize + Clone {
    /// The `_type` field this metadata carries.
    const TYPE: &'static str;
    /// Its `version` field.
    fn version(&self) -> Version;
    /// Its `expires` field.
    fn expires(&self) -> UtcTime;
    /// Its `spec_version` field.
    fn spec_version(&self) -> &str;
    /// Rules that span fields, checked before any signature is.
    fn check_structure(&self) -> Result<(), String>;
}

/// Keys and threshold of one role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleKeys {
    pub keyids: Vec<KeyId>,
    pub threshold: Threshold,
}

/// `root.json`: the keys of every top-level role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Root {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub consistent_snapshot: bool,
    pub version: Version,
    pub expires: UtcTime,
    #[serde(deserialize_with = "crate::key::deserialize_keys")]
    pub keys: BTreeMap<KeyId, PublicKey>,
    pub roles: BTreeMap<String, RoleKeys>,
}

impl Root {
    fn structure_errors(&self) -> Result<(), String> {
        for role in ["root", "timestamp", "snapshot", "targets"] {
            if !self.roles.contains_key(role) {
                return Err(format!("root defines no {role:?} role"));
            }
        }
        Ok(())
    }

    /// Keys and threshold of top-level `role`.
    pub fn role_keys(&self, role: &RoleName) -> Option<&RoleKeys> {
        self.roles.get(role.as_str())
    }
}

/// Version (and optionally length and hashes) of one metadata file, as listed by timestamp
/// and snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetaFile {
    pub version: Version,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hashes: Option<Hashes>,
}

/// `timestamp.json`: pins the current snapshot.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Timestamp {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub version: Version,
    pub expires: UtcTime,
    pub meta: BTreeMap<String, MetaFile>,
}

impl Timestamp {
    fn structure_errors(&self) -> Result<(), String> {
        if self.meta.len() != 1 || self.snapshot_meta().is_none() {
            return Err("timestamp must list exactly \"snapshot.json\"".into());
        }
        Ok(())
    }

    /// The snapshot this timestamp pins.
    pub fn snapshot_meta(&self) -> Option<&MetaFile> {
        self.meta.get("snapshot.json")
    }
}

/// `snapshot.json`: pins the version of every targets role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub version: Version,
    pub expires: UtcTime,
    pub meta: BTreeMap<String, MetaFile>,
}

impl Snapshot {
    fn structure_errors(&self) -> Result<(), String> {
        Ok(())
    }

    /// What this snapshot lists for targets role `role`.
    pub fn role_meta(&self, role: &RoleName) -> Option<&MetaFile> {
        self.meta.get(&format!("{role}.json"))
    }
}

/// One artifact: its length and digests, plus our `custom` fields.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    pub length: u64,
    pub hashes: Hashes,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<Custom>,
}

/// `targets.json` or a delegated targets role: THE INDEX of artifacts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Targets {
    #[serde(rename = "_type")]
    pub type_: String,
    pub spec_version: String,
    pub version: Version,
    pub expires: UtcTime,
    pub targets: BTreeMap<TargetName, TargetInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delegations: Option<Delegations>,
}

impl Targets {
    fn structure_errors(&self) -> Result<(), String> {
        let Some(delegations) = &self.delegations else {
            return Ok(());
        };
        let mut names = std::collections::BTreeSet::new();
        for role in &delegations.roles {
            if role.name.is_top_level() {
                return Err(format!(
                    "a delegated role may not be called {:?}",
                    role.name.as_str()
                ));
            }
            if !names.insert(&role.name) {
                return Err(format!("role {:?} is delegated twice", role.name.as_str()));
            }
            if role.paths.is_some() == role.path_hash_prefixes.is_some() {
                return Err(format!(
                    "role {:?} needs exactly one of \"paths\" and \"path_hash_prefixes\"",
                    role.name.as_str()
                ));
            }
        }
        Ok(())
    }
}

macro_rules! impl_role {
    ($ty:ty, $name:literal) => {
        impl Role for $ty {
            const TYPE: &'static str = $name;
            fn version(&self) -> Version {
                self.version
            }
            fn expires(&self) -> UtcTime {
                self.expires
            }
            fn spec_version(&self) -> &str {
                &self.spec_version
            }
            fn check_structure(&self) -> Result<(), String> {
                <$ty>::structure_errors(self)
            }
        }
    };
}

impl_role!(Root, "root");
impl_role!(Timestamp, "timestamp");
impl_role!(Snapshot, "snapshot");
impl_role!(Targets, "targets");

/// A metadata file as written: the signed body and its signatures.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Envelope<T> {
    pub signatures: Vec<Signature>,
    pub signed: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_thresholds_start_at_one() {
        assert!(serde_json::from_str::<Version>("0").is_err());
        assert!(serde_json::from_str::<Version>("-1").is_err());
        assert_eq!(serde_json::from_str::<Version>("3").unwrap().get(), 3);
        assert!(serde_json::from_str::<Threshold>("0").is_err());
    }

    #[test]
    fn expiry_dates_outside_years_1970_to_9999_are_refused() {
        let timestamp = |expires: &str| {
            serde_json::from_value::<Timestamp>(serde_json::json!({
                "_type": "timestamp", "spec_version": "1.0.31", "version": 1,
                "expires": expires,
                "meta": {"snapshot.json": {"version": 1}},
            }))
        };
        assert!(timestamp("2030-01-01T00:00:00Z").is_ok());
        assert!(timestamp("9999-12-31T23:59:59Z").is_ok());
        for (expires, why) in [
            ("-2030-01-01T00:00:00Z", "is not a time of the form"),
            ("+2030-01-01T00:00:00Z", "is not a time of the form"),
            ("10000-01-01T00:00:00Z", "is not a time of the form"),
            ("1969-12-31T23:59:59Z", "is before 1970-01-01T00:00:00Z"),
        ] {
            let e = timestamp(expires).unwrap_err().to_string();
            assert!(e.contains(&format!("{expires:?} {why}")), "{expires}: {e}");
        }
    }
}
