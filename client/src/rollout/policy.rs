//! `policy.xml`: the signed rollout policy, parsed strictly.
//!
//! A typo must not silently weaken a policy, so anything this parser does not know is an
//! error that names its line: unknown elements and attributes, elements in the wrong place,
//! text, CDATA, processing instructions, DTDs (which is where entity bombs and external
//! entities live), unknown entities, invalid UTF-8, oversized input. The schema is at most
//! four elements deep, so deep nesting fails at its first unexpected element.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::datetime::UtcTime;
use crate::rollout::period::Period;

/// Largest `policy.xml` accepted, by `repo` and by devices (defined with the other limits).
pub use crate::limits::MAX_POLICY_BYTES;

/// Basis points in 100 percent: percents have at most two decimals.
pub const FULL_SHARE: u32 = 10_000;

/// A release label, ordered as versions: the one rule and order both programs use.
pub use crate::conventions::Release;

/// The parsed policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Policy {
    /// How often devices check, and the random spread added to each wait.
    pub check_every: Period,
    pub check_jitter: Option<Period>,
    /// When installs may happen (UTC); `None`: any time.
    pub window: Option<Window>,
    /// Channels by name.
    pub channels: BTreeMap<String, Channel>,
    /// `<early>` entries that repeat one already read for the same channel (under
    /// [`crate::conventions::matching_form`]): a device reads the policy as if each were
    /// written once; `repo policy check` refuses them, since two spellings meant as two
    /// devices leave one of them out of the canaries.
    pub early_repeats: Vec<PolicyError>,
}

/// Days and hours (UTC) in which devices may install.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Monday first.
    pub days: [bool; 7],
    /// Minutes after midnight; `to < from` means the window crosses midnight.
    pub from: u32,
    pub to: u32,
}

/// One channel: what its devices should run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    pub name: String,
    pub target: Option<Target>,
    /// Stepping stones: a device running a release below `below` goes to `release` first.
    pub vias: Vec<Via>,
    /// Releases never to install, and to leave at once.
    pub revoked: BTreeSet<Release>,
    /// No new installs, except to leave a revoked release.
    pub halt: bool,
    /// The platforms this channel's devices run, when the release admin says so
    /// (`<channel platforms>`): `repo`'s stranding check then counts these alone instead of
    /// inferring them from the index. Devices are not filtered by it.
    pub platforms: Option<BTreeSet<String>>,
}

/// The release a channel moves to, and its rollout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub release: Release,
    /// Devices running a newer release move back to this one only if true.
    pub downgrade: bool,
    /// Early device ids and groups, in their matching form
    /// ([`crate::conventions::matching_form`]).
    pub early_devices: BTreeSet<String>,
    pub early_groups: BTreeSet<String>,
    /// In strictly increasing time, shares never decreasing; at least one. With `restart`,
    /// these are the waves as they apply: moved later so the first starts at `restart`.
    pub waves: Vec<Wave>,
    /// When the rollout started over (`<target restart>`), if it did: the waves as written
    /// were moved later by one span so that the first starts then.
    pub restart: Option<UtcTime>,
}

/// From `start`, `share` basis points of the fleet are eligible (ramping linearly to the
/// next wave's share).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wave {
    pub start: UtcTime,
    pub share: u32,
}

/// A stepping stone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Via {
    pub release: Release,
    pub below: Release,
}

/// Why a policy was refused, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line, 0 when the whole file is at fault.
    pub line: usize,
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "policy.xml: {}", self.message)
        } else {
            write!(f, "policy.xml line {}: {}", self.line, self.message)
        }
    }
}

impl std::error::Error for PolicyError {}

mod channels;
mod parser;
mod schema;
mod values;

pub use parser::parse;

/// Basis points as a percent for people: `12.5%`.
pub fn show_share(share: u32) -> String {
    if share.is_multiple_of(100) {
        format!("{}%", share / 100)
    } else {
        format!("{}%", f64::from(share) / 100.0)
    }
}

#[cfg(test)]
mod tests;
