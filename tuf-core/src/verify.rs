//! Turning bytes into verified metadata.
//!
//! `Unverified<T>` is metadata whose structure is checked but whose signatures are not;
//! `Verified<T>` can only be made here, by checking a threshold of signatures. Code that
//! needs trustworthy metadata takes `Verified<T>` and so cannot be handed anything else.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Deref;

use serde_json::Value;

use crate::canonical::to_canonical_bytes;
use crate::error::{Error, RejectedSignature, Result};
use crate::key::{KeyId, PublicKey, Signature, VerifyingKey};
use crate::metadata::{Role, RoleKeys};
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

    /// A body taken as verified without any signature: for this crate's unit tests of
    /// what comes after verification (the delegation walk), never compiled elsewhere.
    #[cfg(test)]
    pub(crate) fn assumed_for_test(signed: T) -> Self {
        Verified { signed }
    }
}

impl<T: Role> Unverified<T> {
    /// Parses a metadata file of role `role` and checks its structure.
    pub fn parse(role: &RoleName, bytes: &[u8]) -> Result<Self> {
        let what = format!("{role}.json");
        let malformed = |reason: String| Error::Malformed {
            what: what.clone(),
            reason,
        };
        let mut envelope: serde_json::Map<String, Value> =
            serde_json::from_slice(bytes).map_err(|e| malformed(e.to_string()))?;
        let signed_value = envelope
            .remove("signed")
            .ok_or_else(|| malformed("no \"signed\" object".into()))?;
        let signatures_value = envelope
            .remove("signatures")
            .ok_or_else(|| malformed("no \"signatures\" list".into()))?;
        let signatures: Vec<Signature> =
            serde_json::from_value(signatures_value).map_err(|e| malformed(e.to_string()))?;
        // Two signatures under one key id make the file ambiguous; python-tuf refuses such
        // files as a whole, and so do we.
        let mut seen = BTreeSet::new();
        if let Some(dup) = signatures.iter().find(|s| !seen.insert(&s.keyid)) {
            return Err(malformed(format!("key {} signs more than once", dup.keyid)));
        }

        let found_type = signed_value
            .get("_type")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if found_type != T::TYPE {
            return Err(Error::WrongType {
                what,
                expected: T::TYPE,
                found: found_type,
            });
        }
        let signed: T = T::deserialize(&signed_value).map_err(|e| malformed(e.to_string()))?;
        signed.check_structure().map_err(malformed)?;
        let major = signed.spec_version().split('.').next().unwrap_or_default();
        if major != "1" || signed.spec_version().split('.').count() < 2 {
            return Err(Error::UnsupportedSpecVersion {
                what,
                found: signed.spec_version().to_owned(),
            });
        }
        let canonical = to_canonical_bytes(&signed_value).map_err(|e| malformed(e.to_string()))?;
        Ok(Unverified {
            role: role.clone(),
            signed,
            canonical,
            signatures,
        })
    }
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
