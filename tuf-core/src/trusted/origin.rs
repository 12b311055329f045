//! Where metadata bytes come from, and so what verifying them takes: a mirror's bytes
//! always have their signatures checked; the device's own store's may be trusted again by
//! the hash their verified parent lists.

use crate::verify::KeySetDigest;

/// Where metadata bytes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin<'a> {
    /// A mirror: the bytes must match the length and hashes their parent lists, and a
    /// threshold of signatures is checked.
    Mirror,
    /// The device's own store: written only after an earlier verification, under the key
    /// set `verified_with` where the device kept it. When the verified parent lists these
    /// exact bytes by hash and the role's keys are still that key set, the signatures are
    /// not checked again ([`crate::verify::TrustedBy::ListedHash`]); otherwise they are,
    /// as for a mirror's. A stored snapshot may be older than the timestamp says, so it
    /// need not match the timestamp's listing (it then becomes the rollback reference).
    Store {
        verified_with: Option<&'a KeySetDigest>,
    },
}

impl Origin<'_> {
    /// The key set stored bytes were verified with, if they come from the store with one.
    pub(crate) fn stored_key_set(&self) -> Option<&KeySetDigest> {
        match self {
            Origin::Mirror => None,
            Origin::Store { verified_with } => *verified_with,
        }
    }
}
