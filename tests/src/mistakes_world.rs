//! The scaffolding of `tests/tests/mistakes/`, the table of a first hour's mistakes: a
//! [`MistakeRow`] is one mistake and what it must say; a [`MistakeWorld`] is what every row
//! shares (a signed repository with a policy, served over HTTP, a device trusting its root,
//! scratch space) and builds the files and arguments a row needs. Nothing here asserts: the
//! rows and the test that runs them stay in the test file.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::{policy_for, DemoRepo, Device, StaticServer};

/// One mistake: what was set up, the command, and what it must say.
pub struct MistakeRow {
    pub name: &'static str,
    /// The program (`repo` or `updater`) and its arguments.
    pub program: &'static str,
    pub args: Vec<OsString>,
    pub code: i32,
    /// Each must appear in stderr.
    pub says: Vec<String>,
    /// A folder the mistake must leave exactly as it was.
    pub unchanged: PathBuf,
}

/// What every row shares: a signed repository with a policy, served over HTTP, and a
/// device trusting its root; plus scratch space.
pub struct MistakeWorld {
    pub repo: DemoRepo,
    pub server: StaticServer,
    pub device: Device,
    pub scratch: tempfile::TempDir,
}

impl MistakeWorld {
    pub fn new() -> Self {
        let repo = DemoRepo::with_policy(&policy_for("2.0.0", ""));
        let server = StaticServer::start(&repo.public());
        let device = Device::trusting(&repo.root_json());
        MistakeWorld {
            repo,
            server,
            device,
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    /// Writes `text` to `name` in scratch (again, if a row before wrote it).
    pub fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.scratch.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// An empty metadata folder in scratch, the same for every row that asks: a device
    /// never given `updater init`.
    pub fn blank_device(&self) -> PathBuf {
        let path = self.scratch.path().join("blank-device");
        std::fs::create_dir_all(&path).unwrap();
        path
    }

    /// A device config in scratch: its folders under the device's, mirrors as given.
    pub fn config(&self, name: &str, metadata: &str, targets: &str, extra_device: &str) -> PathBuf {
        let d = &self.device;
        let install = d.tmp.path().join("install");
        std::fs::create_dir_all(&install).unwrap();
        self.file(
            name,
            &format!(
                "[device]\nid = \"02:00:00:00:00:01\"\nplatform = \"armv7\"\n{extra_device}\n\
                 [repository]\nmetadata = [\"{metadata}\"]\ntargets = [\"{targets}\"]\n\n\
                 [paths]\nmetadata = \"{}\"\ndownloads = \"{}\"\ninstall = \"{}\"\n",
                d.metadata_dir.display(),
                d.target_dir.display(),
                install.display()
            ),
        )
    }

    /// A device config (as `Device::configure` writes it) whose metadata mirrors are the
    /// `/metadata` folders of `bases`, in order.
    pub fn tmp_config(&self, bases: &[&str]) -> PathBuf {
        let config = self
            .device
            .configure("02:00:00:00:00:01", bases[0], None, "");
        let text = std::fs::read_to_string(&config).unwrap();
        let list: Vec<String> = bases.iter().map(|b| format!("\"{b}/metadata\"")).collect();
        let text = text.replace(
            &format!("metadata = [\"{}/metadata\"]", bases[0]),
            &format!("metadata = [{}]", list.join(", ")),
        );
        std::fs::write(&config, text).unwrap();
        config
    }

    /// `updater --metadata-dir DEVICE ARGS`.
    pub fn updater(&self, args: &[&dyn AsRefOs]) -> Vec<OsString> {
        let mut all = vec![
            OsString::from("--metadata-dir"),
            self.device.metadata_dir.clone().into(),
        ];
        all.extend(args.iter().map(|a| a.os()));
        all
    }
}

impl Default for MistakeWorld {
    fn default() -> Self {
        Self::new()
    }
}

/// Anything that is an argument.
pub trait AsRefOs {
    fn os(&self) -> OsString;
}
impl AsRefOs for &str {
    fn os(&self) -> OsString {
        (*self).into()
    }
}
impl AsRefOs for String {
    fn os(&self) -> OsString {
        self.into()
    }
}
impl AsRefOs for PathBuf {
    fn os(&self) -> OsString {
        self.into()
    }
}
impl AsRefOs for &Path {
    fn os(&self) -> OsString {
        self.as_os_str().to_owned()
    }
}

/// `repo ARGS`.
pub fn repo_args(args: &[&dyn AsRefOs]) -> Vec<OsString> {
    args.iter().map(|a| a.os()).collect()
}

/// `repo init ARGS`, from arguments as `init_args` gives them without its leading `init`.
pub fn repo_init_args(args: &[String]) -> Vec<OsString> {
    let mut all = vec![OsString::from("init")];
    all.extend(args.iter().map(OsString::from));
    all
}

/// A policy file's opening, up to inside its `stable` channel: a row puts one line between
/// this and [`POLICY_TAIL`].
pub const POLICY_HEAD: &str = "<policy>\n  <channel name=\"stable\">\n";
/// A policy file's closing, after [`POLICY_HEAD`] and a row's line.
pub const POLICY_TAIL: &str = "  </channel>\n</policy>\n";
