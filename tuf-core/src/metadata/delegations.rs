//! The `delegations` object of a targets role and the roles it delegates to.
//!
//! Invariant: a `Delegations` holds either listed roles or TAP 15 hash bins, never both
//! (parsing refuses both and neither; writing refuses a value that holds both), and every
//! reader of the roles goes through [`Delegations::roles_in_order`], [`Delegations::roles_for`]
//! or [`Delegations::role`], which hand bins out as ordinary roles, one at a time.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::RoleKeys;
use super::{SuccinctRoles, Threshold};
use crate::key::{KeyId, PublicKey};
use crate::names::{RoleName, TargetName};
use crate::pattern::path_matches;

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
            None => self
                .roles
                .iter()
                .find(|r| &r.name == name)
                .map(Cow::Borrowed),
            Some(bins) => bins.bin_index(name).map(|i| Cow::Owned(bins.bin(i))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            written,
            serde_json::json!({"keys": {}, "succinct_roles": bins})
        );
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
        both.roles = parse(serde_json::json!({"keys": {}, "roles": [role]}))
            .unwrap()
            .roles;
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
}
