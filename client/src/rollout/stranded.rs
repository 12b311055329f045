//! Policies that leave devices with nowhere to go, found before they are signed: `repo`
//! refuses a policy for which [`stranded`] finds anything. Invariant: each finding is a
//! move [`super::decide`] would answer with "stay" for a device the policy means to move.
//!
//! Which platforms a channel's devices run is read from the index, which knows no channels:
//! a channel's devices may be running any release the policy would move them from, so they
//! are taken to run every platform one of those releases has artifacts for. For the target,
//! those releases are every release of the index below it (and above it too when
//! `downgrade="true"`) and the channel's revoked releases; for a stepping stone, every
//! release below both its `below` and itself, revoked ones included (a device leaving a
//! revoked release passes through the stone too). A channel that declares its platforms
//! (`<channel platforms="...">`) is taken at its word: only those count, so a platform
//! retired in another channel, or another product line sharing the repository, does not
//! block it. Fresh devices, which run nothing yet, are not counted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::rollout::decide::Index;
use crate::rollout::policy::{Channel, Policy, Release};

/// One way a policy strands devices.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stranding {
    /// `revoked` is revoked in a channel with no target: its devices cannot leave it.
    RevokedWithoutTarget { channel: String, revoked: Release },
    /// `release` (the target or a stepping stone) has no artifact for `platform`, which
    /// devices run on each release of `from`: those devices stay where they are.
    NoArtifact {
        channel: String,
        role: Role,
        release: Release,
        platform: String,
        from: Vec<Release>,
    },
}

/// What a release is to its channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Target,
    SteppingStone,
}

impl fmt::Display for Stranding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stranding::RevokedWithoutTarget { channel, revoked } => write!(
                f,
                "channel {channel:?} revokes {revoked} but has no <target>, so devices running {revoked} cannot leave it"
            ),
            Stranding::NoArtifact {
                channel,
                role,
                release,
                platform,
                from,
            } => {
                let role = match role {
                    Role::Target => "target",
                    Role::SteppingStone => "stepping stone",
                };
                let from: Vec<String> = from.iter().map(Release::to_string).collect();
                write!(
                    f,
                    "channel {channel:?}: {role} {release} has no artifact for platform {platform}, so {platform} devices running {} cannot move to it",
                    from.join(" or ")
                )
            }
        }
    }
}

/// Everything in `policy` that leaves devices with nowhere to go, channel by channel.
pub fn stranded(policy: &Policy, index: &Index) -> Vec<Stranding> {
    let mut found = Vec::new();
    for channel in policy.channels.values() {
        let Some(target) = &channel.target else {
            found.extend(
                channel
                    .revoked
                    .iter()
                    .map(|r| Stranding::RevokedWithoutTarget {
                        channel: channel.name.clone(),
                        revoked: r.clone(),
                    }),
            );
            continue;
        };
        let moved_to_target = index
            .releases()
            .filter(|r| **r < target.release || (target.downgrade && **r > target.release))
            .chain(channel.revoked.iter());
        missing(
            &mut found,
            channel,
            Role::Target,
            &target.release,
            index,
            moved_to_target,
        );
        // A stepping stone at or above the target is never used (see decide's destination).
        for via in channel.vias.iter().filter(|v| v.release < target.release) {
            let moved_to_via = index
                .releases()
                // As decide's destination: only devices below the stone itself move to it.
                .filter(|r| **r < via.below && **r < via.release);
            missing(
                &mut found,
                channel,
                Role::SteppingStone,
                &via.release,
                index,
                moved_to_via,
            );
        }
    }
    found
}

/// Records, per platform that `release` lacks, the releases of `from` whose devices run it.
fn missing<'a>(
    found: &mut Vec<Stranding>,
    channel: &Channel,
    role: Role,
    release: &Release,
    index: &Index,
    from: impl Iterator<Item = &'a Release>,
) {
    let has: BTreeSet<&str> = index.platforms(release).into_iter().collect();
    let mut lacking: BTreeMap<&str, BTreeSet<&Release>> = BTreeMap::new();
    let declared = |platform: &str| {
        channel
            .platforms
            .as_ref()
            .is_none_or(|declared| declared.contains(platform))
    };
    for running in from {
        for platform in index.platforms(running) {
            if !has.contains(platform) && declared(platform) {
                lacking.entry(platform).or_default().insert(running);
            }
        }
    }
    found.extend(
        lacking
            .into_iter()
            .map(|(platform, from)| Stranding::NoArtifact {
                channel: channel.name.clone(),
                role,
                release: release.clone(),
                platform: platform.to_owned(),
                from: from.into_iter().cloned().collect(),
            }),
    );
}

#[cfg(test)]
mod tests;
