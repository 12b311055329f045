//! The signed report: the wire format between a device and a collector, and its verifier.
//!
//! ```json
//! {"report": {"format": 1, "id": "…", "device": "…", "key": "<ed25519 public key, hex>",
//!             "events": [{"seq": 1, "time": "…", "event": {"kind": "checked", …}}, …],
//!             "dropped": 0},
//!  "signature": "<ed25519 signature, hex>"}
//! ```
//!
//! Invariant: the order of verification is a type. [`parse`] checks the size, then the
//! structure (typed, unknown fields refused, sequence numbers strictly increasing, the id
//! the one its content derives) and gives a [`ParsedReport`], trusted for nothing; only
//! [`ParsedReport::verify`], given the key the collector enrolled for the device the report
//! names, checks that the report carries that key and that the signature over the OLPC
//! canonical JSON of the `report` value exactly as received verifies, and gives a
//! [`VerifiedReport`]. The id is derived from the key and the first and last sequence
//! numbers, which a device never reuses, so a report sent again (a lost answer) has the
//! same id and a collector can store it once; `dropped` is the device's running total, so
//! sending it again never counts a drop twice.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use crate::canonical::{text_to_canonical_bytes, to_canonical_bytes};
use crate::report::event::Record;
use crate::report::key::DeviceKey;

/// Longest device id a report may carry, in bytes.
const MAX_DEVICE_ID_BYTES: usize = 256;
/// The format this code writes and reads.
pub const FORMAT: u32 = 1;

/// Why a report was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    #[error("report is larger than {limit} bytes")]
    TooLarge { limit: usize },
    #[error("report is malformed: {0}")]
    Malformed(String),
    #[error("report format {found} is not one this collector reads (it reads {FORMAT})")]
    UnknownFormat { found: u32 },
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
    format: u32,
    id: String,
    device: String,
    key: String,
    events: Vec<Record>,
    dropped: u64,
}

/// A report with its signature, as sent and as written by `updater report --export`.
#[derive(Clone, Debug, Serialize)]
pub struct SignedReport {
    report: Report,
    signature: String,
}

/// The envelope as received: the `report` value kept as its text, for the signature.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope<'a> {
    #[serde(borrow)]
    report: &'a RawValue,
    signature: String,
}

impl SignedReport {
    /// Signs `events` (oldest first, at least one) as `device` with `key`; `dropped` is the
    /// device's running total of events deleted unsent.
    pub fn sign(
        key: &DeviceKey,
        device: &str,
        events: Vec<Record>,
        dropped: u64,
    ) -> Result<Self, ReportError> {
        let public = key.public_hex();
        let (first, last) = seq_range(&events)?;
        let report = Report {
            format: FORMAT,
            id: report_id(&public, first, last),
            device: device.to_owned(),
            key: public,
            events,
            dropped,
        };
        let value = serde_json::to_value(&report).map_err(malformed)?;
        let signed = to_canonical_bytes(&value).map_err(|e| malformed_text(e.to_string()))?;
        Ok(SignedReport {
            report,
            signature: hex::encode(key.sign(&signed)),
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

/// A report whose structure is checked and whose signature is not: it says which device
/// it claims to be from, so the collector can look up that device's key, and nothing else
/// of it is to be trusted.
#[derive(Debug)]
pub struct ParsedReport {
    report: Report,
    signature: [u8; 64],
    /// The canonical bytes of the `report` value as received: what the signature covers.
    signed: Vec<u8>,
}

impl ParsedReport {
    /// The device the report claims to be from.
    pub fn device(&self) -> &str {
        &self.report.device
    }

    /// The key the report claims to be signed with.
    pub fn key(&self) -> &str {
        &self.report.key
    }

    /// The report's id (derived from its content, so safe to look up before verifying).
    pub fn id(&self) -> &str {
        &self.report.id
    }

    /// Checks that the report is signed by `enrolled` (64 hex digits), the key the
    /// collector holds for [`device`](Self::device): it must carry that key, and the
    /// signature must verify with it.
    pub fn verify(self, enrolled: &str) -> Result<VerifiedReport, ReportError> {
        if !self.report.key.eq_ignore_ascii_case(enrolled) {
            return Err(ReportError::KeyMismatch {
                device: self.report.device,
                found: self.report.key,
            });
        }
        let key = hex_array::<32>(&self.report.key, "key")?;
        let verifying = VerifyingKey::from_bytes(&key).map_err(|_| ReportError::BadSignature)?;
        verifying
            .verify_strict(&self.signed, &Signature::from_bytes(&self.signature))
            .map_err(|_| ReportError::BadSignature)?;
        Ok(VerifiedReport {
            report: self.report,
        })
    }
}

/// A report signed by the key enrolled for its device: made only by
/// [`ParsedReport::verify`].
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
    /// The device's running total of events deleted unsent.
    pub fn dropped(&self) -> u64 {
        self.report.dropped
    }
}

/// Checks the size and structure of `bytes` as a signed report of at most `max_len` bytes.
pub fn parse(bytes: &[u8], max_len: usize) -> Result<ParsedReport, ReportError> {
    if bytes.len() > max_len {
        return Err(ReportError::TooLarge { limit: max_len });
    }
    let envelope: Envelope = serde_json::from_slice(bytes).map_err(malformed)?;
    let text = envelope.report.get();
    let format = serde_json::from_str::<FormatOnly>(text).map_err(malformed)?;
    if format.format != FORMAT {
        return Err(ReportError::UnknownFormat {
            found: format.format,
        });
    }
    let report: Report = serde_json::from_str(text).map_err(malformed)?;
    let signature = hex_array::<64>(&envelope.signature, "signature")?;
    let key = hex_array::<32>(&report.key, "key")?;
    if report.key != hex::encode(key) {
        return Err(malformed_text("key is not lower-case hex"));
    }
    if report.device.is_empty() || report.device.len() > MAX_DEVICE_ID_BYTES {
        return Err(malformed_text(format!(
            "device id must be 1 to {MAX_DEVICE_ID_BYTES} bytes"
        )));
    }
    let (first, last) = seq_range(&report.events)?;
    if report.events.windows(2).any(|w| w[0].seq >= w[1].seq) {
        return Err(malformed_text(
            "event sequence numbers are not strictly increasing",
        ));
    }
    let expected = report_id(&report.key, first, last);
    if report.id != expected {
        return Err(ReportError::WrongId {
            found: report.id,
            expected,
        });
    }
    let signed = text_to_canonical_bytes(text).map_err(|e| malformed_text(e.to_string()))?;
    Ok(ParsedReport {
        report,
        signature,
        signed,
    })
}

/// The `format` field alone, read first so a newer format gets its own refusal.
#[derive(Deserialize)]
struct FormatOnly {
    format: u32,
}

/// The first and last sequence numbers of `events`; at least one is required.
fn seq_range(events: &[Record]) -> Result<(u64, u64), ReportError> {
    match (events.first(), events.last()) {
        (Some(first), Some(last)) => Ok((first.seq, last.seq)),
        _ => Err(malformed_text("a report holds at least one event")),
    }
}

/// The id of a report: the device key and the range of sequence numbers it covers, which
/// the device never reuses, so the same events sent again have the same id.
fn report_id(key_hex: &str, first: u64, last: u64) -> String {
    let digest = Sha256::digest(format!("updater-report/1\n{key_hex}\n{first}\n{last}"));
    hex::encode(&digest[..16])
}

fn hex_array<const N: usize>(text: &str, what: &str) -> Result<[u8; N], ReportError> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text, &mut out)
        .map_err(|_| malformed_text(format!("{what} is not {N} bytes of hex")))?;
    Ok(out)
}

fn malformed_text(reason: impl Into<String>) -> ReportError {
    ReportError::Malformed(reason.into())
}

fn malformed(e: serde_json::Error) -> ReportError {
    ReportError::Malformed(e.to_string())
}

#[cfg(test)]
#[path = "format_tests.rs"]
mod tests;
