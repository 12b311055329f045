//! The TUF 1.0 metadata model: root, timestamp, snapshot, targets (with delegations).
//!
//! These types describe structure only. A value of them proves nothing about who wrote it;
//! `verify::Verified<T>` is the only way to hold metadata whose signatures were checked.
//! Deserializing checks every field that later becomes a decision or a path: versions are
//! at least 1, thresholds at least 1, target and role names are safe, hashes are hex.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::datetime::UtcTime;
use crate::key::{KeyId, PublicKey, Signature};
use crate::names::{RoleName, TargetName};
use crate::pattern::path_matches;

mod succinct;

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

/// Digests listed for a file, by algorithm name (`sha512`, `sha256`, ...), as hex.
pub type Hashes = BTreeMap<String, HexDigest>;

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
    pub custom: Option<serde_json::Value>,
}

/// A role that a targets role delegates to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelegatedRole {
    pub name: RoleName,
    pub keyids: Vec<KeyId>,
    pub threshold: Threshold,
    pub terminating: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_hash_prefixes: Option<Vec<String>>,
}

impl DelegatedRole {
    /// Keys and threshold of this role.
    pub fn role_keys(&self) -> RoleKeys {
        RoleKeys {
            keyids: self.keyids.clone(),
            threshold: self.threshold,
        }
    }

    /// Whether this delegation covers `target`.
    pub fn covers(&self, target: &TargetName) -> bool {
        if let Some(patterns) = &self.paths {
            return patterns.iter().any(|p| path_matches(p, target.as_str()));
        }
        if let Some(prefixes) = &self.path_hash_prefixes {
            let digest = crate::hash::Sha256::digest(target.as_str().as_bytes()).to_hex();
            return prefixes.iter().any(|p| digest.starts_with(p.as_str()));
        }
        false
    }
}

/// The `delegations` object of a targets role: the keys, and either a list of roles
/// (`roles`) or TAP 15 hash bins (`succinct_roles`), exactly one of the two. Parsing keeps
/// that invariant (with bins, `roles` is empty) and writing refuses a value that breaks it.
/// Read the roles through [`Delegations::roles_in_order`], [`Delegations::roles_for`] and
/// [`Delegations::role`], which give bins as ordinary roles, one at a time.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "RawDelegations")]
pub struct Delegations {
    pub keys: BTreeMap<KeyId, PublicKey>,
    pub roles: Vec<DelegatedRole>,
    pub succinct_roles: Option<SuccinctRoles>,
}

/// The object as read: `roles` or `succinct_roles`.
#[derive(Deserialize)]
struct RawDelegations {
    #[serde(deserialize_with = "crate::key::deserialize_keys")]
    keys: BTreeMap<KeyId, PublicKey>,
    roles: Option<Vec<DelegatedRole>>,
    succinct_roles: Option<SuccinctRoles>,
}

/// The object as written, borrowing from a [`Delegations`].
#[derive(Serialize)]
struct WrittenDelegations<'a> {
    keys: &'a BTreeMap<KeyId, PublicKey>,
    #[serde(skip_serializing_if = "Option::is_none")]
    roles: Option<&'a Vec<DelegatedRole>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    succinct_roles: Option<&'a SuccinctRoles>,
}

/// Why a `delegations` object was refused for its shape.
const ONE_OF_ROLES_OR_BINS: &str =
    "delegations need exactly one of \"roles\" and \"succinct_roles\"";

impl TryFrom<RawDelegations> for Delegations {
    type Error = &'static str;

    fn try_from(raw: RawDelegations) -> Result<Self, Self::Error> {
        let (roles, succinct_roles) = match (raw.roles, raw.succinct_roles) {
            (Some(roles), None) => (roles, None),
            (None, Some(bins)) => (Vec::new(), Some(bins)),
            _ => return Err(ONE_OF_ROLES_OR_BINS),
        };
        Ok(Delegations {
            keys: raw.keys,
            roles,
            succinct_roles,
        })
    }
}

impl Serialize for Delegations {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let (roles, succinct_roles) = match &self.succinct_roles {
            None => (Some(&self.roles), None),
            Some(bins) if self.roles.is_empty() => (None, Some(bins)),
            Some(_) => return Err(serde::ser::Error::custom(ONE_OF_ROLES_OR_BINS)),
        };
        WrittenDelegations {
            keys: &self.keys,
            roles,
            succinct_roles,
        }
        .serialize(s)
    }
}

/// Delegated roles, borrowed from a list or made one at a time from hash bins.
pub type Roles<'a> = Box<dyn Iterator<Item = Cow<'a, DelegatedRole>> + 'a>;

impl Delegations {
    /// Every delegated role in the order a search considers them: the listed roles, or
    /// the bins from the first to the last (made as the iterator is advanced).
    pub fn roles_in_order(&self) -> Roles<'_> {
        match &self.succinct_roles {
            None => Box::new(self.roles.iter().map(Cow::Borrowed)),
            Some(bins) => Box::new((0..bins.bin_count()).map(|i| Cow::Owned(bins.bin(i)))),
        }
    }

    /// The delegated roles that may list `target`, in search order: the listed roles that
    /// cover it, or the one bin it belongs to (python-tuf's `get_roles_for_target`).
    pub fn roles_for<'a>(&'a self, target: &'a TargetName) -> Roles<'a> {
        match &self.succinct_roles {
            None => Box::new(
                self.roles
                    .iter()
                    .filter(|role| role.covers(target))
                    .map(Cow::Borrowed),
            ),
            Some(bins) => Box::new(std::iter::once(Cow::Owned(bins.bin(bins.bin_for(target))))),
        }
    }

    /// The delegation of role `name`, if this object delegates it (python-tuf's
    /// `get_delegated_role`).
    pub fn role(&self, name: &RoleName) -> Option<Cow<'_, DelegatedRole>> {
        match &self.succinct_roles {
            None => self.roles.iter().find(|r| &r.name == name).map(Cow::Borrowed),
            Some(bins) => bins.bin_index(name).map(|i| Cow::Owned(bins.bin(i))),
        }
    }
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
    fn delegations_hold_exactly_one_of_roles_and_succinct_roles() {
        let bins = serde_json::json!({
            "keyids": ["ab"], "threshold": 2, "bit_length": 3, "name_prefix": "bin",
        });
        let role = serde_json::json!({
            "name": "a", "keyids": [], "threshold": 1, "terminating": false, "paths": ["*"],
        });
        let parse = |value: serde_json::Value| serde_json::from_value::<Delegations>(value);
        let succinct = parse(serde_json::json!({"keys": {}, "succinct_roles": bins})).unwrap();
        assert!(succinct.roles.is_empty());
        // Written back as read: no "roles" appears beside the bins.
        let written = serde_json::to_value(&succinct).unwrap();
        assert_eq!(written, serde_json::json!({"keys": {}, "succinct_roles": bins}));
        assert_eq!(parse(written).unwrap(), succinct);
        for shape in [
            serde_json::json!({"keys": {}}),
            serde_json::json!({"keys": {}, "roles": [role], "succinct_roles": bins}),
            serde_json::json!({"keys": {}, "roles": [], "succinct_roles": bins}),
        ] {
            let e = parse(shape).unwrap_err().to_string();
            assert_eq!(e, ONE_OF_ROLES_OR_BINS);
        }
        let mut both = succinct.clone();
        both.roles = parse(serde_json::json!({"keys": {}, "roles": [role]})).unwrap().roles;
        assert!(serde_json::to_value(&both).is_err());
    }

    #[test]
    fn bins_are_read_as_ordinary_roles_one_at_a_time() {
        let delegations: Delegations = serde_json::from_value(serde_json::json!({
            "keys": {},
            "succinct_roles": {"keyids": [], "threshold": 1, "bit_length": 32, "name_prefix": "b"},
        }))
        .unwrap();
        let name = TargetName::new("hello.txt").unwrap();
        // python-tuf: SuccinctRoles([], 1, 32, "b").get_role_for_target("hello.txt").
        let found: Vec<_> = delegations.roles_for(&name).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].name.as_str(), "b-734cad14");
        assert!(found[0].terminating && found[0].covers(&name));
        let bin = delegations.role(&found[0].name).unwrap();
        assert_eq!(bin.as_ref(), found[0].as_ref());
        assert!(delegations.role(&RoleName::new("b-1").unwrap()).is_none());
        // The first few of 2^32 bins, made on demand.
        let first: Vec<_> = delegations
            .roles_in_order()
            .take(3)
            .map(|r| r.name.to_string())
            .collect();
        assert_eq!(first, ["b-00000000", "b-00000001", "b-00000002"]);
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
