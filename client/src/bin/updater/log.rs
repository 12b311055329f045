//! The lines `updater` prints while it works (`apply`, `run`, and the final error of any
//! command), each with a level. The format is chosen once, at start:
//!
//! - `plain` (a terminal, a pipe): today's lines, unchanged: information bare on stdout,
//!   `updater: warning: ...` and `updater: ...` (errors) on stderr.
//! - `journald`: the same streams, each line prefixed with its sd-daemon priority, `<3>`
//!   error, `<4>` warning, `<6>` info, which journald stores as the entry's priority
//!   (`journalctl -p warning` then shows only what needs a look). The program's name is
//!   left out: the journal records it.
//!
//! `--log-format auto` (the default) picks `journald` when systemd connected stdout or
//! stderr to the journal: `JOURNAL_STREAM` names that stream's device and inode, and is
//! compared with the real ones, as systemd.exec(5) advises, so that a child whose output
//! was redirected does not inherit the prefixes along with the variable.

use std::sync::OnceLock;

/// How lines are written; `Auto` is resolved once, at start.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LogFormat {
    /// `journald` under systemd (JOURNAL_STREAM matches stdout or stderr), else `plain`.
    Auto,
    /// Lines as they always were, no priority prefixes.
    Plain,
    /// Each line prefixed with its priority: `<3>` error, `<4>` warning, `<6>` info.
    Journald,
}

/// The importance of a line, as syslog and journald rank it.
#[derive(Clone, Copy, Debug)]
enum Level {
    Error,
    Warning,
    Info,
}

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Sets the format for the rest of the run (`Auto` resolved against the environment).
pub(crate) fn init(choice: LogFormat) {
    let format = match choice {
        LogFormat::Auto if connected_to_journal() => LogFormat::Journald,
        LogFormat::Auto => LogFormat::Plain,
        other => other,
    };
    let _ = FORMAT.set(format);
}

/// An error: the step failed.
pub(crate) fn error(message: &str) {
    write(Level::Error, message);
}

/// Something to look at; the step went on.
pub(crate) fn warning(message: &str) {
    write(Level::Warning, message);
}

/// What was done or decided.
pub(crate) fn info(message: &str) {
    write(Level::Info, message);
}

fn write(level: Level, message: &str) {
    if FORMAT.get() != Some(&LogFormat::Journald) {
        match level {
            Level::Info => println!("{message}"),
            Level::Warning => eprintln!("updater: warning: {message}"),
            Level::Error => eprintln!("updater: {message}"),
        }
        return;
    }
    // journald makes one entry per line: each line carries the priority.
    for line in message.lines() {
        match level {
            Level::Info => println!("<6>{line}"),
            Level::Warning => eprintln!("<4>{line}"),
            Level::Error => eprintln!("<3>{line}"),
        }
    }
}

/// Whether stdout or stderr is the stream `JOURNAL_STREAM` (`DEVICE:INODE`) names.
fn connected_to_journal() -> bool {
    let Some(named) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = named.to_str().and_then(|s| s.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    let is_it = |stat: rustix::io::Result<rustix::fs::Stat>| {
        stat.is_ok_and(|s| s.st_dev == dev && s.st_ino == ino)
    };
    is_it(rustix::fs::fstat(std::io::stdout())) || is_it(rustix::fs::fstat(std::io::stderr()))
}
