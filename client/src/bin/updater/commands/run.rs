//! `updater run`: `apply` again and again, waking at the moment `apply` names (the next check,
//! or sooner when the decision waits for the install window or for a wave: the rule is
//! `updater::rollout::wake`), or after a failed check 5 minutes later, doubling to an hour
//! while failures last. The wait is slept in steps of at most a minute, each measured
//! against the wall clock, so a clock that jumps or a machine that was suspended wakes on
//! time rather than after the whole sleep it had planned.

use std::time::Duration;

use anyhow::Result;
use updater::datetime::UtcTime;
use updater::rollout::wake::after_failure;

use crate::cli::{Cli, Settings};
use crate::commands::apply::{apply, random_u64};

/// The longest single sleep: a clock change is noticed within this.
const STEP: i64 = 60;

pub(crate) fn run(cli: &Cli, settings: &Settings) -> Result<()> {
    // Checks failed in a row: a failure is retried soon (it may be a mirror blip at the
    // window's opening), then less often while it lasts.
    let mut failures = 0u32;
    loop {
        let now = UtcTime::now();
        let wake = match apply(cli, settings, now) {
            Ok(wake) => {
                failures = 0;
                wake
            }
            Err(e) => {
                crate::log::error(&format!("{e:#}"));
                failures = failures.saturating_add(1);
                after_failure(failures, now, random_u64())
            }
        };
        sleep_until(wake);
    }
}

/// Sleeps until the wall clock reads `wake`, in steps of at most [`STEP`] seconds.
fn sleep_until(wake: UtcTime) {
    loop {
        let left = wake.unix() - UtcTime::now().unix();
        if left <= 0 {
            return;
        }
        std::thread::sleep(Duration::from_secs(left.min(STEP).unsigned_abs()));
    }
}
