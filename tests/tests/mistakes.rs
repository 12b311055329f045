//! The common mistakes of a first hour, as one table: each row sets a mistake up, runs the
//! command a person would run, and asserts the exit code and that the message names the
//! thing at fault (the URL, file, role, key, release or line) and the next step. A mistake
//! changes nothing: the folder each row watches is compared whole before and after.
//!
//! Rows `bad_input.rs` and `refusals.rs` already assert (a key root does not list for the
//! role, a key file that is not a key, re-adding a release with other bytes, `updater init`
//! over a newer root, partial publishes) are not repeated here.
//!
//! The device's exit codes: 1 refused (or any other failure), 3 could not fetch with
//! nothing refused (`apply`, `plan`, `targets`; `init`, `refresh` and `download` keep the
//! TUF client protocol's 1 for every failure); `offline_and_refused_exit_differently` holds
//! the two side by side.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use e2e_tests::{
    bin, example_key, fixture_release, init_args, policy_for, run_bounded, tree_state, DemoRepo,
    Device, Run, StaticServer,
};

/// One mistake: what was set up, the command, and what it must say.
struct Row {
    name: &'static str,
    /// The program (`repo` or `updater`) and its arguments.
    program: &'static str,
    args: Vec<OsString>,
    code: i32,
    /// Each must appear in stderr.
    says: Vec<String>,
    /// A folder the mistake must leave exactly as it was.
    unchanged: PathBuf,
}

/// What every row shares: a signed repository with a policy, served over HTTP, and a
/// device trusting its root; plus scratch space.
struct World {
    repo: DemoRepo,
    server: StaticServer,
    device: Device,
    scratch: tempfile::TempDir,
}

impl World {
    fn new() -> Self {
        let repo = DemoRepo::with_policy(&policy_for("2.0.0", ""));
        let server = StaticServer::start(&repo.public());
        let device = Device::trusting(&repo.root_json());
        World {
            repo,
            server,
            device,
            scratch: tempfile::tempdir().unwrap(),
        }
    }

    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.scratch.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A device config in scratch: its folders under the device's, mirrors as given.
    fn config(&self, name: &str, metadata: &str, targets: &str, extra_device: &str) -> PathBuf {
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
    fn tmp_config(&self, bases: &[&str]) -> PathBuf {
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
    fn updater(&self, args: &[&dyn AsRefOs]) -> Vec<OsString> {
        let mut all = vec![
            OsString::from("--metadata-dir"),
            self.device.metadata_dir.clone().into(),
        ];
        all.extend(args.iter().map(|a| a.os()));
        all
    }
}

/// Anything that is an argument.
trait AsRefOs {
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
fn repo_args(args: &[&dyn AsRefOs]) -> Vec<OsString> {
    args.iter().map(|a| a.os()).collect()
}

/// A port on 127.0.0.1 nothing listens on: bound, then closed.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

const POLICY_HEAD: &str = "<policy>\n  <channel name=\"stable\">\n";
const POLICY_TAIL: &str = "  </channel>\n</policy>\n";

fn rows(w: &World) -> Vec<Row> {
    let url = w.server.url();
    let r = &w.repo;
    let dev = &w.device;
    let device_dir = dev.tmp.path().to_owned();
    let app = "releases/2.0.0/armv7/app.bin".to_owned();
    let offline = format!("http://127.0.0.1:{}/metadata", closed_port());
    let typo_element = w.file(
        "element.xml",
        &format!("{POLICY_HEAD}    <taget release=\"2.0.0\"/>\n{POLICY_TAIL}"),
    );
    let typo_attribute = w.file(
        "attribute.xml",
        &format!(
            "{POLICY_HEAD}    <target relase=\"2.0.0\"><wave start=\"2026-01-01T00:00:00Z\" percent=\"100\"/></target>\n{POLICY_TAIL}"
        ),
    );
    let bad_date = w.file(
        "date.xml",
        &format!(
            "{POLICY_HEAD}    <target release=\"2.0.0\"><wave start=\"2026-13-01\" percent=\"100\"/></target>\n{POLICY_TAIL}"
        ),
    );
    let unknown_release = w.file("unknown.xml", &policy_for("9.9.9", ""));
    let not_json = w.file("root.json", "this is not JSON\n");
    let no_metadata_config = w.config(
        "no-metadata.toml",
        &url,
        &format!("{url}/targets"),
        "channel = \"stable\"",
    );
    let wrong_targets_config = w.config(
        "wrong-targets.toml",
        &format!("{url}/metadata"),
        &url,
        "channel = \"stable\"",
    );
    let offline_config = w.config(
        "offline.toml",
        &offline,
        &format!("{url}/targets"),
        "channel = \"stable\"",
    );
    let typo_config = w.config(
        "typo.toml",
        &format!("{url}/metadata"),
        &format!("{url}/targets"),
        "chanel = \"stable\"",
    );
    let nonempty = w.scratch.path().join("nonempty");
    std::fs::create_dir(&nonempty).unwrap();
    std::fs::write(nonempty.join("notes.txt"), "mine").unwrap();
    let mut init_nonempty = init_args(&nonempty, &[]);
    init_nonempty.remove(0);
    let fresh = w.scratch.path().join("fresh");
    let mut init_wrong_signer = init_args(&fresh, &[]);
    init_wrong_signer.remove(0);
    init_wrong_signer.pop();
    init_wrong_signer.push(example_key("targets.pem").display().to_string());
    let repo_path = r.path.clone();
    let release_dir = fixture_release("2.0.0", "armv7");
    let missing_repo = w.scratch.path().join("no-such-repo");
    let uninitialised = w.scratch.path().join("blank-device");
    std::fs::create_dir(&uninitialised).unwrap();
    let threshold_repo = r.tmp.path().join("threshold");
    let mut two_of_two = init_args(&threshold_repo, &[]);
    two_of_two.remove(0);
    // Root 2-of-2 (the root key and the targets key as root keys), signed by one: staged.
    two_of_two.extend([
        "--key".into(),
        format!("root={}", example_key("targets.pub").display()),
        "--threshold".into(),
        "root=2".into(),
    ]);

    let init_with = |args: &[String]| -> Vec<OsString> {
        let mut all = vec![OsString::from("init")];
        all.extend(args.iter().map(OsString::from));
        all
    };

    vec![
        Row {
            name: "metadata URL without /metadata",
            program: "updater",
            args: w.updater(&[&"--metadata-url", &url, &"refresh"]),
            // `refresh` and `download` exit 1 for any failure (the TUF client protocol's
            // rule); the words say what it was.
            code: 1,
            says: vec![
                format!("{url}/timestamp.json: not found"),
                "is the metadata URL right?".into(),
                "usually ending in /metadata".into(),
                "--metadata-url".into(),
            ],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "metadata URL without /metadata, in the config (apply)",
            program: "updater",
            args: vec!["--config".into(), no_metadata_config.into(), "plan".into()],
            code: 3,
            says: vec![
                format!("refresh could not fetch the metadata: timestamp.json: not found on any mirror ({url}/timestamp.json: not found)"),
                "[repository] metadata".into(),
            ],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "targets URL without /targets",
            program: "updater",
            args: vec!["--config".into(), wrong_targets_config.into(), "plan".into()],
            code: 3,
            says: vec![
                "could not fetch the signed policy (policy.xml) from the targets mirrors: policy.xml: not found on any mirror".into(),
                format!("({url}/"),
                "is the targets URL right?".into(),
                "[repository] targets".into(),
            ],
            // The refresh before it stores the newer metadata: watch the repository.
            unchanged: r.path.clone(),
        },
        Row {
            name: "targets URL without /targets (download)",
            program: "updater",
            args: w.updater(&[
                &"--metadata-url",
                &format!("{url}/metadata"),
                &"--target-base-url",
                &url,
                &"--target-name",
                &app,
                &"--target-dir",
                &dev.target_dir,
                &"download",
            ]),
            code: 1,
            says: vec![
                format!("{app}: not found on any mirror ({url}/releases/2.0.0/armv7/"),
                "--target-base-url".into(),
            ],
            unchanged: dev.target_dir.clone(),
        },
        Row {
            name: "offline mirror",
            program: "updater",
            args: vec![
                "--config".into(),
                offline_config.into(),
                "--retries".into(),
                "1".into(),
                "plan".into(),
            ],
            code: 3,
            says: vec![
                format!("refresh could not fetch the metadata: 2.root.json: could not be fetched ({offline}/2.root.json: "),
                "Connection refused".into(),
                "(2 attempts)".into(),
                "no mirror could be reached; nothing was refused".into(),
            ],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "unsupported URL scheme",
            program: "updater",
            args: w.updater(&[&"--metadata-url", &"ftp://example.com/metadata", &"refresh"]),
            code: 1,
            says: vec!["ftp://example.com/metadata: unsupported scheme (use http://, https://, file:// or a path)".into()],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "device without init",
            program: "updater",
            args: vec![
                "--metadata-dir".into(),
                uninitialised.clone().into(),
                "--metadata-url".into(),
                format!("{url}/metadata").into(),
                "refresh".into(),
            ],
            code: 1,
            says: vec![format!(
                "{} holds no trusted root.json: run `updater init ROOT` first",
                uninitialised.display()
            )],
            unchanged: uninitialised.clone(),
        },
        Row {
            name: "device trusting another repository's root (wrong keys)",
            program: "updater",
            args: vec![
                "--metadata-dir".into(),
                uninitialised.clone().into(),
                "--metadata-url".into(),
                format!("{url}/metadata").into(),
                "refresh".into(),
            ],
            // Set up below: `uninitialised` trusts a stranger's root by then.
            code: 1,
            says: vec!["refresh refused: timestamp: 0 of 1 required signatures are valid".into()],
            unchanged: uninitialised.clone(),
        },
        Row {
            name: "expired metadata",
            program: "updater",
            args: vec![
                "--config".into(),
                w.config(
                    "ok.toml",
                    &format!("{url}/metadata"),
                    &format!("{url}/targets"),
                    "channel = \"stable\"",
                )
                .into(),
                "plan".into(),
                "--now".into(),
                "2099-01-01T00:00:00Z".into(),
            ],
            code: 1,
            says: vec![
                "refresh refused: root expired at ".into(),
                "(checked at 2099-01-01T00:00:00Z)".into(),
            ],
            unchanged: r.path.clone(),
        },
        Row {
            name: "config file typo (unknown key)",
            program: "updater",
            args: vec!["--config".into(), typo_config.clone().into(), "plan".into()],
            code: 1,
            says: vec![
                typo_config.display().to_string(),
                "line 4".into(),
                "unknown field `chanel`, expected one of `id`, `platform`, `channel`".into(),
            ],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "missing config file",
            program: "updater",
            args: vec![
                "--config".into(),
                w.scratch.path().join("updater.tom").into(),
                "plan".into(),
            ],
            code: 1,
            says: vec![format!(
                "the device's config file {} does not exist: give --config the device's configuration file",
                w.scratch.path().join("updater.tom").display()
            )],
            unchanged: device_dir.clone(),
        },
        Row {
            name: "root file that is not JSON (device)",
            program: "updater",
            args: vec![
                "--metadata-dir".into(),
                uninitialised.clone().into(),
                "init".into(),
                not_json.clone().into(),
            ],
            code: 1,
            says: vec![format!(
                "{} was not trusted: root.json is not valid metadata",
                not_json.display()
            )],
            unchanged: uninitialised.clone(),
        },
        Row {
            name: "root file that is not JSON (repo verify --root)",
            program: "repo",
            args: repo_args(&[&"verify", &repo_path, &"--root", &not_json]),
            code: 1,
            says: vec![
                format!("--root {} is not a root signed by its own keys", not_json.display()),
                "public/metadata/1.root.json".into(),
            ],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "policy typo: unknown element",
            program: "repo",
            args: repo_args(&[&"policy", &"check", &repo_path, &typo_element]),
            code: 1,
            says: vec![format!(
                "{} line 3: unknown element <taget>: inside <channel> the elements are <target>, <via>, <revoked>, <halt>",
                typo_element.display()
            )],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "policy typo: unknown attribute (policy set)",
            program: "repo",
            args: repo_args(&[&"policy", &"set", &repo_path, &typo_attribute]),
            code: 1,
            says: vec![format!(
                "{} line 3: <target> has no attribute \"relase\": its attributes are \"release\", \"downgrade\", \"restart\"",
                typo_attribute.display()
            )],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "policy typo: bad date",
            program: "repo",
            args: repo_args(&[&"policy", &"check", &repo_path, &bad_date]),
            code: 1,
            says: vec![format!(
                "{} line 3: <wave start>: \"2026-13-01\" is not a time of the form YYYY-MM-DDTHH:MM:SSZ",
                bad_date.display()
            )],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "policy naming a release not in the index",
            program: "repo",
            args: repo_args(&[&"policy", &"check", &repo_path, &unknown_release]),
            code: 1,
            says: vec![
                "policy names releases the index does not hold: 9.9.9 (channel \"stable\")".into(),
                "stage each with `repo add REPO DIR --release VERSION --platform PLATFORM` first".into(),
            ],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "repo init on a non-empty folder",
            program: "repo",
            args: init_with(&init_nonempty),
            code: 2,
            says: vec![format!(
                "{} already exists and is not empty: `repo init` makes a new repository; give a new or empty folder",
                nonempty.display()
            )],
            unchanged: nonempty.clone(),
        },
        Row {
            name: "repo init signed with a key that is not a root key",
            program: "repo",
            args: init_with(&init_wrong_signer),
            code: 2,
            says: vec![format!(
                "--sign {} (a01a8432) is not one of the root keys given with --key root=",
                example_key("targets.pem").display()
            )],
            unchanged: w.scratch.path().to_owned(),
        },
        Row {
            name: "repo init without the root threshold",
            program: "repo",
            args: init_with(&two_of_two),
            code: 4,
            says: vec![format!(
                "not finished: root version 1 is staged and needs 1 more signature(s) by its root keys: `repo sign {} --key ROOT_KEY`",
                threshold_repo.display()
            )],
            unchanged: w.scratch.path().to_owned(),
        },
        Row {
            name: "platform label with a slash",
            program: "repo",
            args: repo_args(&[
                &"add",
                &repo_path,
                &release_dir,
                &"--release",
                &"3.0.0",
                &"--platform",
                &"arm/v7",
            ]),
            code: 2,
            says: vec!["platform \"arm/v7\" must be 1-128 characters of letters, digits and . _ + - ~".into()],
            unchanged: repo_path.clone(),
        },
        Row {
            name: "missing repository folder",
            program: "repo",
            args: repo_args(&[
                &"add",
                &missing_repo,
                &release_dir,
                &"--release",
                &"3.0.0",
                &"--platform",
                &"armv7",
            ]),
            code: 2,
            says: vec![format!(
                "{} is not a repository made by `repo init`",
                missing_repo.display()
            )],
            unchanged: w.scratch.path().to_owned(),
        },
        Row {
            name: "--valid-for without a unit",
            program: "repo",
            args: repo_args(&[
                &"export",
                &repo_path,
                &"--out",
                &w.scratch.path().join("site.tar.gz"),
                &"--valid-for",
                &"90",
                &"--key",
                &example_key("snapshot.pem"),
                &"--key",
                &example_key("timestamp.pem"),
            ]),
            code: 2,
            says: vec!["\"90\" is not a period such as 90d, 12h, 2w, 30m or 3600s".into()],
            unchanged: repo_path.clone(),
        },
    ]
}

#[test]
fn each_common_mistake_names_what_is_at_fault() {
    let w = World::new();
    let rows = rows(&w);
    assert!(rows.len() >= 20, "{} rows", rows.len());
    let mut failed = Vec::new();
    for row in rows {
        if row.name.starts_with("device trusting another") {
            // The blank device is given a root of another repository (other keys).
            let other_keys = tempfile::tempdir().unwrap();
            let mut args = vec![
                "init".into(),
                other_keys.path().join("r").display().to_string(),
            ];
            for role in ["root", "targets", "snapshot", "timestamp", "policy"] {
                e2e_tests::repo(["keygen".as_ref(), other_keys.path().join(role).as_os_str()]).ok();
                args.extend([
                    "--key".into(),
                    format!(
                        "{role}={}",
                        other_keys.path().join(format!("{role}.pub")).display()
                    ),
                ]);
            }
            args.extend([
                "--sign".into(),
                other_keys.path().join("root.pem").display().to_string(),
            ]);
            e2e_tests::repo(&args).ok();
            let root = other_keys.path().join("r/public/metadata/1.root.json");
            let device = &row.unchanged;
            run(
                "updater",
                &[
                    "--metadata-dir".into(),
                    device.into(),
                    "init".into(),
                    root.into(),
                ],
            )
            .ok();
        }
        let before = tree_state(&row.unchanged);
        let result = run(row.program, &row.args);
        let missing: Vec<&String> = row
            .says
            .iter()
            .filter(|s| !result.stderr.contains(*s))
            .collect();
        if result.code != Some(row.code) || !missing.is_empty() {
            failed.push(format!(
                "{}: exit {:?} (want {}), missing {missing:?}\n  stderr: {}",
                row.name, result.code, row.code, result.stderr
            ));
        }
        if tree_state(&row.unchanged) != before {
            failed.push(format!("{}: {} changed", row.name, row.unchanged.display()));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Runs `program` (`repo` or `updater`) with `args`, bounded.
fn run(program: &str, args: &[OsString]) -> Run {
    run_bounded(
        std::process::Command::new(bin(program)).args(args),
        std::time::Duration::from_secs(120),
    )
}

#[test]
fn offline_and_refused_exit_differently() {
    let w = World::new();
    // Offline: the metadata mirror is a closed port. Nothing was refused: `apply` exits 3,
    // in one line naming the URL and its attempts.
    let offline = format!("http://127.0.0.1:{}", closed_port());
    let offline_config = w.device.configure("02:00:00:00:00:01", &offline, None, "");
    let run = e2e_tests::apply(&w.device, &offline_config).fails_with(
        3,
        &format!(
            "updater: refresh could not fetch the metadata: 2.root.json: could not be fetched \
             ({offline}/metadata/2.root.json: "
        ),
    );
    assert!(run.stderr.contains("(3 attempts)"), "{run:#?}");
    assert!(
        run.stderr
            .contains("no mirror could be reached; nothing was refused"),
        "{run:#?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:#?}");
    assert_eq!(w.device.running(), None);

    // Refused: the served timestamp is tampered with (one character of its signature).
    // `apply` exits 1, and installs nothing.
    let timestamp = w.repo.metadata("timestamp.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&timestamp).unwrap()).unwrap();
    let sig = json["signatures"][0]["sig"].as_str().unwrap().to_owned();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    json["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
    std::fs::write(&timestamp, serde_json::to_vec(&json).unwrap()).unwrap();
    let served = w.server.url();
    let config = w.device.configure("02:00:00:00:00:01", &served, None, "");
    let metadata_before = tree_state(&w.device.metadata_dir);
    e2e_tests::apply(&w.device, &config).fails_with(
        1,
        "updater: refresh refused: timestamp: 0 of 1 required signatures are valid",
    );
    assert_eq!(metadata_before, tree_state(&w.device.metadata_dir));
    assert_eq!(w.device.running(), None);

    // A mirror down and another serving the tampered file: the refusal is what counts.
    let both = w.tmp_config(&[&offline, &served]);
    e2e_tests::apply(&w.device, &both).fails_with(1, "updater: refresh refused: timestamp: ");

    // `refresh` keeps the TUF client protocol's exit 1 for either, its words still apart.
    w.device
        .refresh(&[&offline])
        .fails_with(1, "refresh could not fetch the metadata: ");
}
