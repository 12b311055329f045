//! One home for each repository convention that `repo` writes and the device reads, so the
//! two programs cannot drift apart: what a release or platform label may be and how releases
//! order ([`check_label`], [`Release`]), where a release's files sit among the target names
//! ([`release_target_name`]), which artifact kinds exist and which bundles a device can unpack ([`BundleFormat`]),
//! which file modes a plain artifact is installed with ([`FileMode`]),
//! the names a server stores and a client fetches a target by ([`served`]), which target
//! names every client can fetch ([`name_budget`]), how a policy's device ids and groups
//! match a device's ([`matching_form`]), how an encrypted artifact is recorded
//! ([`Encrypted`]), and the policy's role and file names.
//!
//! Invariant: a value `repo` accepts here is one the device accepts and handles, and a value
//! either side refuses is refused by both, with the same sentence.

mod device_name;
pub mod encrypted;
mod kind;
mod label;
mod layout;
mod mode;
pub mod name_budget;
mod release;
pub mod served;

pub use device_name::matching_form;
pub use encrypted::{Encrypted, EncryptedError};
pub use kind::{ArtifactKind, BundleFormat, KindError};
pub use label::{check_label, MAX_LABEL};
pub(crate) use layout::ReleaseTarget;
pub use layout::{release_folder, release_target_name, LayoutError, RELEASES};
pub use mode::{FileMode, ModeError};
pub use release::Release;

/// The delegated role that alone may sign the rollout policy.
pub const POLICY_ROLE: &str = "policy";
/// The policy's target name, listed by [`POLICY_ROLE`] only.
pub const POLICY_FILE: &str = "policy.xml";
