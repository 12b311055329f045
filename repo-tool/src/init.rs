//! `repo init`: a new repository with a signed `1.root.json`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use updater::datetime::UtcTime;
use updater::key::{KeyId, PublicKey};
use updater::metadata::{
    DelegatedRole, Delegations, RoleKeys, Root, Targets, Threshold, Version, SPEC_VERSION,
};
use updater::names::RoleName;

use crate::keys::{load_public, PrivateKey};
use crate::period::Period;
use crate::signer::{sign_metadata, Layout};
use crate::workspace::{Expiry, Settings, Workspace};

/// The four roles root defines, in the order they are shown.
pub(crate) const TOP_LEVEL_ROLES: [&str; 4] = ["root", "targets", "snapshot", "timestamp"];

/// Every role `init` sets up: root's four, and `policy`, delegated by targets.
pub const ROLES: [&str; 5] = ["root", "targets", "snapshot", "timestamp", "policy"];

use updater::conventions::{POLICY_FILE, POLICY_ROLE};

/// Keys, threshold and expiry of one role, before checking.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSetup {
    #[serde(default)]
    pub keys: Vec<PathBuf>,
    pub threshold: Option<u32>,
    pub expires: Option<Period>,
}

/// What `init` writes: root's keys and roles, the expiry periods for `repo.toml`, and the
/// delegation of the policy role for targets.
struct Roles {
    keys: BTreeMap<KeyId, PublicKey>,
    roles: BTreeMap<String, RoleKeys>,
    expiry: Expiry,
    policy: Delegations,
}

/// The small config file `repo init --config` reads: one table per role.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InitConfig {
    #[serde(default)]
    pub roles: BTreeMap<String, RoleSetup>,
}

impl InitConfig {
    /// Reads a config file; key paths in it are relative to the file's folder.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = updater::fs::read_bounded(path, updater::limits::MAX_CONFIG_BYTES)?;
        let text = String::from_utf8(bytes).context("config is not UTF-8")?;
        let mut config: InitConfig =
            toml::from_str(&text).with_context(|| format!("{} is not valid", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        for setup in config.roles.values_mut() {
            for key in &mut setup.keys {
                *key = base.join(&*key);
            }
        }
        Ok(config)
    }

    /// Checks role names and builds the root's roles.
    fn build(&self) -> Result<Roles> {
        for name in self.roles.keys() {
            if !ROLES.contains(&name.as_str()) {
                bail!(
                    "unknown role {name:?}: roles are root, targets, snapshot, timestamp and policy"
                );
            }
        }
        let mut keys = BTreeMap::new();
        let mut roles = BTreeMap::new();
        let mut policy_keys = BTreeMap::new();
        let mut expiry = Expiry::default();
        for role in ROLES {
            let setup = self.roles.get(role).cloned().unwrap_or_default();
            if setup.keys.is_empty() {
                bail!("role {role} has no keys: give --key {role}=FILE");
            }
            let mut keyids = Vec::new();
            for path in &setup.keys {
                let key = load_public(path)?;
                let id = key.key_id();
                if keyids.contains(&id) {
                    bail!("{} is given twice for role {role}", path.display());
                }
                keyids.push(id.clone());
                if role == POLICY_ROLE {
                    policy_keys.insert(id, key);
                } else {
                    keys.insert(id, key);
                }
            }
            let n = setup.threshold.unwrap_or(1);
            let threshold = Threshold::new(n)
                .with_context(|| format!("role {role}: threshold must be at least 1"))?;
            if n as usize > keyids.len() {
                bail!(
                    "role {role}: threshold {n} is more than its {} key(s)",
                    keyids.len()
                );
            }
            roles.insert(role.to_owned(), RoleKeys { keyids, threshold });
            if let Some(period) = setup.expires {
                match role {
                    "root" => expiry.root = period,
                    "targets" => expiry.targets = period,
                    "snapshot" => expiry.snapshot = period,
                    "timestamp" => expiry.timestamp = period,
                    _ => expiry.policy = period,
                }
            }
        }
        let policy_role = roles
            .remove(POLICY_ROLE)
            .context("the policy role is always built")?;
        let policy = Delegations {
            keys: policy_keys,
            roles: vec![DelegatedRole {
                name: RoleName::new(POLICY_ROLE).map_err(|e| anyhow::anyhow!("{e}"))?,
                keyids: policy_role.keyids,
                threshold: policy_role.threshold,
                // Terminating and limited to policy.xml: a policy key can never add or
                // change an artifact, and no later role may answer for policy.xml.
                terminating: true,
                paths: Some(vec![POLICY_FILE.to_owned()]),
                path_hash_prefixes: None,
            }],
            succinct_roles: None,
        };
        Ok(Roles {
            keys,
            roles,
            expiry,
            policy,
        })
    }
}

/// What `init` made of root version 1.
pub enum FirstRoot {
    /// Signed by a threshold of its keys: `public/metadata/1.root.json`.
    Published,
    /// Signed by fewer: `staged/root.json`, waiting for the other root admins' signatures
    /// (`repo sign` on copies, then `repo merge`). How many are still needed.
    Staged { missing: usize },
}

/// Creates the repository at `ws`, signing root with `signing_keys`: published once they
/// reach root's threshold, otherwise staged for the other root admins to sign, each on their
/// own machine. Everything is built in a temporary sibling folder and renamed into place,
/// so a failure leaves nothing behind.
pub fn init(ws: &Workspace, config: &InitConfig, signing_keys: &[PrivateKey]) -> Result<FirstRoot> {
    refuse_non_empty(ws)?;
    let Roles {
        keys,
        roles,
        expiry,
        policy,
    } = config.build()?;
    let names = key_names(config);
    let now = UtcTime::now();
    let root = Root {
        type_: "root".into(),
        spec_version: SPEC_VERSION.into(),
        consistent_snapshot: true,
        version: Version::FIRST,
        expires: now.plus_seconds(expiry.root.seconds()),
        keys,
        roles,
    };
    let outcome = check_signers(&root, signing_keys)?;
    let signers: Vec<&PrivateKey> = signing_keys.iter().collect();
    let root_bytes = sign_metadata(&root, &signers, Layout::Readable)?;
    let staged_targets = Targets {
        type_: "targets".into(),
        spec_version: SPEC_VERSION.into(),
        version: Version::FIRST,
        expires: now,
        targets: BTreeMap::new(),
        delegations: Some(policy),
    };
    let first = FirstFiles {
        settings: Settings {
            expiry,
            names,
            catalogue: Default::default(),
        },
        outcome: &outcome,
        root_bytes: &root_bytes,
        staged_targets: &staged_targets,
    };
    write_repository(ws, &first)?;
    Ok(outcome)
}

/// Refuses a path that holds anything: `init` only creates, or fills an empty folder.
fn refuse_non_empty(ws: &Workspace) -> Result<()> {
    if ws.root().exists() {
        let empty = ws.root().is_dir() && std::fs::read_dir(ws.root())?.next().is_none();
        if !empty {
            bail!(
                "{} already exists and is not empty: `repo init` makes a new repository; give a \
                 new or empty folder (an existing repository is changed with `repo add`, \
                 `repo root edit` and `repo sign`)",
                ws.root().display()
            );
        }
    }
    Ok(())
}

/// A name for each key, for people reading `repo status`: its file's name.
fn key_names(config: &InitConfig) -> BTreeMap<String, String> {
    let mut names = BTreeMap::new();
    for setup in config.roles.values() {
        for path in &setup.keys {
            if let (Ok(key), Some(stem)) = (load_public(path), path.file_stem()) {
                names.insert(
                    key.key_id().to_string(),
                    stem.to_string_lossy().into_owned(),
                );
            }
        }
    }
    names
}

/// Checks that every `--sign` key is one of `root`'s root keys and that there is at least
/// one, and says whether they reach root's threshold.
fn check_signers(root: &Root, signing_keys: &[PrivateKey]) -> Result<FirstRoot> {
    let root_role = root
        .roles
        .get("root")
        .context("root role is always built")?;
    let is_root_key = |k: &&PrivateKey| {
        root_role.keyids.contains(k.key_id()) && root.keys.get(k.key_id()) == Some(k.public())
    };
    if let Some(key) = signing_keys.iter().find(|k| !is_root_key(k)) {
        bail!(
            "--sign {} ({}) is not one of the root keys given with --key root=...",
            key.path().display(),
            key.key_id().short()
        );
    }
    if signing_keys.is_empty() {
        bail!("give at least one root private key with --sign");
    }
    let threshold = root_role.threshold.get() as usize;
    Ok(match threshold.checked_sub(signing_keys.len()) {
        Some(missing) if missing > 0 => FirstRoot::Staged { missing },
        _ => FirstRoot::Published,
    })
}

/// Everything a new repository holds.
struct FirstFiles<'a> {
    settings: Settings,
    outcome: &'a FirstRoot,
    root_bytes: &'a [u8],
    staged_targets: &'a Targets,
}

/// Writes `first` into a temporary sibling folder and renames it to `ws` (replacing an
/// empty folder there); on failure removes the temporary folder.
fn write_repository(ws: &Workspace, first: &FirstFiles) -> Result<()> {
    let tmp = ws.root().with_file_name(format!(
        ".{}.init{}",
        ws.root()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        std::process::id()
    ));
    let result = fill(&Workspace::new(&tmp), first).and_then(|()| {
        if ws.root().exists() {
            std::fs::remove_dir(ws.root())?;
        }
        std::fs::rename(&tmp, ws.root())?;
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result.with_context(|| format!("creating {}", ws.root().display()))
}

/// Creates the folders of `tmp_ws` and writes `first`'s files into them.
fn fill(tmp_ws: &Workspace, first: &FirstFiles) -> Result<()> {
    std::fs::create_dir_all(tmp_ws.metadata_dir())?;
    std::fs::create_dir_all(tmp_ws.artifacts_dir())?;
    std::fs::create_dir_all(tmp_ws.staged_artifacts_dir())?;
    let settings = toml::to_string_pretty(&first.settings)?;
    std::fs::write(
        tmp_ws.settings_file(),
        format!("# Written by `repo init`. Expiry periods may be edited; keys and thresholds live in root.\n{settings}"),
    )?;
    let root_file = match first.outcome {
        FirstRoot::Published => tmp_ws.metadata_dir().join("1.root.json"),
        FirstRoot::Staged { .. } => tmp_ws.staged_dir().join("root.json"),
    };
    std::fs::write(root_file, first.root_bytes)?;
    tmp_ws.write_staged_targets(first.staged_targets)?;
    Ok(())
}
