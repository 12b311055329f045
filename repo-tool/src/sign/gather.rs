//! Step 2 of `repo sign`, gather: adds this run's signatures to a role's pending version
//! (`staged/ROLE.signed.json`), or starts one, and says whether a threshold has signed. A
//! pending version keeps its body, so that signatures gathered on several machines all
//! cover the same bytes.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde_json::Value;
use updater::canonical::to_canonical_bytes;
use updater::key::{KeyId, PublicKey, Signature};
use updater::metadata::{Envelope, RoleKeys, Targets};
use updater::names::RoleName;
use updater::verify::Unverified;

use crate::keys::PrivateKey;
use crate::publication::Publication;
use crate::workspace::Workspace;

/// `staged/ROLE.signed.json`: ROLE's next version, signed by fewer keys than its threshold
/// so far. Never served.
pub(crate) fn pending_path(ws: &Workspace, role: &str) -> PathBuf {
    ws.staged_dir().join(format!("{role}.signed.json"))
}

/// Where gathering signatures for a role stands.
pub(super) enum Gathered {
    /// Signed by a threshold: the file to publish.
    Complete(Vec<u8>),
    /// Kept in `staged/ROLE.signed.json`: what is still missing, in words.
    Pending(String),
}

/// Adds signatures by `signers` to `role`'s pending version (or to `body`, starting one)
/// and says whether it is complete. A pending version keeps its body: signatures gathered
/// on several machines must all cover the same bytes. The pending file is written, or
/// removed once complete, as part of `publication`.
pub(super) fn gather(
    ws: &Workspace,
    role: &str,
    body: Value,
    signers: &[&PrivateKey],
    keys: &BTreeMap<KeyId, PublicKey>,
    role_keys: &RoleKeys,
    publication: &mut Publication,
) -> Result<Gathered> {
    let path = pending_path(ws, role);
    let (body, mut signatures) = if path.exists() {
        let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TARGETS_BYTES)?;
        let pending: Envelope<Value> = serde_json::from_slice(&bytes)
            .with_context(|| format!("{} is not a signed file", path.display()))?;
        (pending.signed, pending.signatures)
    } else {
        (body, Vec::new())
    };
    let canonical = to_canonical_bytes(&body)?;
    for key in signers {
        signatures.retain(|s| &s.keyid != key.key_id());
        signatures.push(Signature {
            keyid: key.key_id().clone(),
            sig: key.sign(&canonical),
        });
    }
    let envelope = Envelope {
        signatures,
        signed: body,
    };
    let mut bytes = serde_json::to_vec_pretty(&envelope)?;
    bytes.push(b'\n');
    let name = RoleName::new(role).map_err(|e| anyhow::anyhow!("{e}"))?;
    let tally = Unverified::<Targets>::parse(&name, &bytes)?.tally(keys, role_keys);
    let threshold = role_keys.threshold.get() as usize;
    if tally.valid.len() >= threshold {
        if path.exists() {
            publication.remove_after(&path);
        }
        return Ok(Gathered::Complete(bytes));
    }
    publication.replace(&path, bytes);
    let names = ws.settings()?.names;
    let by: Vec<String> = tally
        .valid
        .iter()
        .map(|k| crate::rotate::name_of(&names, k))
        .collect();
    let version = envelope.signed.get("version").cloned().unwrap_or_default();
    Ok(Gathered::Pending(format!(
        "{role} version {version} staged, signed by {}: still needs {} more signature(s); sign it on this repository or a copy (then `repo merge`)",
        if by.is_empty() { "nobody".to_owned() } else { by.join(", ") },
        threshold - tally.valid.len()
    )))
}
