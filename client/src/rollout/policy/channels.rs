//! Checks across a channel's elements, once the whole policy is read: a target has waves and
//! is not also revoked, no stepping stone is revoked, and a `restart` moves the waves.

use std::collections::BTreeMap;

use super::{Channel, PolicyError, Target};
use crate::datetime::UtcTime;

/// Applies each target's `restart`, then checks each channel as a whole.
pub(super) fn check_and_restart(
    channels: &mut BTreeMap<String, Channel>,
) -> Result<(), PolicyError> {
    for channel in channels.values_mut() {
        if let Some(target) = channel.target.as_mut() {
            restart_waves(&channel.name, target)?;
        }
    }
    for channel in channels.values() {
        if let Some(target) = &channel.target {
            if target.waves.is_empty() {
                return Err(PolicyError {
                    line: 0,
                    message: format!(
                        "channel {:?}: target {} has no <wave> (use percent=\"100\" for everyone)",
                        channel.name, target.release
                    ),
                });
            }
            if channel.revoked.contains(&target.release) {
                return Err(PolicyError {
                    line: 0,
                    message: format!(
                        "channel {:?}: target {} is also revoked",
                        channel.name, target.release
                    ),
                });
            }
        }
        for via in &channel.vias {
            if channel.revoked.contains(&via.release) {
                return Err(PolicyError {
                    line: 0,
                    message: format!(
                        "channel {:?}: stepping stone {} is revoked",
                        channel.name, via.release
                    ),
                });
            }
        }
    }
    Ok(())
}

/// A target with `restart`: its waves as written start over at that moment, each moved later
/// by the same span, so the ramp runs again from its first share (a halt resumed as a fresh
/// ramp). The restart must come after the first wave as written, and no wave may move past
/// the last time accepted.
fn restart_waves(channel: &str, target: &mut Target) -> Result<(), PolicyError> {
    let (Some(restart), Some(first)) = (target.restart, target.waves.first().copied()) else {
        return Ok(());
    };
    let refuse = |message: String| PolicyError { line: 0, message };
    if restart <= first.start {
        return Err(refuse(format!(
            "channel {channel:?}: target {} restarts at {restart}, which is not after its first wave ({})",
            target.release, first.start
        )));
    }
    let shift = restart.unix() - first.start.unix();
    for wave in &mut target.waves {
        wave.start = UtcTime::from_unix(wave.start.unix().saturating_add(shift)).ok_or_else(|| {
            refuse(format!(
                "channel {channel:?}: target {} restarting at {restart} moves its wave of {} past 9999",
                target.release, wave.start
            ))
        })?;
    }
    Ok(())
}
