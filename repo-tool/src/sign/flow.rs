//! The order of one `repo sign` run over the targets, policy, snapshot and timestamp roles,
//! once the plan is made and the root's lifetime checked: each role's body is built, its
//! signatures gathered, the result checked with the device's verifier, and only then added
//! to the run's publication. A role still short of its threshold is kept pending and the
//! snapshot lists the version already published.

use std::borrow::Cow;

use anyhow::{bail, Context, Result};
use updater::conventions::POLICY_ROLE;
use updater::datetime::UtcTime;
use updater::metadata::{Root, Snapshot, Targets, Timestamp};
use updater::names::RoleName;
use updater::verify::Unverified;

use super::build::{policy_body, snapshot_body, targets_body, timestamp_body, ListedRole};
use super::catalogue::{check_role, sign_catalogue, top_delegations};
use super::check::{check_policy_against, check_signed};
use super::gather::{gather, Gathered};
use super::plan::{policy_delegation, Plan};
use super::publish::{publish_online, publish_roles, ListedTargets, Online, SignedPolicy};
use crate::catalogue::Published;
use crate::publication::Publication;
use crate::published::{latest_version, published_role_bytes, published_targets, read_timestamp};
use crate::signer::{sign_metadata, Layout};
use crate::workspace::{Settings, Workspace};

/// One run of `repo sign` past its plan: where, under which root, with which settings and
/// keys, at which time.
pub(super) struct Signing<'a, 'k> {
    pub(crate) ws: &'a Workspace,
    pub(crate) root: &'a Root,
    pub(crate) settings: Settings,
    pub(crate) now: UtcTime,
    pub(crate) plan: Plan<'k>,
}

impl Signing<'_, '_> {
    /// Signs targets, policy, snapshot and timestamp as planned, adding what to publish to
    /// `publication` and what happened to `report`.
    pub(crate) fn run(
        &self,
        staged: Targets,
        publication: &mut Publication,
        report: &mut Vec<String>,
    ) -> Result<()> {
        let Some(targets) = self.targets(staged, publication, report)? else {
            return Ok(());
        };
        let policy = self.policy(&targets, publication, report)?;
        let Some(online) = self.online(&targets, policy.as_ref())? else {
            // Without snapshot and timestamp keys, complete roles are published but not yet
            // visible: the next `repo sign` with those keys (or `repo timestamp`) shows them.
            for (role, version) in publish_roles(self.ws, &targets, policy.as_ref(), publication)? {
                report.push(format!("published {role} version {version} (not yet in a snapshot: sign with the snapshot and timestamp keys)"));
            }
            return Ok(());
        };
        let mut published = publish_roles(self.ws, &targets, policy.as_ref(), publication)?;
        published.extend(publish_online(self.ws, online, publication));
        report.extend(
            published
                .into_iter()
                .map(|(role, version)| format!("published {role} version {version}")),
        );
        Ok(())
    }

    /// Targets: the staged index, signed now, or the one already published. None when the
    /// first targets is still pending: there is nothing for a snapshot to list.
    fn targets(
        &self,
        staged: Targets,
        publication: &mut Publication,
        report: &mut Vec<String>,
    ) -> Result<Option<ListedTargets>> {
        let Some(signers) = &self.plan.targets else {
            let role = published_targets(self.ws)?.context(
                "targets has never been signed: give the targets key(s) for the first signing",
            )?;
            return Ok(Some(ListedTargets::published(role)));
        };
        let (ws, root) = (self.ws, self.root);
        let catalogue = sign_catalogue(ws, root, &self.settings, self.now, signers, publication)?;
        // The delegation to the policy role is published with the first policy.
        let with_delegation =
            self.plan.policy.is_some() || latest_version(ws, POLICY_ROLE)?.is_some();
        let mut body = targets_body(ws, &staged, with_delegation, &self.settings, self.now)?;
        body.delegations =
            top_delegations(body.delegations.as_ref(), catalogue.delegations.clone());
        let role_keys = root
            .roles
            .get("targets")
            .context("root defines no targets role")?;
        let body = serde_json::to_value(&body)?;
        match gather(
            ws,
            "targets",
            body,
            signers,
            &root.keys,
            role_keys,
            publication,
        )? {
            Gathered::Complete(bytes) if !catalogue.pending.is_empty() => {
                // The catalogue's roles wait for more signatures: so does what names them.
                check_role(root, "targets", "targets", &bytes)?;
                report.extend(catalogue.pending);
                let published = published_targets(ws)?;
                Ok(published.map(ListedTargets::published))
            }
            Gathered::Complete(bytes) => {
                check_role(root, "targets", "targets", &bytes)?;
                check_signed::<Targets>(root, "targets", &bytes)?;
                let parsed = Unverified::<Targets>::parse(&RoleName::targets(), &bytes)?;
                let role = parsed.untrusted().clone();
                Ok(Some(ListedTargets {
                    role,
                    bytes: Some(bytes),
                    catalogue: Some(catalogue),
                }))
            }
            Gathered::Pending(progress) => {
                report.push(progress);
                report.extend(catalogue.pending);
                let published = published_targets(ws)?;
                Ok(published.map(ListedTargets::published))
            }
        }
    }

    /// Policy: the staged policy.xml, as the only target of the policy role, checked
    /// against the targets the snapshot lists. None unless a threshold signed it now.
    fn policy(
        &self,
        listed: &ListedTargets,
        publication: &mut Publication,
        report: &mut Vec<String>,
    ) -> Result<Option<SignedPolicy>> {
        let Some(signers) = &self.plan.policy else {
            return Ok(None);
        };
        let ws = self.ws;
        let targets = &listed.role;
        let (policy_keys, policy_role) = policy_delegation(targets).context(
            "the published targets do not delegate to the policy role yet: publish the first policy together with targets (give the targets key(s) too)",
        )?;
        let file = ws.staged_policy_file();
        if !file.is_file() {
            bail!(
                "no policy staged: run `repo policy set {} FILE` first",
                ws.root().display()
            );
        }
        let xml = updater::fs::read_bounded(&file, updater::rollout::policy::MAX_POLICY_BYTES)?;
        let record = match &listed.catalogue {
            Some(catalogue) => catalogue.record.clone(),
            None => Published::load(ws)?.record,
        };
        check_policy_against(&xml, &record.index([&targets.targets]))
            .with_context(|| format!("the staged {}", file.display()))?;
        let body = serde_json::to_value(policy_body(ws, &xml, &self.settings, self.now)?)?;
        let gathered = gather(
            ws,
            POLICY_ROLE,
            body,
            signers,
            policy_keys,
            &policy_role,
            publication,
        )?;
        match gathered {
            Gathered::Complete(bytes) => {
                let role_name = RoleName::new(POLICY_ROLE).map_err(|e| anyhow::anyhow!("{e}"))?;
                let verified = Unverified::<Targets>::parse(&role_name, &bytes)?
                    .verify(policy_keys, &policy_role)?;
                let role = verified.signed().clone();
                Ok(Some(SignedPolicy { role, bytes, xml }))
            }
            Gathered::Pending(progress) => {
                report.push(progress);
                Ok(None)
            }
        }
    }

    /// A new snapshot listing `targets` and the policy (signed now, or the one published),
    /// each with the length and hashes of its bytes, and the timestamp naming it, both
    /// checked with the device's verifier. None without their keys.
    fn online(
        &self,
        targets: &ListedTargets,
        policy: Option<&SignedPolicy>,
    ) -> Result<Option<Online>> {
        let (Some(snapshot_keys), Some(timestamp_keys)) =
            (&self.plan.snapshot, &self.plan.timestamp)
        else {
            return Ok(None);
        };
        let (ws, settings, now) = (self.ws, &self.settings, self.now);
        let previous = read_timestamp(ws)?;
        let targets_version = targets.role.version;
        // Signed now: the bytes about to be published; else those already published.
        let targets_bytes = match &targets.bytes {
            Some(bytes) => Cow::Borrowed(bytes.as_slice()),
            None => Cow::Owned(published_role_bytes(ws, "targets", targets_version)?),
        };
        let policy = match policy {
            Some(signed) => Some((signed.role.version, Cow::Borrowed(signed.bytes.as_slice()))),
            None => match latest_version(ws, POLICY_ROLE)? {
                Some(version) => Some((
                    version,
                    Cow::Owned(published_role_bytes(ws, POLICY_ROLE, version)?),
                )),
                None => None,
            },
        };
        let record = match &targets.catalogue {
            Some(catalogue) => catalogue.record.clone(),
            None => Published::load(ws)?.record,
        };
        let snapshot = snapshot_body(
            ws,
            previous.as_ref(),
            &record,
            ListedRole {
                version: targets_version,
                bytes: &targets_bytes,
            },
            policy.as_ref().map(|(version, bytes)| ListedRole {
                version: *version,
                bytes,
            }),
            settings,
            now,
        )?;
        let snapshot_bytes = sign_metadata(&snapshot, snapshot_keys, Layout::Compact)?;
        let most = updater::limits::MAX_SNAPSHOT_BYTES;
        if snapshot_bytes.len() as u64 > most {
            bail!(
                "snapshot would be {} bytes, above the {most} bytes a device reads: nothing was published; retire old releases (`repo retire`) or raise [catalogue] volume_bytes",
                snapshot_bytes.len()
            );
        }
        let timestamp = timestamp_body(
            ws,
            previous.as_ref(),
            &snapshot_bytes,
            snapshot.version,
            settings,
            now,
        )?;
        let timestamp_bytes = sign_metadata(&timestamp, timestamp_keys, Layout::Compact)?;
        // Check our own output with the device's verifier before anything becomes visible.
        check_signed::<Snapshot>(self.root, "snapshot", &snapshot_bytes)?;
        check_signed::<Timestamp>(self.root, "timestamp", &timestamp_bytes)?;
        Ok(Some(Online {
            snapshot: snapshot.version,
            snapshot_bytes,
            timestamp: timestamp.version,
            timestamp_bytes,
        }))
    }
}
