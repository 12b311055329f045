//! `updater run`: `apply` again and again, at the policy's check interval plus jitter.

use std::time::Duration;

use anyhow::Result;
use updater::datetime::UtcTime;

use crate::cli::{Cli, Settings};
use crate::commands::apply::apply;

pub(crate) fn run(cli: &Cli, settings: &Settings) -> Result<()> {
    loop {
        let wait = match apply(cli, settings, UtcTime::now()) {
            Ok(wait) => wait,
            Err(e) => {
                eprintln!("updater: {e:#}");
                None
            }
        };
        let (every, jitter) = wait.unwrap_or((3600, 600));
        let mut random = [0u8; 4];
        let _ = getrandom::getrandom(&mut random);
        let spread = u64::from(u32::from_le_bytes(random)) % (jitter + 1);
        std::thread::sleep(Duration::from_secs(every + spread));
    }
}
