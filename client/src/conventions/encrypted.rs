//! Encrypted artifacts: how the index records one (`custom.encrypted`), written by
//! `repo add --encrypt-to` and read by the device.
//!
//! The served bytes are an age file (X25519 recipients); the target's `length` and
//! `hashes` are those of the ciphertext, checked as for any target, and
//! `custom.encrypted` holds what the plaintext must be once decrypted:
//!
//! ```json
//! "custom": {"kind": "file", "platform": "armv7", "release": "2.0.0",
//!            "encrypted": {"format": "age", "length": 1048576,
//!                          "sha512": "…128 hex digits…", "recipients": 2,
//!                          "recipients_sha256": "…64 hex digits…"}}
//! ```
//!
//! `recipients` counts the identities that can decrypt it (which devices may install the
//! release is who it was encrypted to), and `recipients_sha256` is the SHA-256 of the sorted
//! recipient list, one per line, so adding the same release again to the same recipients is
//! recognised as the same release. Invariant: an entry with `encrypted` that does not have
//! exactly this shape is refused by `repo` and the device alike, with the same sentence.

use serde::{Deserialize, Serialize};

use crate::metadata::{Hashes, HexDigest, TargetInfo};
use crate::names::TargetName;

/// The only encryption format: <https://age-encryption.org/v1>.
pub const AGE: &str = "age";

/// What the index records about an encrypted artifact's plaintext.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Encrypted {
    /// Always [`AGE`].
    pub format: String,
    /// The plaintext's length in bytes.
    pub length: u64,
    /// The plaintext's SHA-512.
    pub sha512: HexDigest,
    /// How many recipients it was encrypted to.
    pub recipients: u64,
    /// SHA-256 of the sorted recipient list, one per line (each line ending `\n`).
    pub recipients_sha256: HexDigest,
}

/// An `encrypted` member the device cannot use.
#[derive(Debug, thiserror::Error)]
#[error("target {name}: its custom.encrypted is not one this device reads ({reason}); the index was not made by `repo add --encrypt-to`")]
pub struct EncryptedError {
    name: String,
    reason: String,
}

impl Encrypted {
    /// What the index lists for `name`: `None` for a plain artifact.
    pub fn listed(name: &TargetName, info: &TargetInfo) -> Result<Option<Self>, EncryptedError> {
        let Some(value) = info.custom.as_ref().and_then(|c| c.get("encrypted")) else {
            return Ok(None);
        };
        let refused = |reason: String| EncryptedError {
            name: name.as_str().to_owned(),
            reason,
        };
        let encrypted: Encrypted =
            serde_json::from_value(value).map_err(|e| refused(e.to_string()))?;
        if encrypted.format != AGE {
            return Err(refused(format!(
                "format {:?}, only {AGE:?} is known",
                encrypted.format
            )));
        }
        if encrypted.sha512.0.len() != 64 || encrypted.recipients_sha256.0.len() != 32 {
            return Err(refused("a digest of the wrong length".into()));
        }
        Ok(Some(encrypted))
    }

    /// The plaintext as a listing of its own (length and SHA-512), which the installer checks
    /// the decrypted copy against exactly as it checks a plain download.
    pub fn plaintext(&self) -> TargetInfo {
        TargetInfo {
            length: self.length,
            hashes: Hashes::from([("sha512".to_owned(), self.sha512.clone())]),
            custom: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(encrypted: serde_json::Value) -> TargetInfo {
        serde_json::from_value(serde_json::json!({
            "length": 10,
            "hashes": {"sha512": "00".repeat(64)},
            "custom": {"kind": "file", "encrypted": encrypted},
        }))
        .unwrap()
    }

    #[test]
    fn reads_what_repo_writes_and_refuses_other_shapes() {
        let name = TargetName::new("releases/1.0.0/x/app.bin").unwrap();
        let good = serde_json::json!({"format": "age", "length": 5, "sha512": "ab".repeat(64),
            "recipients": 2, "recipients_sha256": "cd".repeat(32)});
        let read = Encrypted::listed(&name, &listing(good.clone()))
            .unwrap()
            .unwrap();
        assert_eq!(read.plaintext().length, 5);
        assert_eq!(serde_json::to_value(&read).unwrap(), good);
        let plain: TargetInfo = serde_json::from_value(serde_json::json!({
            "length": 1, "hashes": {"sha512": "00".repeat(64)}}))
        .unwrap();
        assert_eq!(Encrypted::listed(&name, &plain).unwrap(), None);
        for (bad, reason) in [
            (
                serde_json::json!({"format": "gpg", "length": 5, "sha512": "ab".repeat(64),
                "recipients": 2, "recipients_sha256": "cd".repeat(32)}),
                "format \"gpg\"",
            ),
            (
                serde_json::json!({"format": "age", "length": 5, "sha512": "ab".repeat(32),
                "recipients": 2, "recipients_sha256": "cd".repeat(32)}),
                "wrong length",
            ),
            (
                serde_json::json!({"format": "age", "length": 5}),
                "missing field",
            ),
            (serde_json::json!("age"), "invalid type"),
        ] {
            let refused = Encrypted::listed(&name, &listing(bad))
                .unwrap_err()
                .to_string();
            assert!(
                refused.starts_with("target releases/1.0.0/x/app.bin: its custom.encrypted is not one this device reads (")
                    && refused.contains(reason),
                "{refused}"
            );
        }
    }
}
