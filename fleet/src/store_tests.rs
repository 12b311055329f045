use super::*;
use updater::datetime::UtcTime;
use updater::report::{parse, DeviceKey, Event, Record, SignedReport};

fn setup() -> (tempfile::TempDir, Db, DeviceKey) {
    let dir = tempfile::tempdir().unwrap();
    let db = Db::open(dir.path().join("fleet.db").to_str().unwrap()).unwrap();
    let key = DeviceKey::generate().unwrap();
    (dir, db, key)
}

fn report(key: &DeviceKey, seqs: std::ops::Range<u64>) -> VerifiedReport {
    let time = UtcTime::from_unix(1_800_000_000).unwrap();
    let records = seqs
        .map(|seq| Record {
            seq,
            time,
            event: Event::failed(&format!("failure {seq}")),
        })
        .collect();
    let bytes = SignedReport::sign(key, "kiosk-1", records, 0)
        .unwrap()
        .to_bytes()
        .unwrap();
    parse(&bytes, 1 << 20)
        .unwrap()
        .verify(&key.public_hex())
        .unwrap()
}

#[test]
fn stored_once_and_never_replayed() {
    let (_dir, mut db, key) = setup();
    let e = Enrollment {
        device: "kiosk-1".into(),
        key: key.public_hex(),
    };
    assert_eq!(
        enroll(&mut db, std::slice::from_ref(&e), false, 1).unwrap(),
        1
    );
    assert_eq!(enroll(&mut db, &[e], false, 1).unwrap(), 0);
    let first = report(&key, 1..4);
    assert_eq!(
        take(&mut db, std::slice::from_ref(&first), 10).unwrap(),
        [Taken::Stored { events: 3 }]
    );
    assert_eq!(
        take(&mut db, &[report(&key, 1..4)], 11).unwrap(),
        [Taken::Duplicate]
    );
    assert_eq!(
        take(&mut db, &[report(&key, 2..6)], 12).unwrap(),
        [Taken::Replay { last_seq: 3 }]
    );
    assert_eq!(
        take(&mut db, &[report(&key, 4..6)], 13).unwrap(),
        [Taken::Stored { events: 2 }]
    );
    let events = db.query("SELECT COUNT(*) FROM events", &[]).unwrap();
    assert_eq!(events[0][0].as_int(), Some(5));
}

#[test]
fn another_key_is_refused_unless_replaced() {
    let (_dir, mut db, key) = setup();
    let other = DeviceKey::generate().unwrap();
    let enrol = |k: &DeviceKey| Enrollment {
        device: "kiosk-1".into(),
        key: k.public_hex(),
    };
    enroll(&mut db, &[enrol(&key)], false, 1).unwrap();
    assert!(matches!(
        enroll(&mut db, &[enrol(&other)], false, 1),
        Err(EnrollError::OtherKey { .. })
    ));
    assert_eq!(
        take(&mut db, &[report(&other, 1..2)], 10).unwrap(),
        [Taken::NotEnrolled]
    );
    enroll(&mut db, &[enrol(&other)], true, 1).unwrap();
    assert_eq!(
        take(&mut db, &[report(&other, 1..2)], 10).unwrap(),
        [Taken::Stored { events: 1 }]
    );
    let bad = Enrollment {
        device: "kiosk-2".into(),
        key: "zz".into(),
    };
    assert!(matches!(
        enroll(&mut db, &[bad], false, 1),
        Err(EnrollError::BadKey { .. })
    ));
}
