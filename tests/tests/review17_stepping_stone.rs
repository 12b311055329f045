//! Review 17: a stepping stone below the running release (`<via release="1.0.0"
//! below="2.0.0"/>`, which the parser accepts since release is not above below) must not
//! send a device on 1.5.0 back to 1.0.0. Before the fix `repo policy set` accepted the
//! policy and `plan` answered "stay" for good (the "downgrade" to the stone was refused):
//! a stranding policy the check let through.

use e2e_tests::{DemoRepo, Device, StaticServer};
use serde_json::Value;

#[test]
fn a_stepping_stone_below_the_running_release_does_not_strand_the_device() {
    let xml = r#"<policy>
  <channel name="stable">
    <target release="2.0.0"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
    <via release="1.0.0" below="2.0.0"/>
  </channel>
</policy>
"#;
    // `with_policy` runs `repo policy set` (which runs the stranding check) and signs.
    let r = DemoRepo::with_policy(xml);
    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure("kiosk-17", &server.url(), Some("1.5.0"), "");
    let run = device
        .updater(&[
            "--config".as_ref(),
            config.as_os_str(),
            "plan".as_ref(),
            "--json".as_ref(),
        ])
        .ok();
    let plan: Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(plan["action"], "install", "{plan}");
    assert_eq!(plan["release"], "2.0.0", "{plan}");
    assert_eq!(plan["waiting_for"], Value::Null, "{plan}");
}
