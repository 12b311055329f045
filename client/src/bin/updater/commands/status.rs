//! `updater status`: the install state, read-only (works on a full disk).

use anyhow::Result;
use updater::install::State;

use crate::cli::{installer, Settings};

pub(crate) fn run(settings: &Settings, json: bool) -> Result<()> {
    // Read-only: status works on a full disk or a read-only state folder.
    let installer = installer(settings)?;
    let mut state = installer.state().unwrap_or_else(|e| {
        eprintln!("updater: {e}");
        State::default()
    });
    state.running = installer.link("current")?;
    state.previous = installer.link("previous")?;
    if json {
        println!("{}", serde_json::to_string(&state)?);
    } else {
        let show = |v: Option<String>| v.unwrap_or_else(|| "-".into());
        println!("running:    {}", show(state.running.map(|r| r.to_string())));
        println!(
            "previous:   {}",
            show(state.previous.map(|r| r.to_string()))
        );
        println!(
            "last check: {}",
            show(state.last_check.map(|t| t.to_string()))
        );
        println!("result:     {}", show(state.last_result));
        println!(
            "next check: {}",
            show(state.next_check.map(|t| t.to_string()))
        );
        println!("last error: {}", show(state.last_error));
        if let Some(f) = state.failed {
            let when = f.at.map(|t| format!(" at {t}")).unwrap_or_default();
            println!(
                "failed:     {}{when} ({}); not retried until the policy changes or `updater retry`",
                f.release, f.reason
            );
        }
        if let Some(h) = state.held {
            let why = h.reason.map(|r| format!(": {r}")).unwrap_or_default();
            println!(
                "held:       since {}{why}; `updater unhold` lets it move",
                h.since
            );
        }
    }
    Ok(())
}
