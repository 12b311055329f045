//! Step 5 of `repo sign`, publish: complete roles go into the run's one [`Publication`],
//! what they list first (artifacts, `policy.xml`), then their versioned metadata.

use anyhow::{bail, Result};
use updater::conventions::POLICY_ROLE;
use updater::metadata::{Targets, Version};

use updater::names::RoleName;

use super::catalogue::SignedCatalogue;
use crate::catalogue::retire_path;
use crate::catalogue::{Record, StagedReleases, TargetMap};
use crate::publication::{Content, Publication};
use crate::workspace::Workspace;

/// The targets the new snapshot lists: signed by a threshold now (with the bytes to
/// publish), or the version already published.
pub(super) struct ListedTargets {
    pub(crate) role: Targets,
    pub(crate) bytes: Option<Vec<u8>>,
    /// The catalogue roles signed with it.
    pub(crate) catalogue: Option<SignedCatalogue>,
}

impl ListedTargets {
    /// The version already published, signed before this run.
    pub(crate) fn published(role: Targets) -> Self {
        ListedTargets {
            role,
            bytes: None,
            catalogue: None,
        }
    }
}

/// The policy role signed by a threshold now: its metadata, the bytes to publish, and the
/// `policy.xml` it lists.
pub(super) struct SignedPolicy {
    pub(crate) role: Targets,
    pub(crate) bytes: Vec<u8>,
    pub(crate) xml: Vec<u8>,
}

/// A signed snapshot and the timestamp naming it.
pub(super) struct Online {
    pub(crate) snapshot: Version,
    pub(crate) snapshot_bytes: Vec<u8>,
    pub(crate) timestamp: Version,
    pub(crate) timestamp_bytes: Vec<u8>,
}

/// `policy.xml` under every path a client may fetch it by, before the metadata that lists
/// it. Each path names the file's hash, so one already there must hold the same bytes.
fn publish_policy_file(ws: &Workspace, role: &Targets, xml: &[u8], publication: &mut Publication) {
    let public = ws.artifacts_dir();
    for (name, info) in &role.targets {
        for path in Workspace::served_paths(&public, name, &info.hashes) {
            publication.versioned(path, Content::Bytes(xml.to_vec()));
        }
    }
}

/// Adds the complete targets and policy roles with what they list (artifacts first): the
/// roles published, with their versions.
pub(super) fn publish_roles(
    ws: &Workspace,
    targets: &ListedTargets,
    policy: Option<&SignedPolicy>,
    publication: &mut Publication,
) -> Result<Vec<(String, Version)>> {
    let dir = ws.metadata_dir();
    let mut published = Vec::new();
    if let Some(catalogue) = &targets.catalogue {
        published.extend(publish_catalogue(ws, catalogue, publication)?);
    }
    if let Some(bytes) = &targets.bytes {
        let role = &targets.role;
        publish_artifacts(ws, &role.targets, publication)?;
        // Whatever is left in staging is then no longer listed (or was never published).
        publication.empty_after(ws.staged_artifacts_dir());
        publication.versioned(
            dir.join(format!("{}.targets.json", role.version)),
            Content::Bytes(bytes.clone()),
        );
        published.push(("targets".to_owned(), role.version));
    }
    if let Some(SignedPolicy { role, bytes, xml }) = policy {
        publish_policy_file(ws, role, xml, publication);
        publication.versioned(
            dir.join(format!("{}.{POLICY_ROLE}.json", role.version)),
            Content::Bytes(bytes.clone()),
        );
        published.push((POLICY_ROLE.to_owned(), role.version));
    }
    Ok(published)
}

/// Adds the snapshot, then the timestamp that makes everything visible: the roles
/// published, with their versions.
pub(super) fn publish_online(
    ws: &Workspace,
    online: Online,
    publication: &mut Publication,
) -> [(String, Version); 2] {
    let dir = ws.metadata_dir();
    publication.versioned(
        dir.join(format!("{}.snapshot.json", online.snapshot)),
        Content::Bytes(online.snapshot_bytes),
    );
    publication.replace(dir.join("timestamp.json"), online.timestamp_bytes);
    [
        ("snapshot".into(), online.snapshot),
        ("timestamp".into(), online.timestamp),
    ]
}

/// Every staged artifact the index lists, into `public/targets` under each of its served
/// names (hard links: staging keeps its copy until the publication stands); fails unless
/// every listed artifact is then present.
fn publish_artifacts(
    ws: &Workspace,
    targets: &TargetMap,
    publication: &mut Publication,
) -> Result<()> {
    let staged = ws.staged_artifacts_dir();
    let public = ws.artifacts_dir();
    for (name, info) in targets {
        let froms = Workspace::served_paths(&staged, name, &info.hashes);
        let tos = Workspace::served_paths(&public, name, &info.hashes);
        for (from, to) in froms.into_iter().zip(tos) {
            if from.is_file() {
                publication.versioned(to, Content::LinkOf(from));
            } else if !to.is_file() {
                bail!("artifact {name} is listed but {} is missing", to.display());
            }
        }
    }
    Ok(())
}

/// The catalogue's part: the staged releases' files, then the roles signed now, the record,
/// the files of retired releases (for `repo prune`), and the staged files consumed.
fn publish_catalogue(
    ws: &Workspace,
    catalogue: &SignedCatalogue,
    publication: &mut Publication,
) -> Result<Vec<(String, Version)>> {
    let staged = StagedReleases::new(ws);
    for (_, files) in &catalogue.staged {
        publish_artifacts(ws, files, publication)?;
    }
    let dir = ws.metadata_dir();
    let mut published = Vec::new();
    for role in &catalogue.roles {
        let stem = RoleName::new(role.name.as_str())
            .map_err(|e| anyhow::anyhow!("role {}: {e}", role.name))?
            .file_stem();
        publication.versioned(
            dir.join(format!("{}.{stem}.json", role.version)),
            Content::Bytes(role.bytes.clone()),
        );
        published.push((role.name.clone(), role.version));
    }
    publication.replace(Record::path(ws), catalogue.record.bytes()?);
    if !catalogue.retired.is_empty() {
        let mut retired = read_retired(ws)?;
        retired.extend(catalogue.retired.clone());
        publication.replace(retired_path(ws), serde_json::to_vec_pretty(&retired)?);
    }
    publication.remove_after(retire_path(ws));
    for (release, _) in &catalogue.staged {
        publication.remove_after(staged.path(release));
    }
    Ok(published)
}

/// `retired.json` (beside `repo.toml`): files of retired releases, still served until
/// `repo prune` removes them.
pub(crate) fn retired_path(ws: &Workspace) -> std::path::PathBuf {
    ws.root().join("retired.json")
}

/// The files `retired.json` holds (none if there is no such file).
pub(crate) fn read_retired(ws: &Workspace) -> Result<TargetMap> {
    let path = retired_path(ws);
    if !path.exists() {
        return Ok(TargetMap::new());
    }
    let bytes = updater::fs::read_bounded(&path, updater::limits::MAX_TARGETS_BYTES)?;
    Ok(serde_json::from_slice(&bytes)?)
}
