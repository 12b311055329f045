//! `repo retire`: stages releases to leave the catalogue. The next `repo sign` with the
//! targets keys removes each one's delegation (or re-signs its volume without it) in the
//! same snapshot, so no device ever meets a dangling role; the release's files stay served
//! until `repo prune`, for devices in the middle of downloading it.

use std::collections::BTreeSet;

use anyhow::{bail, Context, Result};
use updater::conventions::Release;

use super::Published;
use crate::workspace::Workspace;

/// Stages `labels` for retirement; returns every release then staged to retire.
pub fn retire(ws: &Workspace, labels: &[String]) -> Result<BTreeSet<Release>> {
    ws.check_exists()?;
    let published = Published::load(ws)?;
    let policy = staged_policy_releases(ws)?;
    let mut staged = staged_retirements(ws)?;
    for label in labels {
        let release = Release::new(label)?;
        if published.place(&release).is_none() {
            bail!("the catalogue holds no published release {release}: nothing to retire");
        }
        if policy.contains(&release) {
            bail!(
                "the staged policy names release {release}: devices could be sent to it; stage a policy without it first (`repo policy set`)"
            );
        }
        staged.insert(release);
    }
    let path = retire_path(ws);
    let bytes = serde_json::to_vec_pretty(&staged)?;
    updater::fs::write_atomic(&path, &bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(staged)
}

/// Every release the staged policy names (as target, stepping stone or revoked).
fn staged_policy_releases(ws: &Workspace) -> Result<BTreeSet<Release>> {
    let file = ws.staged_policy_file();
    if !file.is_file() {
        return Ok(BTreeSet::new());
    }
    let xml = updater::fs::read_bounded(&file, updater::rollout::policy::MAX_POLICY_BYTES)?;
    let policy = updater::rollout::policy::parse(&xml)
        .with_context(|| format!("the staged {}", file.display()))?;
    Ok(policy
        .channels
        .values()
        .flat_map(|c| {
            c.target
                .iter()
                .map(|t| t.release.clone())
                .chain(c.vias.iter().map(|v| v.release.clone()))
                .chain(c.revoked.iter().cloned())
        })
        .collect())
}

/// The releases `staged/retire.json` asks to retire.
pub(crate) fn staged_retirements(ws: &Workspace) -> Result<BTreeSet<Release>> {
    let path = retire_path(ws);
    if !path.exists() {
        return Ok(BTreeSet::new());
    }
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_CONFIG_BYTES)?;
    serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid", path.display()))
}

/// `staged/retire.json`: releases `repo retire` staged for the next signing.
pub(crate) fn retire_path(ws: &Workspace) -> std::path::PathBuf {
    ws.staged_dir().join("retire.json")
}
