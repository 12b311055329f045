//! Signing metadata: canonical JSON of the body, one signature per key, pretty file.

use anyhow::Result;
use serde::Serialize;
use updater::canonical::to_canonical_bytes;
use updater::key::Signature;
use updater::metadata::Envelope;

use crate::keys::PrivateKey;

/// The file bytes of `signed` signed by every key in `keys`.
pub(crate) fn sign_metadata<T: Serialize>(signed: &T, keys: &[&PrivateKey]) -> Result<Vec<u8>> {
    let value = serde_json::to_value(signed)?;
    sign_value(value, keys)
}

/// The file bytes of an arbitrary JSON body signed by every key in `keys`.
pub fn sign_value(value: serde_json::Value, keys: &[&PrivateKey]) -> Result<Vec<u8>> {
    let canonical = to_canonical_bytes(&value)?;
    let signatures = keys
        .iter()
        .map(|key| Signature {
            keyid: key.key_id().clone(),
            sig: key.sign(&canonical),
        })
        .collect();
    let mut bytes = serde_json::to_vec_pretty(&Envelope {
        signatures,
        signed: value,
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}
