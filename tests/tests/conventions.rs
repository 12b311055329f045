//! One convention module, two programs: `repo` and the device's `updater` accept and handle
//! the same release labels, order releases the same way, and refuse a bundle no device can
//! unpack with the same sentence. Driven through both binaries over HTTP on 127.0.0.1.

use std::path::{Path, PathBuf};

use e2e_tests::{
    fixture_release, plan_json, read_json, repo, tree_state, write_json, DemoRepo, Device, Run,
    StaticServer,
};
use serde_json::Value;
use updater::conventions::served::served_names;
use updater::metadata::TargetInfo;
use updater::names::TargetName;

/// The sentence both programs refuse `app.tar.xz` with.
const TAR_XZ_REFUSAL: &str = "app.tar.xz: devices cannot unpack .tar.xz bundles (they unpack \
     .tar, .tar.gz and .tgz); repack it as one of those, or rename it (for example to \
     app.tar.xz.bin) to ship it as an opaque file";

/// A policy whose channel `stable` targets `release` for every device, plus `extra`.
fn policy_for(release: &str, extra: &str) -> String {
    format!(
        r#"<policy>
  <channel name="stable">
    <target release="{release}"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
    {extra}
  </channel>
</policy>
"#
    )
}

/// Stages `xml` as the policy and publishes everything staged with all four online keys.
fn publish(r: &DemoRepo, xml: &str) {
    r.set_policy(xml).ok();
    r.sign_all().ok();
}

/// `repo policy check` of `xml`.
fn policy_check(r: &DemoRepo, xml: &str) -> Run {
    let file = r.tmp.path().join("check.xml");
    std::fs::write(&file, xml).unwrap();
    repo([
        "policy".as_ref(),
        "check".as_ref(),
        r.path.as_os_str(),
        file.as_os_str(),
    ])
}

fn apply(device: &Device, config: &Path) -> Run {
    device.updater(&["--config".as_ref(), config.as_os_str(), "apply".as_ref()])
}

/// A device of channel `stable` on armv7, running `running`, served by `server`.
fn device_at(
    server: &StaticServer,
    r: &DemoRepo,
    id: &str,
    running: Option<&str>,
) -> (Device, PathBuf) {
    let device = Device::trusting(&r.root_json());
    let config = device.configure(id, &server.url(), running, "");
    (device, config)
}

#[test]
fn a_100_character_release_label_publishes_and_installs() {
    let label = format!("3.0.0-{}", "x".repeat(94));
    assert_eq!(label.len(), 100);
    let r = DemoRepo::init();
    r.add_dir(&fixture_release("1.0.0", "armv7"), &label, "armv7")
        .ok();
    policy_check(&r, &policy_for(&label, "")).ok();
    publish(&r, &policy_for(&label, ""));

    let server = StaticServer::start(&r.public());
    let (device, config) = device_at(&server, &r, "02:00:00:00:00:01", None);
    let decision = plan_json(&device, &config);
    assert_eq!(decision["action"], "install", "{decision}");
    assert_eq!(decision["release"], label.as_str());

    let run = apply(&device, &config).ok();
    assert!(
        run.stdout
            .contains(&format!("installed {label}, was nothing")),
        "{run:#?}"
    );
    assert_eq!(device.running().as_deref(), Some(label.as_str()));
    let installed = device.install_dir().join("releases").join(&label);
    for file in [
        "app.bin",
        "firmware.img",
        "pre-install.sh",
        "share/data.txt",
    ] {
        assert_eq!(
            std::fs::read(installed.join(file)).unwrap(),
            std::fs::read(fixture_release("1.0.0", "armv7").join(file)).unwrap(),
            "{file}"
        );
    }
}

/// A copy of fixture release 1.0.0 for armv7 in `dir`, plus `extra` (name, bytes).
fn release_folder(dir: &Path, extra: &[(&str, &[u8])]) -> PathBuf {
    let folder = dir.join("build");
    let source = fixture_release("1.0.0", "armv7");
    for file in [
        "app.bin",
        "firmware.img",
        "pre-install.sh",
        "share/data.txt",
    ] {
        let to = folder.join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(source.join(file), &to).unwrap();
    }
    for (name, bytes) in extra {
        std::fs::write(folder.join(name), bytes).unwrap();
    }
    folder
}

#[test]
fn repo_add_refuses_a_tar_xz_bundle_and_changes_nothing() {
    let r = DemoRepo::init();
    let folder = release_folder(
        r.tmp.path(),
        &[("app.tar.xz", b"\xfd7zXZ\0 not unpackable")],
    );
    let before = tree_state(r.tmp.path());
    let run = r.add_dir(&folder, "2.0.0", "armv7");
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert!(
        run.stderr.contains(&format!(
            "refusing {}: {TAR_XZ_REFUSAL}",
            folder.join("app.tar.xz").display()
        )),
        "{run:#?}"
    );
    // The repository, the release folder and everything beside them are as they were.
    assert_eq!(tree_state(r.tmp.path()), before);
    let staged: Value = read_json(&r.path.join("staged/targets.json"));
    assert_eq!(staged["targets"], serde_json::json!({}));
    assert!(!r.path.join("staged/releases/2.0.0.json").exists());
}

/// Renames `from` to `to` in the staged release (`staged/releases/<R>.json`), recording
/// `kind`, with the staged copies linked under the new name's served paths: an index entry
/// `repo add` would not make.
fn rename_staged_entry(r: &DemoRepo, from: &str, to: &str, kind: &str) {
    let release = from.split('/').nth(1).unwrap();
    let path = r.path.join(format!("staged/releases/{release}.json"));
    let mut index = read_json(&path);
    let targets = index.as_object_mut().unwrap();
    let mut entry = targets.remove(from).expect("staged entry");
    entry["custom"]["kind"] = kind.into();
    let info: TargetInfo = serde_json::from_value(entry.clone()).unwrap();
    targets.insert(to.to_owned(), entry);
    write_json(&path, &index);
    let staged = r.path.join("staged/targets");
    let (from, to) = (TargetName::new(from).unwrap(), TargetName::new(to).unwrap());
    for (old, new) in served_names(&from, &info.hashes)
        .iter()
        .zip(served_names(&to, &info.hashes))
    {
        let new = staged.join(new);
        std::fs::create_dir_all(new.parent().unwrap()).unwrap();
        std::fs::hard_link(staged.join(old), new).unwrap();
    }
}

#[test]
fn a_device_refuses_a_listed_tar_xz_bundle_with_the_same_sentence() {
    let r = DemoRepo::init();
    let folder = release_folder(r.tmp.path(), &[("app.tar.xz.bin", b"opaque")]);
    r.add_dir(&folder, "2.0.0", "armv7").ok();
    rename_staged_entry(
        &r,
        "releases/2.0.0/armv7/app.tar.xz.bin",
        "releases/2.0.0/armv7/app.tar.xz",
        "bundle",
    );
    publish(&r, &policy_for("2.0.0", ""));

    let server = StaticServer::start(&r.public());
    let (device, config) = device_at(&server, &r, "02:00:00:00:00:01", None);
    let decision = plan_json(&device, &config);
    assert_eq!(decision["action"], "stay", "{decision}");
    assert_eq!(
        decision["reason"],
        format!("release 2.0.0 cannot be installed: {TAR_XZ_REFUSAL}; staying on nothing")
    );

    let before = tree_state(&device.install_dir());
    let run = apply(&device, &config).ok();
    assert!(run.stdout.contains(TAR_XZ_REFUSAL), "{run:#?}");
    assert_eq!(device.running(), None);
    // Nothing downloaded, nothing staged: only the status record changed.
    let mut after = tree_state(&device.install_dir());
    after.remove("state.json");
    assert_eq!(after, before);
    assert_eq!(tree_state(&device.target_dir), Default::default());
}

#[test]
fn release_candidates_and_build_metadata_order_alike_on_both_sides() {
    let r = DemoRepo::init();
    r.add_dir(&fixture_release("1.0.0", "armv7"), "2.5.0-rc1", "armv7")
        .ok();
    r.add_dir(&fixture_release("2.0.0", "armv7"), "2.5.0", "armv7")
        .ok();
    r.add_dir(&fixture_release("2.0.0", "armv7"), "1.0.9", "armv7")
        .ok();
    // `repo` orders 2.5.0-rc1 below 2.5.0: a stepping stone below its `below`.
    let xml = policy_for("2.5.0", r#"<via release="2.5.0-rc1" below="2.5.0"/>"#);
    let check = policy_check(&r, &xml).ok();
    assert!(
        check
            .stdout
            .contains("devices below 2.5.0 go to 2.5.0-rc1 first"),
        "{check:#?}"
    );
    let upside_down = policy_for("2.5.0", r#"<via release="2.5.0" below="2.5.0-rc1"/>"#);
    let refused = policy_check(&r, &upside_down);
    assert!(
        refused
            .stderr
            .contains("<via release=\"2.5.0\"> is above its below=\"2.5.0-rc1\""),
        "{refused:#?}"
    );
    publish(&r, &xml);

    // The device orders them the same way: the candidate moves up, older ones step through it.
    let server = StaticServer::start(&r.public());
    let (candidate, config) = device_at(&server, &r, "02:00:00:00:00:01", Some("2.5.0-rc1"));
    let decision = plan_json(&candidate, &config);
    assert_eq!(decision["action"], "install", "{decision}");
    assert_eq!(decision["release"], "2.5.0");
    let run = apply(&candidate, &config).ok();
    assert!(
        run.stdout.contains("installed 2.5.0, was 2.5.0-rc1"),
        "{run:#?}"
    );
    assert_eq!(candidate.running().as_deref(), Some("2.5.0"));

    let (older, config) = device_at(&server, &r, "02:00:00:00:00:02", Some("2.4.0"));
    let decision = plan_json(&older, &config);
    assert_eq!(decision["release"], "2.5.0-rc1", "{decision}");
    assert!(
        decision["reason"]
            .as_str()
            .unwrap()
            .starts_with("install stepping stone 2.5.0-rc1 (on the way to 2.5.0) now"),
        "{decision}"
    );

    // Build metadata is not a version: 1.0.0+b1 is below 1.0.9.
    publish(&r, &policy_for("1.0.9", ""));
    let (built, config) = device_at(&server, &r, "02:00:00:00:00:03", Some("1.0.0+b1"));
    let decision = plan_json(&built, &config);
    assert_eq!(decision["action"], "install", "{decision}");
    assert_eq!(decision["release"], "1.0.9");
}
