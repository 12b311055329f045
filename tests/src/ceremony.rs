//! The signing ceremony's scene for the rotation tests: keys made with `repo keygen`, a 2-of-3
//! root across admins, a served repository and a device that follows it.

use std::path::{Path, PathBuf};

use crate::{example_key, read_json, repo, DemoRepo, Device, Run, StaticServer};

/// `repo keygen DIR/NAME`: returns (private, public).
pub fn keygen(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
    let stem = dir.join(name);
    repo(["keygen".as_ref(), stem.as_os_str()]).ok();
    (stem.with_extension("pem"), stem.with_extension("pub"))
}

pub fn run_repo(args: &[&dyn AsRef<std::ffi::OsStr>]) -> Run {
    repo(args.iter().map(|a| a.as_ref()).collect::<Vec<_>>())
}

/// python-tuf refreshes from `url` trusting `root` and downloads everything.
pub fn python_tuf_accepts(url: &str, root: &Path) {
    crate::python_tuf_fetch(url, root);
}

pub fn version_of(device: &Device, role: &str) -> serde_json::Value {
    read_json(&device.metadata_dir.join(format!("{role}.json")))["signed"]["version"].clone()
}

/// `ROLE=PATH` of the example public key of `role`.
pub fn example(role: &str) -> String {
    format!("{role}={}", example_key(&format!("{role}.pub")).display())
}

/// `root=PATH`, as `--key`, `--add-key` and `--remove-key` take a root key.
pub fn root_key(public: &Path) -> String {
    format!("root={}", public.display())
}

/// A private key and its public half, as `repo keygen` writes them.
pub struct KeyPair {
    pub private: PathBuf,
    pub public: PathBuf,
}

pub fn key_pair(dir: &Path, name: &str) -> KeyPair {
    let (private, public) = keygen(dir, name);
    KeyPair { private, public }
}

/// The keys of the ceremony: three root admins (2 of 3), the next timestamp key, and the two
/// keys root moves to in version 3.
pub struct CeremonyKeys {
    pub admin_a: KeyPair,
    pub admin_b: KeyPair,
    pub admin_c: KeyPair,
    pub timestamp_2: KeyPair,
    pub new_root_1: KeyPair,
    pub new_root_2: KeyPair,
}

impl CeremonyKeys {
    pub fn generate(dir: &Path) -> Self {
        std::fs::create_dir(dir).unwrap();
        CeremonyKeys {
            admin_a: key_pair(dir, "admin-a"),
            admin_b: key_pair(dir, "admin-b"),
            admin_c: key_pair(dir, "admin-c"),
            timestamp_2: key_pair(dir, "timestamp-2"),
            new_root_1: key_pair(dir, "new-root-1"),
            new_root_2: key_pair(dir, "new-root-2"),
        }
    }
}

/// A repository whose root is 2 of 3 admins, served, and a device that has refreshed from it.
pub struct Ceremony {
    pub keys: CeremonyKeys,
    pub r: DemoRepo,
    pub server: StaticServer,
    pub device: Device,
    // Last, so the keys and the repository outlive everything that uses them.
    pub tmp: tempfile::TempDir,
}

impl Ceremony {
    pub fn start() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let keys = CeremonyKeys::generate(&tmp.path().join("keys"));
        // Root: 2 of 3.
        let path = tmp.path().join("repo");
        run_repo(&[
            &"init",
            &path,
            &"--key",
            &root_key(&keys.admin_a.public),
            &"--key",
            &root_key(&keys.admin_b.public),
            &"--key",
            &root_key(&keys.admin_c.public),
            &"--threshold",
            &"root=2",
            &"--key",
            &example("targets"),
            &"--key",
            &example("snapshot"),
            &"--key",
            &example("timestamp"),
            &"--key",
            &example("policy"),
            &"--sign",
            &keys.admin_a.private,
            &"--sign",
            &keys.admin_b.private,
        ])
        .ok();
        let r = DemoRepo {
            tmp: tempfile::tempdir().unwrap(),
            path,
        };
        r.add("1.0.0", "armv7").ok();
        r.sign().ok();
        let server = StaticServer::start(&r.public());
        let device = Device::trusting(&r.root_json());
        device.refresh(&[&server.url()]).ok();
        Ceremony {
            keys,
            r,
            server,
            device,
            tmp,
        }
    }
}
