//! Turning bytes into verified metadata.
//!
//! `Unverified<T>` is metadata whose structure is checked but whose signatures are not;
//! `Verified<T>` can only be made here, in one of two ways: by checking a threshold of
//! signatures, or ([`Verified::from_listed_bytes`], crate-private, used by the trusted set
//! for the device's own store) by finding bytes that were verified before under the very
//! same keys listed, byte for byte, by a verified parent. Code that needs trustworthy
//! metadata takes `Verified<T>` and so cannot be handed anything else.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::canonical::text_to_canonical_bytes;
use crate::digest::check_meta_bytes;
use crate::error::{Error, RejectedSignature, Result};
use crate::hash::Sha512;
use crate::key::{KeyId, PublicKey, Signature, VerifyingKey};
use crate::metadata::{MetaFile, Role, RoleKeys, Snapshot, Timestamp};
use crate::names::RoleName;

/// Metadata parsed and structurally checked, signatures not yet checked.
#[derive(Debug, Clone)]
pub struct Unverified<T> {
    role: RoleName,
    signed: T,
    canonical: Vec<u8>,
    signatures: Vec<Signature>,
}

/// Metadata whose signatures met the threshold of the keys that were trusted for it.
#[derive(Debug, Clone)]
pub struct Verified<T> {
    signed: T,
    /// The keys and threshold it was verified with.
    key_set: KeySetDigest,
    trusted_by: TrustedBy,
}

/// How a [`Verified`] value came to be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustedBy {
    /// A threshold of the keys trusted for its role signed these bytes, checked now.
    Signatures,
    /// These exact bytes were verified by signatures earlier, under the same keys, and a
    /// verified parent lists them now by hash: checking the signatures again cannot give
    /// another answer.
    ListedHash,
}

/// A digest of the keys and threshold that verified a role: which key ids, which key
/// material under each, how many must sign. A device keeps it beside the bytes it stored,
/// and trusts them again without signatures only while the keys trusted for the role give
/// the same digest (a revoked or replaced key changes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySetDigest(Sha512);

impl KeySetDigest {
    /// The digest of `role_keys`, with each key's material as `keys` gives it.
    pub fn of(keys: &BTreeMap<KeyId, PublicKey>, role_keys: &RoleKeys) -> Self {
        // Every field length-prefixed: key ids are any strings a delegator writes, and
        // without the lengths one set's text could read as another's (an id holding a
        // newline and a second entry).
        let field = |s: &str| format!("{}:{s}", s.len());
        let mut text = format!("threshold {}\n", role_keys.threshold.get());
        let ids: BTreeSet<&KeyId> = role_keys.keyids.iter().collect();
        for id in ids {
            // The key's own id is the SHA-256 of its canonical form: it pins the material.
            let material = keys.get(id).map(|k| field(&k.key_id().to_string()));
            let material = material.unwrap_or_else(|| "-".to_owned());
            text.push_str(&format!("{} {material}\n", field(&id.to_string())));
        }
        KeySetDigest(Sha512::digest(text.as_bytes()))
    }

    /// Lower-case hex, the form it is kept in.
    pub fn to_hex(&self) -> String {
        self.0.to_hex()
    }

    /// Reads the hex form back; `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = hex::decode(text.trim()).ok()?;
        Some(KeySetDigest(Sha512(bytes.try_into().ok()?)))
    }
}

/// A verified role that lists other roles by version, length and hashes.
pub(crate) trait ListsRoles {
    /// What this role lists for `role`.
    fn listing(&self, role: &RoleName) -> Option<&MetaFile>;
}

impl ListsRoles for Timestamp {
    fn listing(&self, role: &RoleName) -> Option<&MetaFile> {
        (role == &RoleName::snapshot())
            .then(|| self.snapshot_meta())
            .flatten()
    }
}

impl ListsRoles for Snapshot {
    fn listing(&self, role: &RoleName) -> Option<&MetaFile> {
        self.role_meta(role)
    }
}

impl<T> Deref for Verified<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.signed
    }
}

impl<T> Verified<T> {
    /// The verified metadata body.
    pub fn signed(&self) -> &T {
        &self.signed
    }

    /// The keys and threshold it was verified with: what a device keeps beside the bytes.
    pub fn key_set(&self) -> &KeySetDigest {
        &self.key_set
    }

    /// Whether its signatures were checked now or its bytes were found listed.
    pub fn trusted_by(&self) -> TrustedBy {
        self.trusted_by
    }

    /// A body taken as verified without any signature: for this crate's unit tests of
    /// what comes after verification (the delegation walk), never compiled elsewhere.
    #[cfg(test)]
    pub(crate) fn assumed_for_test(signed: T) -> Self {
        Verified {
            signed,
            key_set: KeySetDigest(Sha512([0; 64])),
            trusted_by: TrustedBy::Signatures,
        }
    }
}

impl<T: Role> Verified<T> {
    /// The one way to trust metadata without checking its signatures: `stored` are bytes
    /// this device verified earlier under the key set `verified_with` and kept, and
    /// `parent`, verified now, lists role `role` with hashes (and a length) these bytes
    /// match and the version they carry, while `keys` and `role_keys`, trusted for the role
    /// now, are still that key set. Every other check of the caller (expiry, rollback)
    /// still applies to what this returns.
    ///
    /// `None` when any of that does not hold (the parent lists no hash, as python-tuf's
    /// repositories by default; the bytes or the keys changed; the bytes do not parse):
    /// the caller then verifies the signatures as for any other bytes.
    pub(crate) fn from_listed_bytes<P: ListsRoles>(
        parent: &Verified<P>,
        role: &RoleName,
        stored: &[u8],
        verified_with: &KeySetDigest,
        keys: &BTreeMap<KeyId, PublicKey>,
        role_keys: &RoleKeys,
    ) -> Option<Self> {
        let listed = parent.listing(role)?;
        // A length alone is no evidence: only a hash names these exact bytes.
        listed.hashes.as_ref()?;
        check_meta_bytes(&format!("{role}.json"), stored, listed).ok()?;
        let key_set = KeySetDigest::of(keys, role_keys);
        if &key_set != verified_with {
            return None;
        }
        let (signed, _, _) = parse_parts::<T>(role, stored).ok()?;
        if signed.version() != listed.version {
            return None;
        }
        Some(Verified {
            signed,
            key_set,
            trusted_by: TrustedBy::ListedHash,
        })
    }
}

impl<T: Role> Unverified<T> {
    /// Parses a metadata file of role `role` and checks its structure.
    pub fn parse(role: &RoleName, bytes: &[u8]) -> Result<Self> {
        let (signed, signed_text, signatures) = parse_parts::<T>(role, bytes)?;
        let canonical =
            text_to_canonical_bytes(signed_text.get()).map_err(|e| Error::Malformed {
                what: format!("{role}.json"),
                reason: e.to_string(),
            })?;
        Ok(Unverified {
            role: role.clone(),
            signed,
            canonical,
            signatures,
        })
    }
}

/// A metadata file as read: the signed part left as its text (the signatures cover its
/// canonical form, which only a signature check needs), the signatures parsed.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    signed: Option<&'a RawValue>,
    signatures: Option<Vec<Signature>>,
}

/// Just the `_type` of a signed part, read before the rest is typed.
#[derive(Deserialize)]
struct TypeField<'a> {
    #[serde(rename = "_type", borrow, default)]
    type_: Option<Cow<'a, str>>,
}

/// The body (typed and as its JSON text) and the signatures of a metadata file of role
/// `role`, its structure checked. No tree of JSON values is made: a role listing 100,000
/// files is held once, typed.
fn parse_parts<'a, T: Role>(
    role: &RoleName,
    bytes: &'a [u8],
) -> Result<(T, &'a RawValue, Vec<Signature>)> {
    let what = format!("{role}.json");
    let malformed = |reason: String| Error::Malformed {
        what: what.clone(),
        reason,
    };
    let envelope: Envelope<'a> =
        serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
    let signed_text = envelope
        .signed
        .filter(|raw| raw.get().starts_with('{'))
        .ok_or_else(|| malformed("no \"signed\" object".into()))?;
    let signatures = envelope
        .signatures
        .ok_or_else(|| malformed("no \"signatures\" list".into()))?;
    // Two signatures under one key id make the file ambiguous; python-tuf refuses such
    // files as a whole, and so do we.
    let mut seen = BTreeSet::new();
    if let Some(dup) = signatures.iter().find(|s| !seen.insert(&s.keyid)) {
        return Err(malformed(format!("key {} signs more than once", dup.keyid)));
    }

    let found_type = serde_json::from_str::<TypeField<'_>>(signed_text.get())
        .ok()
        .and_then(|t| t.type_)
        .unwrap_or_default();
    if found_type != T::TYPE {
        return Err(Error::WrongType {
            what,
            expected: T::TYPE,
            found: found_type.into_owned(),
        });
    }
    let signed: T =
        serde_json::from_str(signed_text.get()).map_err(|e| malformed(e.to_string()))?;
    signed.check_structure().map_err(malformed)?;
    let major = signed.spec_version().split('.').next().unwrap_or_default();
    if major != "1" || signed.spec_version().split('.').count() < 2 {
        return Err(Error::UnsupportedSpecVersion {
            what,
            found: signed.spec_version().to_owned(),
        });
    }
    Ok((signed, signed_text, signatures))
}

impl<T> Unverified<T> {
    /// The body, for looking at before deciding which keys to check it with. Nothing here
    /// may be trusted.
    pub fn untrusted(&self) -> &T {
        &self.signed
    }

    /// The signatures present.
    pub fn signatures(&self) -> &[Signature] {
        &self.signatures
    }

    /// Which signatures count towards `role_keys` and why the others do not.
    pub fn tally(&self, keys: &BTreeMap<KeyId, PublicKey>, role_keys: &RoleKeys) -> SignatureTally {
        tally_signatures(&self.canonical, &self.signatures, keys, role_keys)
    }

    /// Checks that a threshold of `role_keys` signed, without consuming.
    pub fn check_signatures(
        &self,
        keys: &BTreeMap<KeyId, PublicKey>,
        role_keys: &RoleKeys,
    ) -> Result<()> {
        let tally = self.tally(keys, role_keys);
        if tally.valid.len() as u64 >= u64::from(role_keys.threshold.get()) {
            Ok(())
        } else {
            Err(Error::ThresholdNotMet {
                role: self.role.clone(),
                valid: tally.valid.len() as u32,
                threshold: role_keys.threshold.get(),
                rejected: tally.rejected,
            })
        }
    }

    /// Checks that a threshold of `role_keys` signed and returns the verified metadata.
    pub fn verify(
        self,
        keys: &BTreeMap<KeyId, PublicKey>,
        role_keys: &RoleKeys,
    ) -> Result<Verified<T>> {
        self.check_signatures(keys, role_keys)?;
        Ok(Verified {
            signed: self.signed,
            key_set: KeySetDigest::of(keys, role_keys),
            trusted_by: TrustedBy::Signatures,
        })
    }
}

/// Which signatures counted and why the others did not.
#[derive(Debug, Default)]
pub struct SignatureTally {
    /// Key ids whose signatures counted, each distinct key once.
    pub valid: Vec<KeyId>,
    /// Signatures that did not count, with the reason.
    pub rejected: Vec<RejectedSignature>,
}

/// Counts the valid signatures by distinct keys of `role_keys` over `message`.
fn tally_signatures(
    message: &[u8],
    signatures: &[Signature],
    keys: &BTreeMap<KeyId, PublicKey>,
    role_keys: &RoleKeys,
) -> SignatureTally {
    let mut tally = SignatureTally::default();
    let mut seen_ids = BTreeSet::new();
    // The same key material under two ids must count once, or one key could meet a
    // threshold of two.
    let mut seen_keys: Vec<&VerifyingKey> = Vec::new();
    for signature in signatures {
        let id = &signature.keyid;
        if !role_keys.keyids.contains(id) {
            tally
                .rejected
                .push(RejectedSignature::NotAuthorized(id.clone()));
            continue;
        }
        let Some(key) = keys.get(id) else {
            tally
                .rejected
                .push(RejectedSignature::MissingKey(id.clone()));
            continue;
        };
        if seen_ids.contains(id) || seen_keys.contains(&key.verifying_key()) {
            tally
                .rejected
                .push(RejectedSignature::Duplicate(id.clone()));
            continue;
        }
        match key.verify(message, &signature.sig) {
            Ok(()) => {
                seen_ids.insert(id.clone());
                seen_keys.push(key.verifying_key());
                tally.valid.push(id.clone());
            }
            Err(e) => tally
                .rejected
                .push(RejectedSignature::Invalid(id.clone(), e)),
        }
    }
    tally
}
