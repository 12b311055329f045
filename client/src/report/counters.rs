//! The outbox's persisted counters (`counters.json`): the next sequence number, the running
//! total of events dropped unsent, the send backoff, and the device key's public half.
//!
//! Invariant: a sequence number is never given twice. While the file exists it holds the
//! next one; if it is lost, numbering restarts at the larger of one past the highest record
//! still waiting and the current time in microseconds since the epoch, which is above every
//! number given before (a device appends far fewer than a million events a second, and the
//! numbers a lost file gave were all below the time they were given). A collector refuses a
//! report whose first number is not above the highest it has seen, so a reused number
//! would block the device for good.

use serde::{Deserialize, Serialize};

use crate::datetime::UtcTime;

/// The persisted counters. Fields added after the first format default when absent, so an
/// older file still reads.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Counters {
    pub(crate) next_seq: u64,
    /// Events deleted unsent, ever: never decremented.
    pub(crate) dropped: u64,
    /// Failed sends since the last one that got through.
    #[serde(default)]
    pub(crate) failures: u32,
    /// No send is tried before this time.
    #[serde(default)]
    pub(crate) retry_after: Option<UtcTime>,
    /// The public half (hex) of the device key the outbox's reports were signed with.
    #[serde(default)]
    pub(crate) key: Option<String>,
}

/// The shortest wait after a failed send, doubled per further failure.
const BACKOFF_BASE_SECONDS: i64 = 30;
/// The longest wait after failed sends.
const BACKOFF_MAX_SECONDS: i64 = 3600;

impl Counters {
    /// The counters of an outbox whose file is missing, whose highest waiting record is
    /// `highest`, at `now_micros` (see the invariant above).
    pub(crate) fn recovered(highest: Option<u64>, now_micros: u64) -> Counters {
        let after_records = highest.map_or(0, |h| h.saturating_add(1));
        Counters {
            next_seq: after_records.max(now_micros),
            ..Counters::default()
        }
    }

    /// Notes a failed send at `now`: the next is not tried before now + min(30 s ×
    /// 2^failures, 1 h), scaled by a factor in [0.5, 1.5) drawn from `random`, so a fleet
    /// that lost its collector at once does not come back at once.
    pub(crate) fn send_failed(&mut self, now: UtcTime, random: u32) -> UtcTime {
        let at = now.plus_seconds(backoff_seconds(self.failures, random));
        self.failures = self.failures.saturating_add(1);
        self.retry_after = Some(at);
        at
    }

    /// Notes a send that got through: the backoff starts over.
    pub(crate) fn send_succeeded(&mut self) {
        self.failures = 0;
        self.retry_after = None;
    }
}

/// The wait after the (`failures` + 1)th failure in a row, jittered by `random`.
fn backoff_seconds(failures: u32, random: u32) -> i64 {
    // 30 s × 2^7 is past the hour: no larger shift is needed (nor safe).
    let base = (BACKOFF_BASE_SECONDS << failures.min(7)).min(BACKOFF_MAX_SECONDS);
    // Factor (500 + r) / 1000 with r in 0..1000: [0.5, 1.5).
    base * (500 + i64::from(random % 1000)) / 1000
}

/// Now, in microseconds since the epoch (0 if the clock is before it).
pub(crate) fn now_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_an_hour_within_its_jitter() {
        for failures in [0u32, 1, 2, 6, 7, 8, 100, u32::MAX] {
            let base = (30i64 << failures.min(7)).min(3600);
            for random in [0u32, 1, 499, 500, 999, 1000, u32::MAX] {
                let wait = backoff_seconds(failures, random);
                assert!(
                    wait * 2 >= base && wait * 2 < base * 3,
                    "{failures} {random}"
                );
            }
        }
        assert_eq!(backoff_seconds(0, 500), 30);
        assert_eq!(backoff_seconds(3, 500), 240);
        assert_eq!(backoff_seconds(20, 500), 3600);
    }

    #[test]
    fn a_lost_file_numbers_above_records_and_time() {
        assert_eq!(Counters::recovered(None, 1_000).next_seq, 1_000);
        assert_eq!(Counters::recovered(Some(5_000), 1_000).next_seq, 5_001);
        assert_eq!(Counters::recovered(Some(u64::MAX), 0).next_seq, u64::MAX);
    }
}
