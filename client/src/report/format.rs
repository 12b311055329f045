//! The signed report: the wire format between a device and a collector, and its verifier.
//!
//! ```json
//! {"report": {"id": "…", "device": "…", "key": "<ed25519 public key, hex>",
//!             "events": [{"seq": 1, "time": "…", "event": {"kind": "checked", …}}, …],
//!             "dropped": 0},
//!  "signature": "<ed25519 signature, hex>"}
//! ```
//!
//! Invariant: the signature covers the OLPC canonical JSON of the `report` value exactly as
//! received (unknown fields would be covered too, but are refused); [`verify`] checks the
//! size, then the structure (typed, unknown fields refused, sequence numbers strictly
//! increasing, the id the one its content derives), and only then the signature, and the
//! only way to a [`VerifiedReport`] is through it. The id is derived from the key, the first
//! and last sequence numbers and the drop count, so a report sent again (a lost answer) has
//! the same id and a collector can store it once.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::canonical::to_canonical_bytes;
use crate::report::event::Record;
use crate::report::key::DeviceKey;

/// Longest device id a report may carry, in bytes.
const MAX_DEVICE_ID_BYTES: usize = 256;

/// Why a report was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("report is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("report is malformed: {0}")]
    Malformed(String),
    #[error("report id {found} is not the one its content derives ({expected})")]
    WrongId { found: String, expected: String },
    #[error("report signature does not verify with its key")]
    BadSignature,
    #[error("report from device {device} is signed by key {found}, not its enrolled key")]
    KeyMismatch { device: String, found: String },
}

/// The signed part of a report.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Report {
    id: String,
    device: String,
    key: String,
    events: Vec<Record>,
    dropped: u64,
}

/// A report with its signature, as sent and as written by `updater report --export`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedReport {
    report: Report,
    signature: String,
}

impl SignedReport {
    /// Signs `events` (oldest first, at least one) and `dropped` as `device` with `key`.
    pub fn sign(
        key: &DeviceKey,
        device: &str,
        events: Vec<Record>,
        dropped: u64,
    ) -> Result<Self, ReportError> {
        let public = key.public_hex();
        let (first, last) = match (events.first(), events.last()) {
            (Some(first), Some(last)) => (first.seq, last.seq),
            _ => {
                return Err(ReportError::Malformed(
                    "a report holds at least one event".into(),
                ))
            }
        };
        let report = Report {
            id: report_id(&public, first, last, dropped),
            device: device.to_owned(),
            key: public,
            events,
            dropped,
        };
        let signature = key.sign(&signed_bytes(
            &serde_json::to_value(&report).map_err(malformed)?,
        )?);
        Ok(SignedReport {
            report,
            signature: hex::encode(signature),
        })
    }

    /// The JSON bytes to send or write.
    pub fn to_bytes(&self) -> Result<Vec<u8>, ReportError> {
        serde_json::to_vec(self).map_err(malformed)
    }

    pub fn id(&self) -> &str {
        &self.report.id
    }

    /// The sequence number of the newest event it holds.
    pub fn last_seq(&self) -> u64 {
        self.report.events.last().map_or(0, |r| r.seq)
    }

    pub fn event_count(&self) -> usize {
        self.report.events.len()
    }

    pub fn dropped(&self) -> u64 {
        self.report.dropped
    }
}

/// A report whose signature verified with the key it names.
#[derive(Debug)]
pub struct VerifiedReport {
    report: Report,
}

impl VerifiedReport {
    pub fn id(&self) -> &str {
        &self.report.id
    }
    pub fn device(&self) -> &str {
        &self.report.device
    }
    /// The signing key, 64 hex digits (lower case).
    pub fn key(&self) -> &str {
        &self.report.key
    }
    pub fn events(&self) -> &[Record] {
        &self.report.events
    }
    pub fn dropped(&self) -> u64 {
        self.report.dropped
    }

    /// Refuses the report unless it is signed by `enrolled` (hex), the key the collector
    /// holds for its device.
    pub fn check_enrolled(&self, enrolled: &str) -> Result<(), ReportError> {
        if self.report.key.eq_ignore_ascii_case(enrolled) {
            return Ok(());
        }
        Err(ReportError::KeyMismatch {
            device: self.report.device.clone(),
            found: self.report.key.clone(),
        })
    }
}

/// Checks `bytes` as a signed report of at most `max_len` bytes: structure first, then the
/// signature over the canonical form of the `report` value as received.
pub fn verify(bytes: &[u8], max_len: usize) -> Result<VerifiedReport, ReportError> {
    if bytes.len() > max_len {
        return Err(ReportError::TooLarge { limit: max_len });
    }
    let raw: Value = serde_json::from_slice(bytes).map_err(malformed)?;
    let signed: SignedReport = serde_json::from_value(raw.clone()).map_err(malformed)?;
    let report = signed.report;
    let key = hex_array::<32>(&report.key, "key")?;
    let signature = hex_array::<64>(&signed.signature, "signature")?;
    if report.key != hex::encode(key) {
        return Err(ReportError::Malformed("key is not lower-case hex".into()));
    }
    if report.device.is_empty() || report.device.len() > MAX_DEVICE_ID_BYTES {
        return Err(ReportError::Malformed(format!(
            "device id must be 1 to {MAX_DEVICE_ID_BYTES} bytes"
        )));
    }
    let (first, last) = match (report.events.first(), report.events.last()) {
        (Some(first), Some(last)) => (first.seq, last.seq),
        _ => {
            return Err(ReportError::Malformed(
                "a report holds at least one event".into(),
            ))
        }
    };
    if report.events.windows(2).any(|w| w[0].seq >= w[1].seq) {
        return Err(ReportError::Malformed(
            "event sequence numbers are not strictly increasing".into(),
        ));
    }
    let expected = report_id(&report.key, first, last, report.dropped);
    if report.id != expected {
        return Err(ReportError::WrongId {
            found: report.id,
            expected,
        });
    }
    let verifying = VerifyingKey::from_bytes(&key).map_err(|_| ReportError::BadSignature)?;
    let message = signed_bytes(&raw["report"])?;
    verifying
        .verify_strict(&message, &Signature::from_bytes(&signature))
        .map_err(|_| ReportError::BadSignature)?;
    Ok(VerifiedReport { report })
}

/// The id of a report: what it covers, so the same events sent again have the same id.
fn report_id(key_hex: &str, first: u64, last: u64, dropped: u64) -> String {
    let digest = Sha256::digest(format!(
        "updater-report/1\n{key_hex}\n{first}\n{last}\n{dropped}"
    ));
    hex::encode(&digest[..16])
}

fn signed_bytes(report: &Value) -> Result<Vec<u8>, ReportError> {
    to_canonical_bytes(report).map_err(|e| ReportError::Malformed(e.to_string()))
}

fn hex_array<const N: usize>(text: &str, what: &str) -> Result<[u8; N], ReportError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| ReportError::Malformed(format!("{what} is not {N} bytes of hex")))?;
    Ok(out)
}

fn malformed(e: serde_json::Error) -> ReportError {
    ReportError::Malformed(e.to_string())
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
