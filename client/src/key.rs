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
            (keytype, scheme) => Err(SignatureError::UnsupportedScheme {
                keytype: keytype.into(),
                scheme: scheme.into(),
            }),
        }
    }
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
