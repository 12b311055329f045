use super::*;
use updater::conventions::Release;
use updater::datetime::UtcTime;

fn record(seq: u64, at: i64, event: Event) -> Record {
    Record {
        seq,
        time: UtcTime::from_unix(at).unwrap(),
        event,
    }
}

fn release(name: &str) -> Release {
    Release::new(name).unwrap()
}

fn checked(action: CheckAction, name: &str) -> Event {
    Event::Checked {
        action,
        release: Some(release(name)),
        wave: Some(1),
        bucket: Some(42),
        eligible_at: None,
        reason: "r".into(),
    }
}

fn view() -> DeviceView {
    DeviceView {
        device: Device::default(),
        rollout: BTreeMap::new(),
        changed: Default::default(),
    }
}

#[test]
fn an_attempt_moves_forward_and_a_late_check_does_not_undo_it() {
    let mut v = view();
    v.apply(&record(1, 100, checked(CheckAction::Wait, "2.0.0")));
    assert_eq!(v.rollout["2.0.0"].state, State::Waiting);
    v.apply(&record(2, 200, checked(CheckAction::Install, "2.0.0")));
    assert_eq!(v.rollout["2.0.0"].state, State::Eligible);
    v.apply(&record(
        3,
        210,
        Event::Downloading {
            release: release("2.0.0"),
            done: 0,
            total: 9,
        },
    ));
    v.apply(&record(
        4,
        220,
        Event::Installed {
            release: release("2.0.0"),
            from: None,
        },
    ));
    v.apply(&record(5, 300, checked(CheckAction::Install, "2.0.0")));
    let row = &v.rollout["2.0.0"];
    assert_eq!(
        (row.state, row.installed_at, row.wave),
        (State::Installed, Some(220), Some(1))
    );
    assert_eq!(v.device.running.as_deref(), Some("2.0.0"));
    assert_eq!(v.device.last_seen, Some(300));
}

#[test]
fn a_failed_trial_and_a_failed_download_each_fail_their_release() {
    let mut v = view();
    v.apply(&record(1, 100, checked(CheckAction::Install, "2.0.0")));
    v.apply(&record(
        2,
        101,
        Event::health_check_failed(&release("2.0.0"), "no answer"),
    ));
    v.apply(&record(
        3,
        102,
        Event::RolledBack {
            release: release("2.0.0"),
            to: Some(release("1.0.0")),
        },
    ));
    assert_eq!(v.rollout["2.0.0"].state, State::RolledBack);
    assert_eq!(v.rollout["2.0.0"].reason.as_deref(), Some("no answer"));
    assert_eq!(v.device.running.as_deref(), Some("1.0.0"));
    // A failure while downloading 3.0.0 fails it; a failure with nothing under way fails
    // no release.
    v.apply(&record(
        4,
        200,
        Event::Downloading {
            release: release("3.0.0"),
            done: 0,
            total: 9,
        },
    ));
    v.apply(&record(5, 201, Event::failed("hash mismatch")));
    assert_eq!(v.rollout["3.0.0"].state, State::Failed);
    v.apply(&record(6, 300, Event::failed("mirror down")));
    assert_eq!(v.rollout["3.0.0"].reason.as_deref(), Some("hash mismatch"));
    assert_eq!(v.device.last_failure.as_deref(), Some("mirror down"));
}
