//! Helpers for the end-to-end tests: the real binaries, real servers on 127.0.0.1, real
//! files on disk. Each test gets its own temporary folder.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use repo_tool::keys::PrivateKey;
use serde_json::Value;
use tempfile::TempDir;

/// The workspace's top folder.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_owned()
}

/// A binary of the workspace, built by `cargo build --workspace --bins` (the test command
/// does that first).
pub fn bin(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("tests run from target/<profile>/deps");
    let path = dir.join(name);
    assert!(
        path.is_file(),
        "{} is missing: run `cargo build --workspace --bins` before the tests (tests/run-all.sh does)",
        path.display()
    );
    path
}

/// Output of one run of a binary.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Self {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    /// Panics unless the run succeeded.
    pub fn ok(self) -> Self {
        assert_eq!(self.code, Some(0), "command failed: {self:#?}");
        self
    }

    /// Panics unless `repo sign`/`merge` published what it could and exited 4, saying on
    /// stderr that `needle` is not finished.
    pub fn unfinished(self, needle: &str) -> Self {
        assert_eq!(self.code, Some(4), "wrong exit code: {self:#?}");
        assert!(
            self.stderr
                .lines()
                .any(|l| l.starts_with("not finished: ") && l.contains(needle)),
            "stderr lacks \"not finished: ...{needle}\": {self:#?}"
        );
        self
    }

    /// Panics unless the run failed with `code` and stderr contains `needle`.
    pub fn fails_with(self, code: i32, needle: &str) -> Self {
        assert_eq!(self.code, Some(code), "wrong exit code: {self:#?}");
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}: {self:#?}"
        );
        self
    }
}

/// Runs `repo` with `args`.
pub fn repo<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Run::from(
        Command::new(bin("repo"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run repo"),
    )
}

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
        r.sign_with(&[
            example_key("targets.pem"),
            example_key("policy.pem"),
            example_key("snapshot.pem"),
            example_key("timestamp.pem"),
        ])
        .ok();
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

    /// The path under `public/targets` of `name` by its SHA-512.
    pub fn artifact(&self, name: &str) -> PathBuf {
        let targets: Value = read_json(&self.metadata("1.targets.json"));
        let sha512 = targets["signed"]["targets"][name]["hashes"]["sha512"]
            .as_str()
            .unwrap_or_else(|| panic!("{name} is not in 1.targets.json"))
            .to_owned();
        let (dir, base) = name.rsplit_once('/').unwrap_or(("", name));
        self.public()
            .join("targets")
            .join(dir)
            .join(format!("{sha512}.{base}"))
    }
}

/// Reads a JSON file.
pub fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).expect("read json")).expect("valid json")
}

/// Writes a JSON file the way `repo` does.
pub fn write_json(path: &Path, value: &Value) {
    std::fs::write(path, serde_json::to_vec_pretty(value).expect("json")).expect("write json");
}

/// Replaces the `signed` body of a metadata file (after `edit`) and signs it with `keys`,
/// as an attacker holding those keys would.
pub fn resign(path: &Path, keys: &[&Path], edit: impl FnOnce(&mut Value)) {
    let mut signed = read_json(path)["signed"].take();
    edit(&mut signed);
    let keys: Vec<PrivateKey> = keys
        .iter()
        .map(|k| PrivateKey::load(k).expect("key"))
        .collect();
    let refs: Vec<&PrivateKey> = keys.iter().collect();
    let bytes = repo_tool::signer::sign_value(signed, &refs).expect("sign");
    std::fs::write(path, bytes).expect("write");
}

/// Every file and folder under `dir` with its mode and content, to compare a tree before
/// and after a command that must leave it as it was.
pub fn tree_state(dir: &Path) -> BTreeMap<String, (u32, Vec<u8>)> {
    let mut state = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let rel = path
                .strip_prefix(dir)
                .expect("inside")
                .display()
                .to_string();
            let content = if meta.is_dir() {
                stack.push(path.clone());
                Vec::new()
            } else if meta.file_type().is_symlink() {
                std::fs::read_link(&path)
                    .expect("link")
                    .display()
                    .to_string()
                    .into_bytes()
            } else {
                std::fs::read(&path).expect("read")
            };
            state.insert(rel, (meta.permissions().mode(), content));
        }
    }
    state
}

/// A python interpreter with python-tuf installed: `$TUF_PYTHON`, or the workspace's
/// `.venv` that the test command creates.
pub fn tuf_python() -> PathBuf {
    if let Some(p) = std::env::var_os("TUF_PYTHON") {
        return PathBuf::from(p);
    }
    let venv = workspace_root().join(".venv/bin/python");
    assert!(
        venv.is_file(),
        "python-tuf is not installed: run tests/run-all.sh, which installs it into .venv"
    );
    venv
}

/// A static HTTP server on 127.0.0.1 serving one folder, stopped on drop.
pub struct StaticServer {
    child: Child,
    pub port: u16,
}

impl StaticServer {
    /// Serves `dir` on a free port of 127.0.0.1.
    pub fn start(dir: &Path) -> Self {
        Self::start_with::<&str>(dir, &[])
    }

    /// Serves `dir` with options of `tests/python/serve.py` (`--log FILE`, `--status CODE`,
    /// `--stall NAME`, `--endless NAME`).
    pub fn start_with<S: AsRef<OsStr>>(dir: &Path, options: &[S]) -> Self {
        let mut child = Command::new("python3")
            .arg(workspace_root().join("tests/python/serve.py"))
            .arg(dir)
            .args(options)
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .expect("start python3 http server");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("server prints its port");
        let port = line.trim().parse().expect("port number");
        let server = StaticServer { child, port };
        // Bounded wait until it accepts connections.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `command`, killing it and failing the test if it has not ended by `deadline`: a
/// hang shows up as a failure, not as a test run that never ends.
pub fn run_bounded(command: &mut Command, deadline: Duration) -> Run {
    use std::io::Read;
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Drained on threads so that a chatty child never blocks on a full pipe.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("stdout")));
    let stderr = drain(Box::new(child.stderr.take().expect("stderr")));
    let end = Instant::now() + deadline;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > end {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let run = Run {
        code: status.and_then(|s| s.code()),
        stdout: stdout.join().expect("stdout thread"),
        stderr: stderr.join().expect("stderr thread"),
    };
    assert!(
        status.is_some(),
        "{command:?} did not end within {deadline:?}: {run:#?}"
    );
    run
}

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

/// The request paths a `--log` server wrote, one per request.
pub fn logged_requests(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// python-tuf (`tests/python/tuf_fetch.py`) refreshes from the repository served at `base`,
/// trusting `root`, and downloads every target: name -> SHA-512 of the bytes it got.
/// Panics if python-tuf refuses the repository.
pub fn python_tuf_fetch(base: &str, root: &Path) -> BTreeMap<String, String> {
    let work = tempfile::tempdir().expect("tempdir");
    let out = Command::new(tuf_python())
        .arg(workspace_root().join("tests/python/tuf_fetch.py"))
        .arg(base)
        .arg(root)
        .arg(work.path())
        .output()
        .expect("run python-tuf");
    assert!(
        out.status.success(),
        "python-tuf refused the repository: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("json line");
            (
                v["name"].as_str().expect("name").to_owned(),
                v["sha512"].as_str().expect("sha512").to_owned(),
            )
        })
        .collect()
}

/// Runs `code` with python3 (for archives and bundles built with tarfile), panicking if it
/// fails.
pub fn run_python(code: &str) {
    let out = Command::new("python3")
        .arg("-c")
        .arg(code)
        .output()
        .expect("run python3");
    assert!(out.status.success(), "python3 failed: {out:#?}");
}

/// A tmpfs of `size` mounted at `dir`, unmounted on drop (the tests run as root, as CI does
/// on this machine; a failed mount fails the test).
pub struct Tmpfs(pub PathBuf);

impl Tmpfs {
    pub fn mount(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs needs root: {out:#?}"
        );
        Tmpfs(dir.to_path_buf())
    }

    pub fn free(&self) -> u64 {
        updater::install::free_bytes(&self.0).unwrap()
    }

    /// Removes everything on it.
    pub fn clear(&self) {
        for entry in std::fs::read_dir(&self.0).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                std::fs::remove_dir_all(&path).unwrap();
            } else {
                std::fs::remove_file(&path).unwrap();
            }
        }
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}
