//! The encrypted-artifact attack tests' scene: a served repository, release 2.0.0 holding
//! [`MARKER`] beside it, a listed device and an outsider, and the ways a careless or hostile
//! signer edits what is staged (the index's `custom.encrypted`, the ciphertext itself);
//! with the checks every refusal must pass (message, exit code, whole trees unchanged, no
//! secret key printed).

use std::path::{Path, PathBuf};

use crate::encrypted_scene::{
    add_release, files_containing, marked_release, recipients_file, KeyedDevice, MARKER,
};
use crate::server::StaticServer;
use crate::tree_state::{changed_paths, tree_state, TreeState};
use crate::DemoRepo;

/// A repository served on 127.0.0.1, release 2.0.0 (holding [`MARKER`]) in a folder beside
/// it, device `a` (the one recipient of `recipients`) and device `c` (another identity).
pub struct AttackScene {
    pub work: tempfile::TempDir,
    pub release: PathBuf,
    pub recipients: PathBuf,
    pub r: DemoRepo,
    _server: StaticServer,
    pub a: KeyedDevice,
    pub c: KeyedDevice,
}

impl Default for AttackScene {
    fn default() -> Self {
        Self::new()
    }
}

impl AttackScene {
    /// The scene, nothing added to the repository yet.
    pub fn new() -> Self {
        let work = tempfile::tempdir().unwrap();
        let release = marked_release(work.path());
        let r = DemoRepo::init();
        let server = StaticServer::start(&r.public());
        let a = KeyedDevice::new(&r.root_json(), &server.url(), "dev-a");
        let c = KeyedDevice::new(&r.root_json(), &server.url(), "dev-c");
        let recipients = recipients_file(work.path(), &[("dev-a", &a.recipient)]);
        AttackScene {
            work,
            release,
            recipients,
            r,
            _server: server,
            a,
            c,
        }
    }

    /// The release staged, encrypted to device `a`.
    pub fn staged() -> Self {
        let s = Self::new();
        add_release(
            &s.r.path,
            &s.release,
            &["--encrypt-to", s.recipients.to_str().unwrap()],
        )
        .ok();
        s
    }

    /// The staged index of release 2.0.0, edited by `edit`.
    pub fn edit_index(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        let staged = self.r.path.join("staged/releases/2.0.0.json");
        let mut index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&staged).unwrap()).unwrap();
        edit(&mut index);
        std::fs::write(&staged, serde_json::to_vec(&index).unwrap()).unwrap();
    }

    /// Puts `bytes` in place of the staged ciphertext of `name` (under every name the
    /// staged folder keeps it by), listed by their own length and hashes: what an index
    /// signed by a careless or hostile signer would serve.
    pub fn replace_staged(&self, name: &str, bytes: &[u8]) {
        let targets = self.r.path.join("staged/targets");
        let (dir, base) = name.rsplit_once('/').unwrap();
        let sha256 = sha256_hex(bytes);
        let sha512 = updater::hash::Sha512::digest(bytes).to_hex();
        self.edit_index(|index| {
            for old in index[name]["hashes"].as_object().unwrap().values() {
                let old = old.as_str().unwrap();
                let _ = std::fs::remove_file(targets.join(dir).join(format!("{old}.{base}")));
                let _ = std::fs::remove_file(targets.join(format!("{old}.{name}")));
            }
            for hash in [&sha256, &sha512] {
                std::fs::write(targets.join(dir).join(format!("{hash}.{base}")), bytes).unwrap();
            }
            let prefixed = targets.join(format!("{sha256}.{name}"));
            std::fs::create_dir_all(prefixed.parent().unwrap()).unwrap();
            std::fs::write(prefixed, bytes).unwrap();
            index[name]["length"] = bytes.len().into();
            index[name]["hashes"] = serde_json::json!({"sha256": sha256, "sha512": sha512});
        });
    }
}

/// SHA-256 of `bytes`, in hex.
fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(updater::hash::Sha256::digest(bytes).0)
}

/// The device's install folder but its status file (which records the last error).
fn install_tree(device: &KeyedDevice) -> TreeState {
    let mut tree = tree_state(&device.device.install_dir());
    tree.remove("state.json");
    tree
}

/// Runs `apply` on `device`, expecting exit 1 and `message`; its install folder must be
/// left as it was, nothing running, no plaintext anywhere on it and no secret key in what
/// it printed.
pub fn refused_on(device: &KeyedDevice, message: &str) {
    let before = install_tree(device);
    let run = device.apply().fails_with(1, message);
    assert!(!holds_a_secret_key(&run.stderr), "{run:#?}");
    assert!(!holds_a_secret_key(&run.stdout), "{run:#?}");
    assert_eq!(
        changed_paths(&before, &install_tree(device)),
        Vec::<String>::new()
    );
    assert_eq!(device.device.running(), None);
    assert_eq!(
        files_containing(device.device.tmp.path(), MARKER),
        Vec::<PathBuf>::new()
    );
}

/// Whether `text` holds an age secret key (messages may name the format, `AGE-SECRET-KEY-1…`).
fn holds_a_secret_key(text: &str) -> bool {
    text.match_indices("AGE-SECRET-KEY-1")
        .any(|(at, key)| !text[at + key.len()..].starts_with('…'))
}

/// `repo add` of the release with `extra`, expecting exit 2 and `message`, and the
/// repository's whole folder (and its parent) byte for byte as it was.
pub fn repo_refuses(s: &AttackScene, dir: &Path, extra: &[&str], message: &str) {
    let before = tree_state(s.r.tmp.path());
    let run = add_release(&s.r.path, dir, extra).fails_with(2, message);
    assert!(!holds_a_secret_key(&run.stderr), "{run:#?}");
    assert_eq!(
        changed_paths(&before, &tree_state(s.r.tmp.path())),
        Vec::<String>::new(),
        "{run:#?}"
    );
}

/// `bytes` encrypted with a passphrase (an scrypt stanza), as `age -p` does.
pub fn passphrase_file(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let encryptor =
        age::Encryptor::with_user_passphrase(age::secrecy::SecretString::from("hunter2"));
    let mut out = Vec::new();
    let mut writer = encryptor.wrap_output(&mut out).unwrap();
    writer.write_all(bytes).unwrap();
    writer.finish().unwrap();
    out
}
