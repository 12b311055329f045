//! `repo sign`: publishes the staged index (targets), the staged policy (the delegated
//! `policy` role), or both, with a new snapshot and timestamp.
//!
//! Everything one run writes is one [`Publication`]: artifacts, `N.targets.json`,
//! `policy.xml` and `N.policy.json`, `N.snapshot.json`, `timestamp.json` last, each complete
//! on disk before any takes its name. A reader that sees the new timestamp therefore finds
//! everything it points to; a reader that sees the old one still finds the old files, which
//! are never removed. A run that fails leaves the repository folder as it was, and a
//! versioned file already published is never rewritten (a new version is chosen past every
//! one on disk).
//!
//! A run is a sequence of named steps, one file each, over one [`flow::Signing`] value:
//! [`plan`] (which roles the keys sign), [`gather`] (signatures, pending files), [`build`]
//! (the targets, policy, snapshot and timestamp bodies), [`check`] (the device's verifier,
//! root lifetime), [`publish`] (the one publication). A staged root is signed first, by
//! `rotate`, in the same publication.

mod build;
mod catalogue;
mod check;
mod flow;
mod gather;
mod merge;
mod plan;
mod publish;
mod timestamp;

use anyhow::{bail, Result};
use updater::datetime::UtcTime;

pub(crate) use check::check_policy_against;
pub(crate) use check::check_signed;
pub(crate) use gather::pending_path;
pub use merge::merge;
pub(crate) use plan::keys_for_role;
pub(crate) use publish::{read_retired, retired_path};
pub use timestamp::timestamp_only;

use crate::keys::PrivateKey;
use crate::publication::Publication;
use crate::rotate::{name_of, RootProgress, RootSigning};
use crate::workspace::Workspace;

/// How `repo sign` may go beyond its usual refusals.
#[derive(Clone, Copy, Debug, Default)]
pub struct SignOptions {
    /// Sign even though root expires before the metadata signed now (devices stop
    /// updating when root expires, whatever the other roles say).
    pub force: bool,
}

/// Signs what the keys given can sign: a staged root (root keys add their signatures; it is
/// published once complete), and the roles whose keys are given (targets, policy or both)
/// with a new snapshot and timestamp. Everything goes into one [`Publication`]: a new root
/// and the roles signed under it become visible together or not at all. Returns what
/// happened, in words.
pub fn sign(ws: &Workspace, keys: &[PrivateKey], options: SignOptions) -> Result<Vec<String>> {
    ws.check_exists()?;
    let mut report = Vec::new();
    let mut publication = Publication::new();
    // Root keys are welcome only while a root is staged for them to sign.
    let root_signers = match crate::rotate::staged_root(ws)? {
        Some(_) => crate::rotate::root_signers(ws)?,
        None => Vec::new(),
    };
    let published = ws.published_root()?.map(|(root, _)| root.signed().clone());
    // The root the other roles are signed under: a root completed now, or the published one.
    let root = match crate::rotate::sign_staged(ws, keys, &mut publication)? {
        Some(RootSigning::Published(root)) => {
            report.push(format!("published root version {}", root.version));
            Some(root)
        }
        Some(RootSigning::Pending(progress, added)) => {
            report.push(root_progress_line(ws, &progress, added)?);
            published
        }
        None => published,
    };
    let root_work = !report.is_empty();
    match root {
        Some(root) => {
            let settings = ws.settings()?;
            crate::catalogue::migrate_staged(ws)?;
            let staged = ws.staged_targets()?;
            let plan = plan::plan(ws, &root, &staged, keys, &root_signers, root_work)?;
            if let Some(plan) = plan {
                let now = UtcTime::now();
                check::check_root_lifetime(&root, &plan, &settings, now, options.force)?;
                let signing = flow::Signing {
                    ws,
                    root: &root,
                    settings,
                    now,
                    plan,
                };
                signing.run(staged, &mut publication, &mut report)?;
            }
        }
        // Root version 1 still gathers signatures: only root keys have anything to sign.
        None => {
            if let Some(key) = keys.iter().find(|k| !root_signers.contains(k.key_id())) {
                bail!(
                    "key {} ({}) is not a root key of the staged root version 1: until it is signed, only root keys can sign",
                    key.path().display(),
                    key.key_id().short()
                );
            }
        }
    }
    publication.commit()?;
    Ok(report)
}

/// Where a staged root stands, in words.
fn root_progress_line(ws: &Workspace, progress: &RootProgress, added: usize) -> Result<String> {
    let names = ws.settings()?.names;
    let (by_current, by_new) = progress.missing();
    let signers: Vec<String> = progress
        .by_current
        .iter()
        .chain(
            progress
                .by_new
                .iter()
                .filter(|k| !progress.by_current.contains(k)),
        )
        .map(|k| name_of(&names, k))
        .collect();
    let signers = if signers.is_empty() {
        "nobody".to_owned()
    } else {
        signers.join(", ")
    };
    let needs = if progress.current_threshold == 0 {
        format!("still needs {by_new} from its root keys")
    } else {
        format!("still needs {by_current} from the current root keys and {by_new} from its own")
    };
    Ok(format!(
        "root version {} staged, {added} signature(s) added, signed by {signers}: {needs}",
        progress.version
    ))
}
