//! A device driven through the real `updater` binary, in a test's own temporary folder.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use tempfile::TempDir;

use crate::run::{bin, run_bounded, Run};
use crate::tree_state::tree_state;

/// A device: a metadata folder and a target folder in one temporary folder, driven through
/// the real `updater` binary.
pub struct Device {
    pub tmp: TempDir,
    pub metadata_dir: PathBuf,
    pub target_dir: PathBuf,
    /// `$TMPDIR` for every `updater` run, if not the test's own.
    pub tmpdir: Option<PathBuf>,
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

impl Device {
    /// A device with empty folders.
    pub fn new() -> Self {
        Self::in_folder(tempfile::tempdir().expect("tempdir"), None)
    }

    /// A device whose folder is made inside `parent`, its `updater` runs with `$TMPDIR`
    /// set to `tmpdir`: a test can then watch the whole tree where an escape would land.
    pub fn inside(parent: &Path, tmpdir: &Path) -> Self {
        let tmp = tempfile::tempdir_in(parent).expect("tempdir");
        Self::in_folder(tmp, Some(tmpdir.to_owned()))
    }

    fn in_folder(tmp: TempDir, tmpdir: Option<PathBuf>) -> Self {
        let metadata_dir = tmp.path().join("metadata");
        let target_dir = tmp.path().join("targets");
        std::fs::create_dir(&metadata_dir).expect("mkdir");
        std::fs::create_dir(&target_dir).expect("mkdir");
        Device {
            tmp,
            metadata_dir,
            target_dir,
            tmpdir,
        }
    }

    /// A device that trusts `root`.
    pub fn trusting(root: &Path) -> Self {
        let device = Self::new();
        device.updater(&["init".as_ref(), root.as_os_str()]).ok();
        device
    }

    /// Runs `updater --metadata-dir M ARGS`, with a deadline of two minutes.
    pub fn updater<S: AsRef<OsStr>>(&self, args: &[S]) -> Run {
        self.run(Command::new(bin("updater")), args)
    }

    /// Like `updater`, with the environment variables `env` set for the run (the
    /// `fault-injection` build's `UPDATER_TEST_*` hooks).
    pub fn updater_env<S: AsRef<OsStr>>(&self, env: &[(&str, &str)], args: &[S]) -> Run {
        let mut command = Command::new(bin("updater"));
        command.envs(env.iter().copied());
        self.run(command, args)
    }

    /// Like `updater`, with the device's clock moved by `offset` (libfaketime's syntax:
    /// `+30d`), through the `faketime` command (Debian's faketime).
    pub fn updater_at<S: AsRef<OsStr>>(&self, offset: &str, args: &[S]) -> Run {
        let mut command = Command::new("faketime");
        command.arg("-f").arg(offset).arg(bin("updater"));
        self.run(command, args)
    }

    fn run<S: AsRef<OsStr>>(&self, mut command: Command, args: &[S]) -> Run {
        command
            .arg("--metadata-dir")
            .arg(&self.metadata_dir)
            .args(args);
        if let Some(tmpdir) = &self.tmpdir {
            command.env("TMPDIR", tmpdir);
        }
        run_bounded(&mut command, Duration::from_secs(120))
    }

    /// `refresh` from the metadata mirrors `mirrors` (base URLs of served repositories).
    pub fn refresh(&self, mirrors: &[&str]) -> Run {
        let mut args: Vec<String> = Vec::new();
        for m in mirrors {
            args.extend(["--metadata-url".into(), format!("{m}/metadata")]);
        }
        args.push("refresh".into());
        self.updater(&args)
    }

    /// `download` of `names` from the mirrors `mirrors` into the target folder.
    pub fn download(&self, mirrors: &[&str], names: &[&str], extra: &[&str]) -> Run {
        self.updater(&self.download_args(mirrors, names, extra))
    }

    /// The arguments of `download`.
    pub fn download_args(&self, mirrors: &[&str], names: &[&str], extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        for m in mirrors {
            args.extend(["--metadata-url".into(), format!("{m}/metadata")]);
            args.extend(["--target-base-url".into(), format!("{m}/targets")]);
        }
        for n in names {
            args.extend(["--target-name".into(), n.to_string()]);
        }
        args.extend([
            "--target-dir".into(),
            self.target_dir.display().to_string(),
            "download".into(),
        ]);
        args
    }

    /// Writes the device's config (`id`, armv7, channel stable, mirrors at `url`, its
    /// folders, then `extra` TOML) and its install folder, with `current` pointing at
    /// `running` if given. Returns the config's path.
    pub fn configure(&self, id: &str, url: &str, running: Option<&str>, extra: &str) -> PathBuf {
        let install = self.install_dir();
        std::fs::create_dir_all(install.join("releases")).expect("mkdir");
        if let Some(release) = running {
            std::fs::create_dir_all(install.join("releases").join(release)).expect("mkdir");
            std::os::unix::fs::symlink(format!("releases/{release}"), install.join("current"))
                .expect("symlink");
        }
        let config = self.tmp.path().join("updater.toml");
        let text = format!(
            "[device]\nid = \"{id}\"\nplatform = \"armv7\"\nchannel = \"stable\"\n\n\
             [repository]\nmetadata = [\"{url}/metadata\"]\ntargets = [\"{url}/targets\"]\n\n\
             [paths]\nmetadata = \"{}\"\ndownloads = \"{}\"\ninstall = \"{}\"\n{extra}",
            self.metadata_dir.display(),
            self.target_dir.display(),
            install.display()
        );
        std::fs::write(&config, text).expect("write config");
        config
    }

    /// The install folder `configure` sets up.
    pub fn install_dir(&self) -> PathBuf {
        self.tmp.path().join("install")
    }

    /// The release `install/current` points at.
    pub fn running(&self) -> Option<String> {
        std::fs::read_link(self.install_dir().join("current"))
            .ok()
            .and_then(|t| t.file_name().map(|n| n.to_string_lossy().into_owned()))
    }

    /// Everything the device holds: both folders, every file and mode.
    pub fn state(&self) -> BTreeMap<String, (u32, Vec<u8>)> {
        tree_state(self.tmp.path())
    }

    /// The downloaded copy of target `name`.
    pub fn target(&self, name: &str) -> Vec<u8> {
        let name = updater::names::TargetName::new(name).expect("a target name");
        let file = updater::update::client::Client::local_path(&self.target_dir, &name);
        std::fs::read(file).expect("downloaded target")
    }
}
