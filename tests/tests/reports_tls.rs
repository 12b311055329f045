//! Reports over HTTPS to a collector that asks for client certificates
//! (`fleet serve --client-ca`): a device with `[report] client_cert`/`client_key` is heard,
//! one without is refused at the handshake and keeps its events, and both install the same.

use std::path::Path;

use e2e_tests::{
    assert_current_complete, db_rows, fleet, make_test_certificates, outbox_files, policy_for,
    scene, sqlite_db, FleetServer, Scene,
};
use serde_json::Value;

/// A scene whose device reports to `url` over HTTPS, trusting the test CA, with the client
/// certificate if `with_cert`.
fn reporting_scene(url: &str, certs: &Path, with_cert: bool) -> Scene {
    let path = |name: &str| certs.join(name).display().to_string();
    let identity = if with_cert {
        format!(
            "client_cert = \"{}\"\nclient_key = \"{}\"\n",
            path("client.pem"),
            path("client.key")
        )
    } else {
        String::new()
    };
    scene(
        &policy_for("1.0.0", ""),
        &format!("\n[report]\nurls = [\"{url}\"]\n{identity}"),
    )
}

/// Enrolls the scene's device with the key `keygen` makes; its device id.
fn enroll(s: &Scene, db: &str) -> String {
    let config = s.config.to_str().unwrap();
    let keygen = s
        .device
        .updater(&["--config", config, "keygen", "--json"])
        .ok();
    let printed: Value = serde_json::from_str(keygen.stdout.trim()).unwrap();
    let device = printed["device"].as_str().unwrap().to_owned();
    // Both scenes' devices have the same id: the second is enrolled in place of the first.
    let key = printed["public_key"].as_str().unwrap();
    fleet(&["enroll", "--db", db, "--replace", &device, key]).ok();
    device
}

#[test]
fn a_device_presents_its_client_certificate_to_a_collector_that_asks() {
    let dir = tempfile::tempdir().unwrap();
    make_test_certificates(dir.path());
    let db = sqlite_db(dir.path());
    let path = |name: &str| dir.path().join(name).display().to_string();
    let server = FleetServer::start_tls(&db, dir.path());
    let mut seen = Vec::new();
    for with_cert in [true, false] {
        let s = reporting_scene(&server.reports_url(), dir.path(), with_cert);
        let device = enroll(&s, &db);
        let config = s.config.to_str().unwrap();
        let ca = path("ca.pem");
        let before = db_rows(&db);
        let run = s
            .device
            .updater(&["--config", config, "--ca-file", &ca, "apply"])
            .ok();
        assert_eq!(assert_current_complete(&s.device), "1.0.0");
        let waiting = outbox_files(&s.device.tmp.path().join("outbox"));
        let stored = db_rows(&db)["events"].len() - before["events"].len();
        let listed = fleet(&["devices", "--db", &db, "--running", "1.0.0", "--json"]).ok();
        let listed: Value = serde_json::from_str(listed.stdout.trim()).unwrap();
        let running = listed["devices"][0]["device"] == device.as_str();
        seen.push((with_cert, waiting, stored, running, run.stderr));
    }
    // With its certificate: every event delivered and stored, the device seen running 1.0.0.
    let (_, waiting, stored, running, _) = &seen[0];
    assert_eq!((*waiting, *running), (0, true), "{seen:#?}");
    assert!(*stored >= 4, "{seen:#?}");
    // Without: refused at the handshake; nothing stored, every event still waiting.
    let (_, waiting, stored, _, stderr) = &seen[1];
    assert!(*waiting >= 4, "{seen:#?}");
    assert_eq!(*stored, 0, "{seen:#?}");
    assert!(stderr.contains("CertificateRequired"), "{stderr}");
}
