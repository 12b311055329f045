//! Signing metadata: canonical JSON of the body, one signature per key, and the file laid
//! out for who reads it ([`Layout`]).

use anyhow::Result;
use serde::Serialize;
use updater::canonical::to_canonical_bytes;
use updater::key::Signature;
use updater::metadata::Envelope;

use crate::keys::PrivateKey;

/// How a signed file is laid out. Signatures cover the canonical form, so either layout
/// verifies the same.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Layout {
    /// Indented: roles people read (root, targets and the catalogue's roles, the policy's).
    Readable,
    /// No whitespace: the snapshot and the timestamp, which every device fetches on each
    /// check or release and which grow with the catalogue (one snapshot entry per volume).
    Compact,
}

/// The file bytes of `signed` signed by every key in `keys`, laid out as `layout`.
pub(crate) fn sign_metadata<T: Serialize>(
    signed: &T,
    keys: &[&PrivateKey],
    layout: Layout,
) -> Result<Vec<u8>> {
    sign_laid_out(serde_json::to_value(signed)?, keys, layout)
}

/// The file bytes of an arbitrary JSON body signed by every key in `keys`, indented.
pub fn sign_value(value: serde_json::Value, keys: &[&PrivateKey]) -> Result<Vec<u8>> {
    sign_laid_out(value, keys, Layout::Readable)
}

fn sign_laid_out(
    value: serde_json::Value,
    keys: &[&PrivateKey],
    layout: Layout,
) -> Result<Vec<u8>> {
    let canonical = to_canonical_bytes(&value)?;
    let signatures = keys
        .iter()
        .map(|key| Signature {
            keyid: key.key_id().clone(),
            sig: key.sign(&canonical),
        })
        .collect();
    let envelope = Envelope {
        signatures,
        signed: value,
    };
    let mut bytes = match layout {
        Layout::Readable => serde_json::to_vec_pretty(&envelope)?,
        Layout::Compact => serde_json::to_vec(&envelope)?,
    };
    bytes.push(b'\n');
    Ok(bytes)
}
