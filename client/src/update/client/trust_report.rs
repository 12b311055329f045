//! A test hook that says how each role came to be trusted: by its signatures, checked now,
//! or by its stored bytes, listed by hash and verified before under the same keys. Only in
//! builds with the `fault-injection` feature (the e2e tests'), when `UPDATER_TEST_TRUST_REPORT`
//! is set; a release build reports nothing.

use crate::names::RoleName;
use crate::verify::{TrustedBy, Verified};

/// Prints `updater: test: trusted <role> by <signatures|listed hash>` to stderr.
#[cfg(feature = "fault-injection")]
pub(super) fn report<T>(role: &RoleName, verified: &Verified<T>) {
    if std::env::var_os("UPDATER_TEST_TRUST_REPORT").is_some() {
        let how = match verified.trusted_by() {
            TrustedBy::Signatures => "signatures",
            TrustedBy::ListedHash => "listed hash",
        };
        eprintln!("updater: test: trusted {role} by {how}");
    }
}

/// Without `fault-injection`, trusting is silent.
#[cfg(not(feature = "fault-injection"))]
pub(super) fn report<T>(_role: &RoleName, _verified: &Verified<T>) {
    let _: Option<TrustedBy> = None;
}
