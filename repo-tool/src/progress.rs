//! A byte-count progress bar on a terminal, nothing otherwise (scripts and CI logs stay
//! clean).

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Progress over a known number of bytes.
#[derive(Clone)]
pub(crate) struct Progress(ProgressBar);

impl Progress {
    /// A bar for `total` bytes, drawn only when stderr is a terminal and `quiet` is off.
    pub(crate) fn bytes(total: u64, label: &str, quiet: bool) -> Self {
        if quiet || !std::io::stderr().is_terminal() {
            return Progress(ProgressBar::with_draw_target(
                Some(total),
                ProgressDrawTarget::hidden(),
            ));
        }
        let bar = ProgressBar::new(total);
        let style = ProgressStyle::with_template(
            "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message(label.to_owned());
        Progress(bar)
    }

    /// `n` more bytes done.
    pub(crate) fn advance(&self, n: u64) {
        self.0.inc(n);
    }

    /// Removes the bar.
    pub(crate) fn finish(&self) {
        self.0.finish_and_clear();
    }
}
