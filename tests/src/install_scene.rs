//! The install tests' shared scene: a served demo repository, a configured device, the
//! policies it is given, and what a complete release on the device looks like.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::demo_repo::{example_key, fixture_release, DemoRepo};
use crate::device::Device;
use crate::run::{bin, Run};
use crate::server::StaticServer;

/// A policy whose `stable` channel targets `release` (downgrades allowed), plus `extra`.
pub fn policy_for(release: &str, extra: &str) -> String {
    format!(
        r#"<policy>
  <channel name="stable">
    <target release="{release}" downgrade="true"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
    {extra}
  </channel>
</policy>
"#
    )
}

/// The example policy of docs/reference/policy.md and docs/plan-json.md: checks every 6h
/// (jitter 30m), weekdays 02:00-04:00, 2.0.0 to 10% on Monday 2026-11-23, 50% by Tuesday,
/// 100% by Thursday; `extra` goes inside channel `stable`.
pub fn reference_policy(extra: &str) -> String {
    format!(
        r#"<policy>
  <check every="6h" jitter="30m"/>
  <window days="mon-fri" from="02:00" to="04:00"/>
  <channel name="stable">
    <target release="2.0.0">
      <wave start="2026-11-23T00:00:00Z" percent="10"/>
      <wave start="2026-11-24T00:00:00Z" percent="50"/>
      <wave start="2026-11-26T00:00:00Z" percent="100"/>
    </target>
    {extra}
  </channel>
</policy>
"#
    )
}

/// A policy moving channel `stable` to 2.0.0 in two waves: `first_percent` at `first`,
/// ramping to everyone at `second` (times as the policy writes them).
pub fn two_wave_policy(first: &str, first_percent: u32, second: &str) -> String {
    format!(
        r#"<policy>
  <channel name="stable">
    <target release="2.0.0">
      <wave start="{first}" percent="{first_percent}"/>
      <wave start="{second}" percent="100"/>
    </target>
  </channel>
</policy>
"#
    )
}

/// Publishes a new policy with the policy, snapshot and timestamp keys.
pub fn publish_policy(r: &DemoRepo, xml: &str) {
    r.set_policy(xml).ok();
    r.sign_with(&[
        example_key("policy.pem"),
        example_key("snapshot.pem"),
        example_key("timestamp.pem"),
    ])
    .ok();
}

/// `updater --config CONFIG plan --json` on `device`, now: its one JSON object.
pub fn plan_json(device: &Device, config: &Path) -> serde_json::Value {
    let run = device
        .updater(&[
            "--config".as_ref(),
            config.as_os_str(),
            "plan".as_ref(),
            "--json".as_ref(),
        ])
        .ok();
    serde_json::from_str(run.stdout.trim()).expect("plan --json prints one JSON object")
}

/// `updater --config CONFIG apply` on `device`.
pub fn apply(device: &Device, config: &Path) -> Run {
    device.updater(&["--config".as_ref(), config.as_os_str(), "apply".as_ref()])
}

/// The files of fixture release `release` for armv7, as a device should have them.
pub fn expected_tree(release: &str) -> Vec<(String, Vec<u8>)> {
    let base = fixture_release(release, "armv7");
    let mut files: Vec<(String, Vec<u8>)> = [
        "app.bin",
        "firmware.img",
        "pre-install.sh",
        "share/data.txt",
    ]
    .iter()
    .map(|f| (f.to_string(), std::fs::read(base.join(f)).unwrap()))
    .collect();
    files.sort();
    files
}

/// Asserts that `current` names a complete release, and returns which.
pub fn assert_current_complete(device: &Device) -> String {
    let release = device.running().expect("current exists");
    let dir = device.install_dir().join("current");
    for (file, bytes) in expected_tree(&release) {
        assert_eq!(
            std::fs::read(dir.join(&file)).ok().as_deref(),
            Some(&bytes[..]),
            "current ({release}) lacks a complete {file}"
        );
    }
    release
}

/// A served demo repository and a device configured to update from it.
pub struct Scene {
    pub repo: DemoRepo,
    /// Serves `repo` for as long as the scene lives.
    _server: StaticServer,
    pub device: Device,
    pub config: PathBuf,
}

/// A scene whose repository has `policy` and whose device installs as `install_toml` says.
pub fn scene(policy: &str, install_toml: &str) -> Scene {
    let repo = DemoRepo::with_policy(policy);
    let server = StaticServer::start(&repo.public());
    let device = Device::trusting(&repo.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, install_toml);
    Scene {
        repo,
        _server: server,
        device,
        config,
    }
}

/// Starts `updater --config CONFIG COMMAND` and returns the child, for killing.
pub fn spawn(config: &Path, command_name: &str, pause: Option<&str>) -> std::process::Child {
    let mut command = Command::new(bin("updater"));
    command
        .args(["--config"])
        .arg(config)
        .arg(command_name)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if let Some(step) = pause {
        command.env("UPDATER_TEST_PAUSE", step);
    }
    command.spawn().expect("spawn updater")
}
