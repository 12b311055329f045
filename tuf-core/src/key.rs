//! Public keys as TUF writes them, key ids, and signature verification.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use crate::canonical::to_canonical_bytes;
use crate::hash::Sha256;

/// A key id: by convention the hex SHA-256 of the key's canonical JSON. Root may use any
/// string; we use the ids root gives and compute the conventional one for our own keys.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KeyId(String);

impl KeyId {
    /// A key id as written in metadata.
    pub fn new(id: impl Into<String>) -> Self {
        KeyId(id.into())
    }

    /// The id as written in metadata.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 8 characters, for messages meant for people.
    pub fn short(&self) -> &str {
        self.0.get(..8).unwrap_or(&self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({})", self.short())
    }
}

/// The `keyval` object of a key.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct KeyVal {
    pub public: String,
}

/// A public key as listed in root or in a delegation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PublicKey {
    pub keytype: String,
    pub scheme: String,
    pub keyval: KeyVal,
}

/// Why one signature did not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("key type {keytype:?} with scheme {scheme:?} is not supported")]
    UnsupportedScheme { keytype: String, scheme: String },
    #[error("the public key is malformed")]
    MalformedKey,
    #[error("the signature is malformed")]
    MalformedSignature,
    #[error("the signature does not match the signed bytes")]
    Mismatch,
}

impl PublicKey {
    /// An ed25519 key from its 32 raw bytes.
    pub fn ed25519(public: &[u8; 32]) -> Self {
        PublicKey {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal {
                public: hex::encode(public),
            },
        }
    }

    /// The conventional key id: hex SHA-256 of the canonical JSON of this key.
    pub fn key_id(&self) -> KeyId {
        let value = serde_json::to_value(self).expect("a key serializes");
        let bytes = to_canonical_bytes(&value).expect("a key has no floats");
        KeyId(Sha256::digest(&bytes).to_hex())
    }

    /// Checks `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        match (self.keytype.as_str(), self.scheme.as_str()) {
            ("ed25519", "ed25519") => {
                let raw: [u8; 32] = hex::decode(&self.keyval.public)
                    .ok()
                    .and_then(|b| b.try_into().ok())
                    .ok_or(SignatureError::MalformedKey)?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&raw)
                    .map_err(|_| SignatureError::MalformedKey)?;
                let sig: [u8; 64] = signature
                    .try_into()
                    .map_err(|_| SignatureError::MalformedSignature)?;
                // verify_strict refuses small-order keys and non-canonical signatures, so a
                // signature cannot be malleated into a second valid one.
                key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
                    .map_err(|_| SignatureError::Mismatch)
            }
            ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => {
                // The point inside the key's SubjectPublicKeyInfo; signatures are DER.
                let point = spki_public_key(&self.keyval.public, &OID_EC_PUBLIC_KEY)?;
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::ECDSA_P256_SHA256_ASN1,
                    point,
                )
                .verify(message, signature)
                .map_err(|_| SignatureError::Mismatch)
            }
            ("rsa", "rsassa-pss-sha256") => {
                let rsa_key = spki_public_key(&self.keyval.public, &OID_RSA_ENCRYPTION)?;
                ring::signature::UnparsedPublicKey::new(
                    &ring::signature::RSA_PSS_2048_8192_SHA256,
                    rsa_key,
                )
                .verify(message, signature)
                .map_err(|_| SignatureError::Mismatch)
            }
            (keytype, scheme) => Err(SignatureError::UnsupportedScheme {
                keytype: keytype.into(),
                scheme: scheme.into(),
            }),
        }
    }
}

/// DER of the algorithm OID `id-ecPublicKey` (1.2.840.10045.2.1).
const OID_EC_PUBLIC_KEY: [u8; 9] = [0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// DER of the algorithm OID `rsaEncryption` (1.2.840.113549.1.1.1).
const OID_RSA_ENCRYPTION: [u8; 11] = [
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];

/// The subject public key bits of a PEM `PUBLIC KEY` (SubjectPublicKeyInfo), checked to be
/// of the algorithm `oid`. This is the form securesystemslib writes for ECDSA and RSA keys.
fn spki_public_key(pem: &str, oid: &[u8]) -> Result<Vec<u8>, SignatureError> {
    use base64::Engine;
    let body: String = pem
        .trim()
        .strip_prefix("-----BEGIN PUBLIC KEY-----")
        .and_then(|rest| rest.trim_end().strip_suffix("-----END PUBLIC KEY-----"))
        .ok_or(SignatureError::MalformedKey)?
        .split_whitespace()
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| SignatureError::MalformedKey)?;
    let (info, rest) = der_take(&der, 0x30)?;
    if !rest.is_empty() {
        return Err(SignatureError::MalformedKey);
    }
    let (algorithm, info) = der_take(info, 0x30)?;
    if !algorithm.starts_with(oid) {
        return Err(SignatureError::MalformedKey);
    }
    let (bits, rest) = der_take(info, 0x03)?;
    match (bits.split_first(), rest.is_empty()) {
        // The first byte counts unused bits; a key always uses whole bytes.
        (Some((0, key)), true) => Ok(key.to_vec()),
        _ => Err(SignatureError::MalformedKey),
    }
}

/// Splits one DER element with tag `tag` off the front of `der`: (its content, the rest).
fn der_take(der: &[u8], tag: u8) -> Result<(&[u8], &[u8]), SignatureError> {
    let malformed = SignatureError::MalformedKey;
    let (&found, der) = der.split_first().ok_or(malformed.clone())?;
    let (&first, mut der) = der.split_first().ok_or(malformed.clone())?;
    if found != tag {
        return Err(malformed);
    }
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || der.len() < count {
            return Err(malformed);
        }
        let (bytes, rest) = der.split_at(count);
        der = rest;
        bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    if der.len() < length {
        return Err(malformed);
    }
    Ok(der.split_at(length))
}

/// One entry of a metadata file's `signatures` list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub keyid: KeyId,
    #[serde(deserialize_with = "hex_bytes", serialize_with = "to_hex")]
    pub sig: Vec<u8>,
}

fn hex_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    let raw = String::deserialize(d)?;
    hex::decode(&raw).map_err(|e| serde::de::Error::custom(format!("signature is not hex: {e}")))
}

fn to_hex<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::Signer;

    #[test]
    fn key_id_is_sha256_of_canonical_key() {
        // Known answer: sha256 of the canonical form, as securesystemslib computes it.
        let key = PublicKey {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal {
                public: "edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd".into(),
            },
        };
        assert_eq!(
            key.key_id().as_str(),
            "2345a90ad8d76f3677f9ad6695b0ba0b5c7b7fbf27fb0ed35fbdf7b71264a679"
        );
    }

    #[test]
    fn verifies_ed25519() {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
        let key = PublicKey::ed25519(signing.verifying_key().as_bytes());
        let sig = signing.sign(b"hello").to_bytes();
        assert_eq!(key.verify(b"hello", &sig), Ok(()));
        assert_eq!(key.verify(b"hellO", &sig), Err(SignatureError::Mismatch));
        assert_eq!(
            key.verify(b"hello", &sig[..10]),
            Err(SignatureError::MalformedSignature)
        );
    }
}
