//! The device's reports as `apply`, `run` and `rollback` see them: record an event, send
//! what waits.
//!
//! Invariant: nothing here can fail its caller. Every method returns `()`; a failure (an
//! unwritable outbox, a dead collector) is one line on stderr, and the update goes on
//! exactly as it would without reports. Without a `[report]` section it does nothing.
//! After a failed send, none is tried before the outbox's `retry_after` (backoff with
//! jitter); events are still recorded meanwhile.

use std::path::PathBuf;
use std::time::Duration;

use updater::datetime::UtcTime;
use updater::fetch::ClientIdentity;
use updater::report::send::{Collectors, Delivery, SENDING_TIME};
use updater::report::{DeviceKey, Event, Outbox};

use crate::cli::Settings;

/// Seconds before the next wake-up by which sending ends.
const BEFORE_WAKE: i64 = 5;

/// Records events into the outbox, if reports are configured.
pub(crate) struct Recorder {
    outbox: Option<Outbox>,
    key: PathBuf,
    urls: Vec<String>,
    ca_file: Option<PathBuf>,
    identity: Option<ClientIdentity>,
}

impl Recorder {
    /// The recorder `settings` configure: off without a config or its `[report]` section.
    pub(crate) fn new(settings: &Settings) -> Recorder {
        let configured = settings.config.as_ref().filter(|c| c.report.is_some());
        let outbox = configured.and_then(|config| {
            Outbox::open(&config.report_outbox_path(), config.report_bounds())
                .map_err(|e| crate::log::warning(&format!("reports off: {e}")))
                .ok()
        });
        Recorder {
            outbox,
            key: configured.map(|c| c.report_key_path()).unwrap_or_default(),
            urls: configured.map(|c| c.report().urls).unwrap_or_default(),
            ca_file: settings.ca_file.clone(),
            identity: configured.and_then(|c| {
                let report = c.report();
                Some(ClientIdentity {
                    cert: report.client_cert?,
                    key: report.client_key?,
                })
            }),
        }
    }

    /// Appends `event`, now.
    pub(crate) fn record(&self, event: Event) {
        if let Some(outbox) = &self.outbox {
            if let Err(e) = outbox.append(event, UtcTime::now()) {
                crate::log::warning(&format!("report event not recorded: {e}"));
            }
        }
    }

    /// Posts what waits in the outbox to the configured collectors, as `device`, ending
    /// [`BEFORE_WAKE`] before `wake` (the device's next check, if it has one) and within
    /// [`SENDING_TIME`]: sending never delays what the device does next. What is not
    /// delivered waits for the next check.
    pub(crate) fn send(&self, device: Option<&str>, wake: Option<UtcTime>) {
        let (Some(outbox), Some(device)) = (&self.outbox, device) else {
            return;
        };
        let budget = match wake {
            Some(wake) => {
                let left = wake.unix() - UtcTime::now().unix() - BEFORE_WAKE;
                Duration::from_secs(left.max(0).unsigned_abs())
            }
            None => SENDING_TIME,
        };
        if self.urls.is_empty() || budget.is_zero() {
            return;
        }
        match outbox.retry_after() {
            Ok(Some(at)) if at > UtcTime::now() => return,
            Ok(_) => {}
            Err(e) => crate::log::warning(&format!("report backoff unreadable: {e}")),
        }
        let key = match DeviceKey::load_or_create(&self.key, outbox) {
            Ok((key, _)) => key,
            Err(e) => {
                crate::log::warning(&format!("reports not sent (kept for the next check): {e}"));
                return;
            }
        };
        let delivery =
            match Collectors::new(&self.urls, self.ca_file.as_deref(), self.identity.as_ref()) {
                Ok(collectors) => {
                    let batch = updater::limits::MAX_EVENTS_PER_POST;
                    collectors.deliver(outbox, &key, device, batch, budget)
                }
                Err(e) => Delivery {
                    stopped: Some(e),
                    ..Delivery::default()
                },
            };
        self.after(outbox, delivery);
    }

    /// Says what a send dropped or why it stopped, and keeps the backoff.
    fn after(&self, outbox: &Outbox, delivery: Delivery) {
        for (count, why) in &delivery.refused {
            crate::log::warning(&format!(
                "{count} report events dropped: every collector refused their report for good \
                 ({why})"
            ));
        }
        let noted = match delivery.stopped {
            Some(e) => {
                let noted = outbox.send_failed(UtcTime::now());
                let when = match &noted {
                    Ok(at) => format!("; next try not before {at}"),
                    Err(_) => String::new(),
                };
                crate::log::warning(&format!(
                    "reports not sent (kept for the next check): {e}{when}"
                ));
                noted.map(|_| ())
            }
            None => outbox.send_succeeded(),
        };
        if let Err(e) = noted {
            crate::log::warning(&format!("report backoff not recorded: {e}"));
        }
    }
}
