//! A simulated reporting device for the collector's tests: its own ed25519 key (as
//! `updater keygen` makes it), enrolled with `fleet enroll`, and signed reports over any
//! range of sequence numbers, made with the device's own code (`SignedReport::sign`).

use std::ops::RangeInclusive;

use updater::conventions::Release;
use updater::datetime::UtcTime;
use updater::report::event::CheckAction;
use updater::report::{DeviceKey, Event, Record, SignedReport};

use crate::fleet;

/// A device with a report key.
pub struct TestDevice {
    pub id: String,
    pub key: DeviceKey,
}

impl TestDevice {
    /// A device named `id` with a new key.
    pub fn new(id: &str) -> TestDevice {
        TestDevice {
            id: id.to_owned(),
            key: DeviceKey::generate().unwrap(),
        }
    }

    /// The same key, claiming to be device `id`: a forgery by this device.
    pub fn claiming(self, id: &str) -> TestDevice {
        TestDevice {
            id: id.to_owned(),
            ..self
        }
    }

    /// Its public key, 64 hex digits.
    pub fn public(&self) -> String {
        self.key.public_hex()
    }

    /// `fleet enroll --db DB ID KEY`, which must succeed.
    pub fn enroll(&self, db: &str) {
        fleet(&["enroll", "--db", db, &self.id, &self.public()]).ok();
    }

    /// Its events `seqs` (an inventory at odd numbers, a check deciding to install 2.0.0
    /// at even ones), signed by its key.
    pub fn signed(&self, seqs: RangeInclusive<u64>) -> SignedReport {
        SignedReport::sign(&self.key, &self.id, records(seqs), 0).unwrap()
    }

    /// [`TestDevice::signed`] as the bytes a device sends.
    pub fn report(&self, seqs: RangeInclusive<u64>) -> Vec<u8> {
        self.signed(seqs).to_bytes().unwrap()
    }
}

/// Events `seqs`, each of which changes the collector's tables if stored: an inventory
/// (the device row) or a check of release 2.0.0 (its rollout row).
pub fn records(seqs: RangeInclusive<u64>) -> Vec<Record> {
    seqs.map(|seq| {
        let event = if seq % 2 == 1 {
            Event::Inventory {
                running: Some(Release::new("1.0.0").unwrap()),
                platform: "arm64".into(),
                channel: "stable".into(),
                groups: vec!["lab".into()],
                free_bytes: Some(1_000_000 + seq),
                updater_version: "0.1.0".into(),
            }
        } else {
            Event::Checked {
                action: CheckAction::Install,
                release: Some(Release::new("2.0.0").unwrap()),
                wave: Some(0),
                bucket: Some(seq as u32),
                eligible_at: None,
                reason: "in wave 0".into(),
            }
        };
        Record {
            seq,
            time: UtcTime::from_unix(1_790_000_000 + seq as i64).unwrap(),
            event,
        }
    })
    .collect()
}
