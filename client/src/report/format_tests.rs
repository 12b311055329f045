//! The report format against tampering: every change to a signed report is refused.

use super::*;
use crate::conventions::Release;
use crate::datetime::UtcTime;
use crate::report::event::Event;
use serde_json::Value;

fn key() -> (tempfile::TempDir, DeviceKey) {
    let dir = tempfile::tempdir().unwrap();
    let bounds = crate::report::Bounds {
        max_events: 10,
        max_bytes: u64::MAX,
    };
    let outbox = crate::report::Outbox::open(&dir.path().join("outbox"), bounds).unwrap();
    let (key, _) = DeviceKey::load_or_create(&dir.path().join("device.key"), &outbox).unwrap();
    (dir, key)
}

fn records() -> Vec<Record> {
    let time = UtcTime::from_unix(1_800_000_000).unwrap();
    vec![
        Record {
            seq: 3,
            time,
            event: Event::Installed {
                release: Release::new("2.0.0").unwrap(),
                from: None,
            },
        },
        Record {
            seq: 4,
            time,
            event: Event::failed("mirror down"),
        },
    ]
}

/// Parses and verifies `bytes` with the key they carry, as a collector that enrolled it.
fn verify(bytes: &[u8], max_len: usize) -> Result<VerifiedReport, ReportError> {
    let parsed = parse(bytes, max_len)?;
    let key = parsed.report.key.clone();
    parsed.verify(&key)
}

fn signed_bytes_of(key: &DeviceKey) -> Vec<u8> {
    SignedReport::sign(key, "kiosk-1", records(), 2)
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[test]
fn a_signed_report_verifies() {
    let (_dir, key) = key();
    let bytes = signed_bytes_of(&key);
    let parsed = parse(&bytes, 1 << 20).unwrap();
    assert_eq!(parsed.device(), "kiosk-1");
    let report = parsed.verify(&key.public_hex()).unwrap();
    assert_eq!(report.device(), "kiosk-1");
    assert_eq!(report.key(), key.public_hex());
    assert_eq!(report.events(), records().as_slice());
    assert_eq!(report.dropped(), 2);
    // The same events signed again, with another drop total: the same id, so a collector
    // stores them once.
    let again = SignedReport::sign(&key, "kiosk-1", records(), 9).unwrap();
    assert_eq!(again.id(), report.id());
}

#[test]
fn every_flipped_byte_is_refused() {
    let (_dir, key) = key();
    let bytes = signed_bytes_of(&key);
    for at in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[at] ^= 0x01;
        assert!(
            verify(&tampered, 1 << 20).is_err(),
            "byte {at} flipped: {}",
            String::from_utf8_lossy(&tampered)
        );
    }
}

/// Changes to the `report` value, each consistent JSON, and the error each gets.
#[test]
fn tampered_content_gets_its_error() {
    let (_dir, key) = key();
    let original: Value = serde_json::from_slice(&signed_bytes_of(&key)).unwrap();
    let refused = |edit: &dyn Fn(&mut Value)| {
        let mut value = original.clone();
        edit(&mut value);
        verify(&serde_json::to_vec(&value).unwrap(), 1 << 20).unwrap_err()
    };
    let reason = |v: &mut Value| v["report"]["events"][1]["event"]["reason"] = "all fine".into();
    assert_eq!(refused(&reason), ReportError::BadSignature);
    let device = |v: &mut Value| v["report"]["device"] = "kiosk-2".into();
    assert_eq!(refused(&device), ReportError::BadSignature);
    let dropped = |v: &mut Value| v["report"]["dropped"] = 0.into();
    assert_eq!(refused(&dropped), ReportError::BadSignature);
    let range = |v: &mut Value| v["report"]["events"][1]["seq"] = 5.into();
    assert!(matches!(refused(&range), ReportError::WrongId { .. }));
    let newer = |v: &mut Value| v["report"]["format"] = 2.into();
    assert_eq!(refused(&newer), ReportError::UnknownFormat { found: 2 });
    // Another device's key put in, the id derived anew: the signature is not its own.
    let (_other_dir, other) = self::key();
    let swapped = |v: &mut Value| {
        v["report"]["key"] = other.public_hex().into();
        v["report"]["id"] = report_id(&other.public_hex(), 3, 4).into();
    };
    assert_eq!(refused(&swapped), ReportError::BadSignature);
    let unknown = |v: &mut Value| v["report"]["admin"] = true.into();
    assert!(matches!(refused(&unknown), ReportError::Malformed(_)));
    let reordered = |v: &mut Value| v["report"]["events"][1]["seq"] = 3.into();
    assert!(matches!(refused(&reordered), ReportError::Malformed(_)));
    let unsigned = |v: &mut Value| v["signature"] = hex::encode([0u8; 64]).into();
    assert_eq!(refused(&unsigned), ReportError::BadSignature);
}

#[test]
fn size_enrolment_and_garbage() {
    let (_dir, key) = key();
    let bytes = signed_bytes_of(&key);
    assert_eq!(
        verify(&bytes, bytes.len() - 1).unwrap_err(),
        ReportError::TooLarge {
            limit: bytes.len() - 1
        }
    );
    assert!(matches!(
        verify(b"{\"report\": [", 1 << 20),
        Err(ReportError::Malformed(_))
    ));
    let (_other_dir, other) = self::key();
    assert!(matches!(
        parse(&bytes, 1 << 20).unwrap().verify(&other.public_hex()),
        Err(ReportError::KeyMismatch { .. })
    ));
    assert!(SignedReport::sign(&key, "kiosk-1", Vec::new(), 0).is_err());
}
