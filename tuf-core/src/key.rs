//! Public keys as TUF writes them, key ids, and signature verification.
//!
//! A key's material is decoded once, when the metadata listing it is parsed: a `PublicKey`
//! always carries a `VerifyingKey`, either usable or explicitly `Unusable`. ECDSA and RSA keys
//! are SubjectPublicKeyInfo read as strict DER (no BER lengths, no trailing bytes) whose
//! algorithm and curve must be the ones the scheme names.

use std::collections::BTreeMap;
use std::fmt;

use der::asn1::{AnyRef, ObjectIdentifier, UintRef};
use der::Decode as _;
use serde::{Deserialize, Deserializer, Serialize};
use spki::SubjectPublicKeyInfoRef;

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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct KeyVal {
    public: String,
}

/// A key as written in metadata, before its key material is decoded. Fields other than
/// these (such as securesystemslib's old `keyid_hash_algorithms`) are ignored, as python-tuf
/// keeps them only to write them back.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct WireKey {
    keytype: String,
    scheme: String,
    keyval: KeyVal,
}

/// A public key as listed in root or in a delegation: what metadata says, and the key
/// material decoded from it once, when the metadata was parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    wire: WireKey,
    verifying: VerifyingKey,
}

/// Key material decoded from a key's `keyval`, ready to check signatures with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum VerifyingKey {
    /// An ed25519 key (`ed25519`/`ed25519`), the point checked to decompress.
    Ed25519(ed25519_dalek::VerifyingKey),
    /// A NIST P-256 key (`ecdsa-sha2-nistp256`): its uncompressed SEC1 point.
    EcdsaP256(Vec<u8>),
    /// A NIST P-384 key (`ecdsa-sha2-nistp384`): its uncompressed SEC1 point.
    EcdsaP384(Vec<u8>),
    /// An RSA key: its DER `RSAPublicKey`, and the padding and digest the scheme names.
    Rsa(RsaScheme, Vec<u8>),
    /// A key that python-tuf would read but that can never verify a signature here: its
    /// scheme is not implemented, or its key material does not decode. Keeping it (rather
    /// than refusing the metadata) matches python-tuf, which fails such a key at its first
    /// signature check; a threshold of the other keys can still be met.
    Unusable(UnusableKey),
}

/// The RSA signature schemes securesystemslib names and this client checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaScheme {
    PssSha256,
    PssSha384,
    PssSha512,
    Pkcs1v15Sha256,
    Pkcs1v15Sha384,
    Pkcs1v15Sha512,
}

/// Why a key listed in metadata cannot verify anything.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UnusableKey {
    #[error("key type {keytype:?} with scheme {scheme:?} is not supported")]
    Unsupported { keytype: String, scheme: String },
    #[error("the public key is malformed: {0}")]
    Malformed(MalformedKey),
}

/// What is wrong with a key's encoded material.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MalformedKey {
    #[error("an ed25519 key must be 64 hex digits")]
    Ed25519Encoding,
    #[error("the ed25519 key is not a point on the curve")]
    Ed25519Point,
    #[error("not a PEM \"PUBLIC KEY\" block")]
    NotPem,
    #[error("not a DER SubjectPublicKeyInfo ({0})")]
    Der(der::ErrorKind),
    #[error("the algorithm or its parameters do not match the scheme")]
    WrongAlgorithm,
    #[error("the key bits are not a whole number of bytes")]
    PartialBits,
    #[error("not an uncompressed point of the curve's size")]
    Point,
    #[error("not a DER RSAPublicKey ({0})")]
    RsaKey(der::ErrorKind),
}

/// A key type and scheme pair that neither this client nor securesystemslib knows. python-tuf
/// refuses metadata listing such a key as a whole, and so do we.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("key {keyid}: key type {keytype:?} with scheme {scheme:?} is unknown")]
pub(crate) struct UnknownScheme {
    keyid: String,
    keytype: String,
    scheme: String,
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
        let wire = WireKey {
            keytype: "ed25519".into(),
            scheme: "ed25519".into(),
            keyval: KeyVal {
                public: hex::encode(public),
            },
        };
        let verifying = match ed25519_dalek::VerifyingKey::from_bytes(public) {
            Ok(key) => VerifyingKey::Ed25519(key),
            Err(_) => VerifyingKey::Unusable(UnusableKey::Malformed(MalformedKey::Ed25519Point)),
        };
        PublicKey { wire, verifying }
    }

    /// Decodes a key as metadata lists it under `keyid`. A pair of key type and scheme that
    /// securesystemslib does not know is refused; a known one this client cannot use, or
    /// key material that does not decode, gives a key that never verifies.
    fn from_wire(keyid: &str, wire: WireKey) -> Result<Self, UnknownScheme> {
        let verifying = match decode(&wire) {
            Ok(key) => key,
            Err(Decode::Unusable(why)) => VerifyingKey::Unusable(why),
            Err(Decode::Unknown) => {
                return Err(UnknownScheme {
                    keyid: keyid.to_owned(),
                    keytype: wire.keytype,
                    scheme: wire.scheme,
                })
            }
        };
        Ok(PublicKey { wire, verifying })
    }

    /// The `keytype` field.
    pub fn keytype(&self) -> &str {
        &self.wire.keytype
    }

    /// The `scheme` field.
    pub fn scheme(&self) -> &str {
        &self.wire.scheme
    }

    /// The decoded key material.
    pub fn verifying_key(&self) -> &VerifyingKey {
        &self.verifying
    }

    /// The conventional key id: hex SHA-256 of the canonical JSON of this key.
    pub fn key_id(&self) -> KeyId {
        let value = serde_json::to_value(&self.wire).expect("a key serializes");
        let bytes = to_canonical_bytes(&value).expect("a key has no floats");
        KeyId(Sha256::digest(&bytes).to_hex())
    }

    /// Checks `signature` over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), SignatureError> {
        use ring::signature as alg;
        let (algorithm, key): (&dyn alg::VerificationAlgorithm, &[u8]) = match &self.verifying {
            VerifyingKey::Ed25519(key) => {
                let sig: [u8; 64] = signature
                    .try_into()
                    .map_err(|_| SignatureError::MalformedSignature)?;
                // verify_strict refuses small-order keys and non-canonical signatures, so a
                // signature cannot be malleated into a second valid one.
                return key
                    .verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
                    .map_err(|_| SignatureError::Mismatch);
            }
            // securesystemslib writes ECDSA signatures as DER.
            VerifyingKey::EcdsaP256(point) => (&alg::ECDSA_P256_SHA256_ASN1, point),
            VerifyingKey::EcdsaP384(point) => (&alg::ECDSA_P384_SHA384_ASN1, point),
            VerifyingKey::Rsa(scheme, key) => {
                let algorithm: &dyn alg::VerificationAlgorithm = match scheme {
                    RsaScheme::PssSha256 => &alg::RSA_PSS_2048_8192_SHA256,
                    RsaScheme::PssSha384 => &alg::RSA_PSS_2048_8192_SHA384,
                    RsaScheme::PssSha512 => &alg::RSA_PSS_2048_8192_SHA512,
                    RsaScheme::Pkcs1v15Sha256 => &alg::RSA_PKCS1_2048_8192_SHA256,
                    RsaScheme::Pkcs1v15Sha384 => &alg::RSA_PKCS1_2048_8192_SHA384,
                    RsaScheme::Pkcs1v15Sha512 => &alg::RSA_PKCS1_2048_8192_SHA512,
                };
                (algorithm, key)
            }
            VerifyingKey::Unusable(UnusableKey::Unsupported { keytype, scheme }) => {
                return Err(SignatureError::UnsupportedScheme {
                    keytype: keytype.clone(),
                    scheme: scheme.clone(),
                })
            }
            VerifyingKey::Unusable(UnusableKey::Malformed(_)) => {
                return Err(SignatureError::MalformedKey)
            }
        };
        alg::UnparsedPublicKey::new(algorithm, key)
            .verify(message, signature)
            .map_err(|_| SignatureError::Mismatch)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.wire.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = WireKey::deserialize(d)?;
        PublicKey::from_wire("(unnamed)", wire).map_err(serde::de::Error::custom)
    }
}

/// Deserializes the `keys` object of a root or a delegation, decoding every key once.
pub(crate) fn deserialize_keys<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<KeyId, PublicKey>, D::Error> {
    // Key ids are taken as given: python-tuf does not check them against the key's hash
    // either, and a key counted twice under two ids is caught when signatures are tallied.
    let wire = BTreeMap::<KeyId, WireKey>::deserialize(d)?;
    wire.into_iter()
        .map(|(id, key)| {
            let key = PublicKey::from_wire(id.as_str(), key).map_err(serde::de::Error::custom)?;
            Ok((id, key))
        })
        .collect()
}

/// Why `decode` gave no key.
enum Decode {
    /// A pair securesystemslib does not know: the metadata is refused.
    Unknown,
    /// A known pair that cannot verify here.
    Unusable(UnusableKey),
}

impl From<MalformedKey> for Decode {
    fn from(why: MalformedKey) -> Self {
        Decode::Unusable(UnusableKey::Malformed(why))
    }
}

/// Decodes the key material of `wire` by its key type and scheme. The pairs are those of
/// securesystemslib's `KEY_FOR_TYPE_AND_SCHEME`; ECDSA also under its legacy key type
/// (key type equal to the scheme).
fn decode(wire: &WireKey) -> Result<VerifyingKey, Decode> {
    let public = wire.keyval.public.as_str();
    let rsa = |scheme| Ok(VerifyingKey::Rsa(scheme, rsa_public_key(public)?));
    match (wire.keytype.as_str(), wire.scheme.as_str()) {
        ("ed25519", "ed25519") => {
            let raw: [u8; 32] = hex::decode(public)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or(MalformedKey::Ed25519Encoding)?;
            let key = ed25519_dalek::VerifyingKey::from_bytes(&raw)
                .map_err(|_| MalformedKey::Ed25519Point)?;
            Ok(VerifyingKey::Ed25519(key))
        }
        ("ecdsa" | "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp256") => Ok(VerifyingKey::EcdsaP256(
            ec_point(public, &SECP_256_R_1, 65)?,
        )),
        ("ecdsa" | "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp384") => Ok(VerifyingKey::EcdsaP384(
            ec_point(public, &SECP_384_R_1, 97)?,
        )),
        ("rsa", "rsassa-pss-sha256") => rsa(RsaScheme::PssSha256),
        ("rsa", "rsassa-pss-sha384") => rsa(RsaScheme::PssSha384),
        ("rsa", "rsassa-pss-sha512") => rsa(RsaScheme::PssSha512),
        ("rsa", "rsa-pkcs1v15-sha256") => rsa(RsaScheme::Pkcs1v15Sha256),
        ("rsa", "rsa-pkcs1v15-sha384") => rsa(RsaScheme::Pkcs1v15Sha384),
        ("rsa", "rsa-pkcs1v15-sha512") => rsa(RsaScheme::Pkcs1v15Sha512),
        // Known to securesystemslib, not verifiable with ring.
        ("ecdsa" | "ecdsa-sha2-nistp521", "ecdsa-sha2-nistp521")
        | ("ml-dsa", "ml-dsa-44/1" | "ml-dsa-65/1" | "ml-dsa-87/1")
        | ("rsa", "pgp+rsa-pkcsv1.5")
        | ("dsa", "pgp+dsa-fips-180-2")
        | ("eddsa", "pgp+eddsa-ed25519") => Err(Decode::Unusable(UnusableKey::Unsupported {
            keytype: wire.keytype.clone(),
            scheme: wire.scheme.clone(),
        })),
        _ => Err(Decode::Unknown),
    }
}

/// `id-ecPublicKey` (RFC 5480).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// The named curve P-256 (RFC 5480).
const SECP_256_R_1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
/// The named curve P-384 (RFC 5480).
const SECP_384_R_1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// `rsaEncryption` (RFC 3279).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// The DER SubjectPublicKeyInfo inside a PEM `PUBLIC KEY` block, the form securesystemslib
/// writes for ECDSA and RSA keys.
fn spki_der(pem: &str) -> Result<Vec<u8>, MalformedKey> {
    match der::pem::decode_vec(pem.as_bytes()) {
        Ok(("PUBLIC KEY", der)) => Ok(der),
        _ => Err(MalformedKey::NotPem),
    }
}

/// The subject public key of the SubjectPublicKeyInfo in `pem`, whose algorithm must be
/// `algorithm` with exactly `parameters`. `from_der` is strict DER: definite, shortest
/// lengths and no bytes after the structure.
fn spki_key(
    pem: &str,
    algorithm: ObjectIdentifier,
    parameters: AnyRef<'_>,
) -> Result<Vec<u8>, MalformedKey> {
    let der = spki_der(pem)?;
    let info = SubjectPublicKeyInfoRef::from_der(&der).map_err(|e| MalformedKey::Der(e.kind()))?;
    if info.algorithm.oid != algorithm || info.algorithm.parameters != Some(parameters) {
        return Err(MalformedKey::WrongAlgorithm);
    }
    // A key always uses whole bytes of its bit string.
    let key = info
        .subject_public_key
        .as_bytes()
        .ok_or(MalformedKey::PartialBits)?;
    Ok(key.to_vec())
}

/// The uncompressed point of an EC key on `curve`, `length` bytes with the leading 0x04.
fn ec_point(pem: &str, curve: &ObjectIdentifier, length: usize) -> Result<Vec<u8>, MalformedKey> {
    let parameters = AnyRef::from(curve);
    let point = spki_key(pem, ID_EC_PUBLIC_KEY, parameters)?;
    // ring takes only uncompressed points; the curve equation is checked when verifying.
    if point.len() != length || point.first() != Some(&0x04) {
        return Err(MalformedKey::Point);
    }
    Ok(point)
}

/// The DER RSAPublicKey of an RSA key, checked to be a sequence of exactly two positive
/// integers in shortest form. The modulus size is checked when verifying (2048 to 8192 bits).
fn rsa_public_key(pem: &str) -> Result<Vec<u8>, MalformedKey> {
    let key = spki_key(pem, RSA_ENCRYPTION, AnyRef::NULL)?;
    let sequence = AnyRef::from_der(&key).map_err(|e| MalformedKey::RsaKey(e.kind()))?;
    sequence
        .sequence(|reader| {
            UintRef::decode(reader)?;
            UintRef::decode(reader)?;
            Ok(())
        })
        .map_err(|e| MalformedKey::RsaKey(e.kind()))?;
    Ok(key)
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
        let key: PublicKey = serde_json::from_value(serde_json::json!({
            "keytype": "ed25519", "scheme": "ed25519",
            "keyval": {"public": "edcd0a32a07dce33f7c7873aaffbff36d20ea30787574ead335eefd337e4dacd"},
        }))
        .unwrap();
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
