//! The encrypted-artifact tests' scene: a release folder holding a known plaintext marker
//! (in a plain file and inside a bundle), devices with their own identities, and a
//! repository whose release is encrypted to some of them.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::demo_repo::{fixture_release, DemoRepo};
use crate::device::Device;
use crate::install_scene::policy_for;
use crate::run::{repo, Run};

/// Bytes no ciphertext may contain: the plaintext of the encrypted release carries them.
pub const MARKER: &[u8] = b"CONFIDENTIAL-FIRMWARE-7f3a9c-MARKER";

/// A device set up to update from `url`, with its keys made by `updater keygen`.
pub struct KeyedDevice {
    pub device: Device,
    pub config: PathBuf,
    /// Its age recipient (`age1…`), from `updater keygen --json`.
    pub recipient: String,
    /// Its identity file.
    pub identity: PathBuf,
}

impl KeyedDevice {
    /// A device trusting `root`, configured for the mirror at `url`, keys made.
    pub fn new(root: &Path, url: &str, id: &str) -> Self {
        let device = Device::trusting(root);
        let config = device.configure(id, url, None, "");
        let run = device
            .updater(&[
                "--config".as_ref(),
                config.as_os_str(),
                "keygen".as_ref(),
                "--json".as_ref(),
            ])
            .ok();
        let value: serde_json::Value = serde_json::from_str(run.stdout.trim()).expect("json");
        let identity = PathBuf::from(value["identity_file"].as_str().expect("identity_file"));
        // Private from its creation, and its secret never printed.
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&identity)
                .expect("identity")
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
        let text = std::fs::read_to_string(&identity).expect("identity");
        let secret = text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
            .expect("an age identity line");
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
        KeyedDevice {
            recipient: value["recipient"].as_str().expect("recipient").to_owned(),
            identity,
            device,
            config,
        }
    }

    /// `updater --config C apply`.
    pub fn apply(&self) -> Run {
        crate::install_scene::apply(&self.device, &self.config)
    }
}

/// Fixture release 2.0.0 for armv7 with a file and a bundle that hold [`MARKER`], in `dir`.
pub fn marked_release(dir: &Path) -> PathBuf {
    let release = dir.join("release-2.0.0");
    let status = Command::new("cp")
        .arg("-r")
        .arg(fixture_release("2.0.0", "armv7"))
        .arg(&release)
        .status()
        .expect("cp");
    assert!(status.success());
    let mut secret = Vec::new();
    for i in 0..20_000u32 {
        secret.extend_from_slice(MARKER);
        secret.extend_from_slice(format!(" line {i}\n").as_bytes());
    }
    std::fs::write(release.join("secret.bin"), &secret).expect("write");
    let bundle_src = dir.join("bundle-src");
    std::fs::create_dir_all(bundle_src.join("docs")).expect("mkdir");
    std::fs::write(bundle_src.join("docs/notes.txt"), &secret[..4096]).expect("write");
    let status = Command::new("tar")
        .arg("czf")
        .arg(release.join("extra.tar.gz"))
        .arg("-C")
        .arg(&bundle_src)
        .arg("docs")
        .status()
        .expect("tar");
    assert!(status.success());
    release
}

/// Writes a recipients file listing `recipients`, each under a comment naming it.
pub fn recipients_file(dir: &Path, recipients: &[(&str, &str)]) -> PathBuf {
    let mut text = String::from("# release 2.0.0: the lab devices\n\n");
    for (name, recipient) in recipients {
        text.push_str(&format!("# {name}\n{recipient}\n"));
    }
    let path = dir.join("recipients.txt");
    std::fs::write(&path, text).expect("write");
    path
}

/// `repo add REPO DIR --release 2.0.0 --platform armv7 EXTRA…`.
pub fn add_release(repo_dir: &Path, dir: &Path, extra: &[&str]) -> Run {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "add".as_ref(),
        repo_dir.as_os_str(),
        dir.as_os_str(),
        "--release".as_ref(),
        "2.0.0".as_ref(),
        "--platform".as_ref(),
        "armv7".as_ref(),
    ];
    args.extend(extra.iter().map(std::ffi::OsStr::new));
    repo(args)
}

/// Publishes what is staged with a policy sending channel stable to 2.0.0.
pub fn publish_release(r: &DemoRepo) {
    r.set_policy(&policy_for("2.0.0", "")).ok();
    r.sign_all().ok();
}

/// Every file under `dir` that holds `needle`.
pub fn files_containing(dir: &Path, needle: &[u8]) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir).into_iter().flatten() {
        if entry.file_type().is_file() {
            let bytes = std::fs::read(entry.path()).expect("read");
            if bytes.windows(needle.len()).any(|w| w == needle) {
                found.push(entry.path().to_owned());
            }
        }
    }
    found
}
