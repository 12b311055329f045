//! A repository built with the real `repo` binary in a test's own temporary folder, and
//! the example keys and fixture releases it is built from.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use serde_json::Value;
use tempfile::TempDir;

use crate::metadata_files::read_json;
use crate::run::{repo, workspace_root, Run};

/// `keys.example/NAME`.
pub fn example_key(name: &str) -> PathBuf {
    workspace_root().join("keys.example").join(name)
}

/// `fixtures/releases/RELEASE/PLATFORM`.
pub fn fixture_release(release: &str, platform: &str) -> PathBuf {
    workspace_root()
        .join("fixtures/releases")
        .join(release)
        .join(platform)
}

/// A repository built with the real `repo` binary in a temporary folder.
pub struct DemoRepo {
    pub tmp: TempDir,
    pub path: PathBuf,
}

/// Arguments of `repo init PATH` with the example key of every role not in `skip_roles`,
/// signed by the example root key.
pub fn init_args(path: &Path, skip_roles: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = vec!["init".into(), path.display().to_string()];
    for role in ["root", "targets", "snapshot", "timestamp", "policy"] {
        if !skip_roles.contains(&role) {
            args.push("--key".into());
            args.push(format!(
                "{role}={}",
                example_key(&format!("{role}.pub")).display()
            ));
        }
    }
    args.push("--sign".into());
    args.push(example_key("root.pem").display().to_string());
    args
}

impl DemoRepo {
    /// `repo init` with the example keys, plus `extra` arguments.
    pub fn init_with(extra: &[&str]) -> Self {
        let tmp = tempfile::tempdir().expect("temp dir");
        let path = tmp.path().join("repo");
        let mut args = init_args(&path, &[]);
        args.extend(extra.iter().map(|s| s.to_string()));
        repo(&args).ok();
        DemoRepo { tmp, path }
    }

    /// `repo init` with the example keys.
    pub fn init() -> Self {
        Self::init_with(&[])
    }

    /// A repository with release 1.0.0 for armv7 and x86_64, signed.
    pub fn signed() -> Self {
        let r = Self::init();
        r.add("1.0.0", "armv7").ok();
        r.add("1.0.0", "x86_64").ok();
        r.sign().ok();
        r
    }

    /// Releases 1.0.0 and 2.0.0 for armv7, and `xml` as the signed policy (published with
    /// the targets, snapshot, timestamp and policy keys).
    pub fn with_policy(xml: &str) -> Self {
        let r = Self::init();
        r.add("1.0.0", "armv7").ok();
        r.add("2.0.0", "armv7").ok();
        r.set_policy(xml).ok();
        r.sign_all().ok();
        r
    }

    /// `repo policy set` of `xml` (written to a file beside the repository).
    pub fn set_policy(&self, xml: &str) -> Run {
        let file = self.tmp.path().join("policy.xml");
        std::fs::write(&file, xml).expect("write policy");
        repo([
            OsStr::new("policy"),
            OsStr::new("set"),
            self.path.as_os_str(),
            file.as_os_str(),
        ])
    }

    /// `repo add` of a fixture release.
    pub fn add(&self, release: &str, platform: &str) -> Run {
        self.add_dir(&fixture_release(release, platform), release, platform)
    }

    /// `repo add` of any folder.
    pub fn add_dir(&self, dir: &Path, release: &str, platform: &str) -> Run {
        repo([
            OsStr::new("add"),
            self.path.as_os_str(),
            dir.as_os_str(),
            OsStr::new("--release"),
            OsStr::new(release),
            OsStr::new("--platform"),
            OsStr::new(platform),
        ])
    }

    /// `repo sign` with the example targets, snapshot and timestamp keys.
    pub fn sign(&self) -> Run {
        self.sign_with(&[
            example_key("targets.pem"),
            example_key("snapshot.pem"),
            example_key("timestamp.pem"),
        ])
    }

    /// `repo sign` with every example online key: targets, policy, snapshot and timestamp.
    pub fn sign_all(&self) -> Run {
        self.sign_with(&[
            example_key("targets.pem"),
            example_key("policy.pem"),
            example_key("snapshot.pem"),
            example_key("timestamp.pem"),
        ])
    }

    /// `repo sign` with the given key files.
    pub fn sign_with(&self, keys: &[PathBuf]) -> Run {
        let mut args: Vec<String> = vec!["sign".into(), self.path.display().to_string()];
        for k in keys {
            args.push("--key".into());
            args.push(k.display().to_string());
        }
        repo(&args)
    }

    /// `repo verify` against the first root, plus `extra` arguments.
    pub fn verify(&self, extra: &[&str]) -> Run {
        let mut args: Vec<String> = vec![
            "verify".into(),
            self.path.display().to_string(),
            "--root".into(),
            self.root_json().display().to_string(),
            "--quiet".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        repo(&args)
    }

    /// The served folder.
    pub fn public(&self) -> PathBuf {
        self.path.join("public")
    }

    /// `public/metadata/FILE`.
    pub fn metadata(&self, file: &str) -> PathBuf {
        self.public().join("metadata").join(file)
    }

    /// The first root, as a device would ship it.
    pub fn root_json(&self) -> PathBuf {
        self.metadata("1.root.json")
    }

    /// The current file (as the current snapshot lists it) of the role that lists target
    /// `name`: the top-level targets, or the catalogue's slot or volume holding it.
    pub fn role_listing(&self, name: &str) -> PathBuf {
        let metadata = self.public().join("metadata");
        let snapshot = read_json(&crate::listed_file(&metadata, "snapshot"));
        let roles = snapshot["signed"]["meta"]
            .as_object()
            .expect("snapshot meta");
        roles
            .keys()
            .filter_map(|file| file.strip_suffix(".json"))
            .map(|role| crate::listed_file(&metadata, role))
            .find(|file| read_json(file)["signed"]["targets"].get(name).is_some())
            .unwrap_or_else(|| panic!("no role the snapshot lists has {name}"))
    }

    /// Every target the roles of the current snapshot list: name -> length and hashes.
    pub fn listed_targets(&self) -> serde_json::Map<String, Value> {
        let metadata = self.public().join("metadata");
        let snapshot = read_json(&crate::listed_file(&metadata, "snapshot"));
        let mut all = serde_json::Map::new();
        for file in snapshot["signed"]["meta"]
            .as_object()
            .expect("snapshot meta")
            .keys()
        {
            let role = file.strip_suffix(".json").expect("a .json name");
            let body = read_json(&crate::listed_file(&metadata, role));
            if let Some(targets) = body["signed"]["targets"].as_object() {
                all.extend(targets.clone());
            }
        }
        all.remove("policy.xml");
        all
    }

    /// The path under `public/targets` of `name` by its SHA-512.
    pub fn artifact(&self, name: &str) -> PathBuf {
        let targets: Value = read_json(&self.role_listing(name));
        let sha512 = targets["signed"]["targets"][name]["hashes"]["sha512"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is not listed"))
            .to_owned();
        let (dir, base) = name.rsplit_once('/').unwrap_or(("", name));
        self.public()
            .join("targets")
            .join(dir)
            .join(format!("{sha512}.{base}"))
    }
}
