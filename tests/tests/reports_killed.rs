//! Device reports under kills: `updater apply` killed (SIGKILL) at random moments while it
//! sends a large outbox to a slow collector loses no event; repeats are possible, and a
//! collector that keys events by (device key, seq) stores each once.

use std::collections::BTreeSet;
use std::time::Duration;

use e2e_tests::{
    append_failed, apply, device_outbox, policy_for, scene, verify_carried, waiting_seqs,
    RecordingCollector,
};
use updater::report::VerifiedReport;

/// Killed (SIGKILL) at random moments while sending a large outbox to a slow collector,
/// then let finish: keyed by (device key, seq) as a collector stores them, every event
/// that was ever waiting arrived, none was dropped, and the outbox ends empty.
#[test]
fn killed_at_random_while_sending_no_event_is_lost() {
    use std::collections::hash_map::RandomState;
    use std::hash::BuildHasher;
    let collector = RecordingCollector::slow(200, Duration::from_millis(120));
    let toml = format!(
        "\n[report]\nurls = [\"{}\"]\nmax_events = 5000\nmax_bytes = 67108864\n",
        collector.url()
    );
    let s = scene(&policy_for("1.0.0", ""), &toml);
    let outbox_dir = s.device.tmp.path().join("outbox");
    let given = append_failed(&device_outbox(&s), 3000, "queued");
    let mut seen: BTreeSet<u64> = given.iter().copied().collect();
    let seed = RandomState::new().hash_one(0u8);
    eprintln!("kill moments seeded with {seed}");
    for round in 0..6u64 {
        let wait = (seed.rotate_left(round as u32 * 10) % 2000) + 100;
        let mut child = e2e_tests::spawn(&s.config, "apply", None);
        std::thread::sleep(Duration::from_millis(wait));
        child.kill().unwrap();
        child.wait().unwrap();
        seen.extend(waiting_seqs(&outbox_dir));
    }
    let end = apply(&s.device, &s.config);
    assert!(end.code.is_some(), "{end:#?}");
    assert!(waiting_seqs(&outbox_dir).is_empty(), "{end:#?}");
    let reports: Vec<VerifiedReport> = collector
        .bodies()
        .iter()
        .map(|b| verify_carried(b).unwrap())
        .collect();
    let mut stored: BTreeSet<(String, u64)> = BTreeSet::new();
    let mut received = 0usize;
    for report in &reports {
        assert_eq!(report.dropped(), 0);
        for record in report.events() {
            stored.insert((report.key().to_owned(), record.seq));
            received += 1;
        }
    }
    let keys: BTreeSet<&str> = reports.iter().map(|r| r.key()).collect();
    assert_eq!(keys.len(), 1);
    let stored_seqs: BTreeSet<u64> = stored.iter().map(|(_, seq)| *seq).collect();
    let lost: Vec<&u64> = seen.difference(&stored_seqs).collect();
    assert!(lost.is_empty(), "{} events lost: {lost:?}", lost.len());
    // Every stored event was appended: the queued ones, or the runs' own, numbered after.
    assert!(stored_seqs
        .iter()
        .all(|s| seen.contains(s) || *s > given[2999]));
    eprintln!(
        "{} reports, {received} events received, {} stored once by (key, seq), {} appended by the runs",
        reports.len(),
        stored.len(),
        stored.len() - given.len()
    );
}
