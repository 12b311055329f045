//! An existing repository of the old layout (every release in the top-level targets,
//! `tests/data/legacy-repo`, written by `repo` before the catalogue) becomes a catalogue
//! with one `repo sign`, and a device that trusted the old layout follows it without a new
//! root; python-tuf and `repo verify` read the result.

use e2e_tests::{
    apply, assert_current_complete, listed_file, policy_for, python_tuf_fetch, read_json,
    workspace_root, DemoRepo, Device, StaticServer,
};

#[test]
fn an_old_repository_migrates_and_devices_follow_without_a_new_root() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("repo");
    let status = std::process::Command::new("cp")
        .arg("-a")
        .arg(workspace_root().join("tests/data/legacy-repo"))
        .arg(&path)
        .status()
        .unwrap();
    assert!(status.success());
    let r = DemoRepo { tmp, path };
    let metadata = r.public().join("metadata");
    let old_top = read_json(&listed_file(&metadata, "targets"));
    assert_eq!(old_top["signed"]["targets"].as_object().unwrap().len(), 16);

    let server = StaticServer::start(&r.public());
    let device = Device::trusting(&r.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, "");
    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 1.0.0, was nothing"),
        "{run:#?}"
    );

    // One signing migrates: the releases leave the top-level targets for roles of their own.
    r.set_policy(&policy_for("2.0.0", "")).ok();
    let run = r.sign_all().ok();
    assert!(
        run.stdout.contains("published live-01 version 1"),
        "{run:#?}"
    );
    let top = read_json(&listed_file(&metadata, "targets"));
    assert!(
        top["signed"]["targets"].as_object().unwrap().is_empty(),
        "{top:#}"
    );
    let roles: Vec<&str> = top["signed"]["delegations"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["policy", "live-01", "live-02"]);
    let staged = read_json(&r.path.join("staged/targets.json"));
    assert!(staged["targets"].as_object().unwrap().is_empty());
    // No new root was needed.
    let roots = std::fs::read_dir(&metadata)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".root.json")
        })
        .count();
    assert_eq!(roots, 1);

    let run = apply(&device, &config).ok();
    assert!(
        run.stdout.contains("installed 2.0.0, was 1.0.0"),
        "{run:#?}"
    );
    assert_eq!(assert_current_complete(&device), "2.0.0");
    r.verify(&[]).ok();
    assert_eq!(python_tuf_fetch(&server.url(), &r.root_json()).len(), 17);
}
