//! A binary's peak resident memory, as the kernel counts it: the run under GNU
//! `/usr/bin/time` (Debian's `time`), which reports the child's maximum RSS from `wait4`.

use std::process::Command;

use crate::run::Run;

/// Runs `command` under `/usr/bin/time`: the run (panicking unless it succeeded) and its
/// peak RSS in KiB.
pub fn run_measured(command: Command) -> (Run, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    let rss = dir.path().join("rss");
    let mut timed = Command::new("/usr/bin/time");
    timed
        .arg("-f")
        .arg("%M")
        .arg("-o")
        .arg(&rss)
        .arg(command.get_program())
        .args(command.get_args());
    for (k, v) in command.get_envs() {
        if let Some(v) = v {
            timed.env(k, v);
        }
    }
    let out = timed.output().expect("run /usr/bin/time");
    let run = Run::from(out).ok();
    let kib = std::fs::read_to_string(&rss)
        .expect("/usr/bin/time wrote its report")
        .trim()
        .parse()
        .expect("peak RSS in KiB");
    (run, kib)
}
