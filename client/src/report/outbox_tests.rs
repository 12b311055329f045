//! The outbox's bounds, numbering and lock.

use super::*;

fn event(n: u64) -> Event {
    Event::failed(&format!("failure {n}"))
}

fn time() -> UtcTime {
    UtcTime::from_unix(1_800_000_000).unwrap()
}

fn events(max_events: usize) -> Bounds {
    Bounds {
        max_events,
        max_bytes: u64::MAX,
    }
}

fn seqs(pending: &Pending) -> Vec<u64> {
    pending.records.iter().map(|r| r.seq).collect()
}

#[test]
fn a_full_outbox_keeps_the_newest_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), events(10)).unwrap();
    let given: Vec<u64> = (0..25)
        .map(|n| outbox.append(event(n), time()).unwrap())
        .collect();
    assert!(given.windows(2).all(|w| w[1] == w[0] + 1), "{given:?}");
    let pending = outbox.pending(100).unwrap();
    assert_eq!(seqs(&pending), given[15..]);
    assert_eq!(pending.dropped, 15);
    assert_eq!(pending.records[0].event, event(15));
    outbox.delivered(given[19]).unwrap();
    let pending = outbox.pending(100).unwrap();
    assert_eq!(pending.records.len(), 5);
    assert_eq!(pending.dropped, 15);
    // Numbers continue after a reopen; none is given twice.
    let reopened = Outbox::open(dir.path(), events(10)).unwrap();
    assert_eq!(reopened.append(event(99), time()).unwrap(), given[24] + 1);
}

#[test]
fn a_damaged_record_is_dropped_not_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), events(10)).unwrap();
    let given: Vec<u64> = (0..3)
        .map(|n| outbox.append(event(n), time()).unwrap())
        .collect();
    std::fs::write(dir.path().join(file_name(given[1])), b"{\"seq\": ").unwrap();
    let pending = outbox.pending(10).unwrap();
    assert_eq!(seqs(&pending), [given[0], given[2]]);
    assert_eq!(pending.dropped, 1);
    assert!(!dir.path().join(file_name(given[1])).exists());
}

/// Several writers at once (a daemon and a manual `apply`, here threads with their own
/// handles, each its own lock holder) never get the same number, and none is lost.
#[test]
fn writers_at_once_get_distinct_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let writers: Vec<_> = (0..8)
        .map(|w| {
            let path = dir.path().to_owned();
            std::thread::spawn(move || {
                let outbox = Outbox::open(&path, events(10_000)).unwrap();
                (0..40)
                    .map(|n| outbox.append(event(w * 100 + n), time()).unwrap())
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    let mut given: Vec<u64> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    given.sort_unstable();
    given.dedup();
    assert_eq!(given.len(), 320);
    let outbox = Outbox::open(dir.path(), events(10_000)).unwrap();
    let pending = outbox.pending(usize::MAX).unwrap();
    assert_eq!(seqs(&pending), given);
    assert_eq!(pending.dropped, 0);
}

/// counters.json lost after everything was delivered: numbering goes on above every
/// number given (a collector refuses numbers at or below the highest it saw).
#[test]
fn a_lost_counters_file_never_reuses_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), events(10)).unwrap();
    let given: Vec<u64> = (0..5)
        .map(|n| outbox.append(event(n), time()).unwrap())
        .collect();
    outbox.delivered(given[4]).unwrap();
    std::fs::remove_file(dir.path().join(COUNTERS)).unwrap();
    let next = outbox.append(event(5), time()).unwrap();
    assert!(next > given[4], "{next} reuses a number up to {}", given[4]);
    // A fresh outbox starts at the time in microseconds.
    assert!(given[0] >= 1_700_000_000_000_000, "{}", given[0]);
}

#[test]
fn the_byte_bound_drops_the_oldest() {
    let dir = tempfile::tempdir().unwrap();
    let block = std::fs::metadata(dir.path()).unwrap().blksize();
    let bounds = Bounds {
        max_events: 1000,
        max_bytes: 10 * block,
    };
    let outbox = Outbox::open(dir.path(), bounds).unwrap();
    let given: Vec<u64> = (0..25)
        .map(|n| outbox.append(event(n), time()).unwrap())
        .collect();
    let pending = outbox.pending(usize::MAX).unwrap();
    assert_eq!(seqs(&pending), given[15..]);
    assert_eq!(pending.dropped, 15);
    let used: u64 = outbox.waiting().unwrap().iter().map(|w| w.size).sum();
    assert!(used <= bounds.max_bytes, "{used}");
}

#[test]
fn an_oversize_record_is_refused_unwritten() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), events(10)).unwrap();
    let first = outbox.append(event(0), time()).unwrap();
    let huge = Event::Recovered {
        what: "x".repeat(MAX_EVENT_FILE_BYTES as usize),
    };
    let refused = outbox.append(huge, time()).unwrap_err();
    assert!(matches!(
        refused,
        OutboxError::TooLarge { bytes, limit: MAX_EVENT_FILE_BYTES }
            if bytes > MAX_EVENT_FILE_BYTES as usize
    ));
    assert_eq!(outbox.sequence_numbers().unwrap(), [first]);
    // No number was used up by the refusal.
    assert_eq!(outbox.append(event(1), time()).unwrap(), first + 1);
}

#[test]
fn a_refused_report_leaves_and_is_counted_as_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = Outbox::open(dir.path(), events(10)).unwrap();
    let given: Vec<u64> = (0..4)
        .map(|n| outbox.append(event(n), time()).unwrap())
        .collect();
    assert_eq!(outbox.refused(given[2]).unwrap(), 3);
    let pending = outbox.pending(10).unwrap();
    assert_eq!(seqs(&pending), [given[3]]);
    assert_eq!(pending.dropped, 3);
}

#[test]
fn only_record_names_count() {
    assert_eq!(parse_file_name("00000000000000000042.json"), Some(42));
    for name in [
        "42.json",
        "counters.json",
        ".lock",
        "0000000000000000004x.json",
        ".00000000000000000042.json.tmp",
    ] {
        assert_eq!(parse_file_name(name), None, "{name}");
    }
}
