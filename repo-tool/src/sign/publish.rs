//! Step 5 of `repo sign`, publish: complete roles go into the run's one [`Publication`],
//! what they list first (artifacts, `policy.xml`), then their versioned metadata.

use anyhow::{bail, Result};
use updater::conventions::POLICY_ROLE;
use updater::metadata::{Targets, Version};

use crate::publication::{Content, Publication};
use crate::workspace::Workspace;

/// The targets the new snapshot lists: signed by a threshold now (with the bytes to
/// publish), or the version already published.
pub(super) struct ListedTargets {
    pub(crate) role: Targets,
    pub(crate) bytes: Option<Vec<u8>>,
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
    if let Some(bytes) = &targets.bytes {
        let role = &targets.role;
        publish_artifacts(ws, role, publication)?;
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
    targets: &Targets,
    publication: &mut Publication,
) -> Result<()> {
    let staged = ws.staged_artifacts_dir();
    let public = ws.artifacts_dir();
    for (name, info) in &targets.targets {
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
    // Whatever is left in staging is then no longer listed (or was never published).
    publication.empty_after(staged);
    Ok(())
}
