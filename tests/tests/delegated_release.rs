//! A release listed only by its delegated role (a slot of the catalogue, as `repo sign`
//! writes it): `plan` finds it through the delegation tree and `apply` installs it; a role
//! that lists a release its delegation does not cover is not trusted for it.

use std::path::Path;

use e2e_tests::{
    apply, assert_current_complete, example_key, listed_file, meta_of, plan_json, policy_for,
    read_json, resign, scene, tree_state,
};
use serde_json::{json, Value};

/// The slot holding `release` (the delegation whose paths reach its folder) and its paths.
fn slot_of(metadata: &Path, release: &str) -> (String, Value) {
    let top = read_json(&listed_file(metadata, "targets"));
    let slot = top["signed"]["delegations"]["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| {
            d["paths"][0]
                .as_str()
                .unwrap()
                .starts_with(&format!("releases/{release}/"))
        })
        .cloned()
        .expect("a slot for the release");
    (
        slot["name"].as_str().unwrap().to_owned(),
        slot["paths"].clone(),
    )
}

/// Narrows the delegation to the slot of 2.0.0 to `paths` in a re-signed top-level
/// targets, then re-signs snapshot and timestamp: the slot still lists every file of 2.0.0.
fn narrow_slot(metadata: &Path, paths: &[&str]) {
    let (slot, _) = slot_of(metadata, "2.0.0");
    let targets = listed_file(metadata, "targets");
    resign(&targets, &[&example_key("targets.pem")], |signed| {
        for role in signed["delegations"]["roles"].as_array_mut().unwrap() {
            if role["name"] == slot.as_str() {
                role["paths"] = json!(paths);
            }
        }
    });
    relist(metadata);
}

/// Re-signs snapshot, listing the changed targets role with its length and hashes as
/// `repo sign` lists it, and timestamp for that snapshot.
fn relist(metadata: &Path) {
    let snapshot = listed_file(metadata, "snapshot");
    let targets_file = listed_file(metadata, "targets");
    let targets_version = read_json(&snapshot)["signed"]["meta"]["targets.json"]["version"]
        .as_u64()
        .unwrap();
    resign(&snapshot, &[&example_key("snapshot.pem")], |signed| {
        signed["meta"]["targets.json"] = meta_of(&targets_file, targets_version);
    });
    let bytes = std::fs::read(&snapshot).unwrap();
    let digest = updater::hash::digest_reader(&bytes[..]).unwrap();
    resign(
        &metadata.join("timestamp.json"),
        &[&example_key("timestamp.pem")],
        |signed| {
            let meta = &mut signed["meta"]["snapshot.json"];
            if meta.get("length").is_some() {
                meta["length"] = json!(bytes.len());
            }
            if meta.get("hashes").is_some() {
                meta["hashes"] = json!({
                    "sha256": digest.sha256.to_hex(),
                    "sha512": digest.sha512.to_hex(),
                });
            }
        },
    );
}

#[test]
fn a_release_listed_only_by_its_delegated_role_is_planned_and_installed() {
    let s = scene(&policy_for("2.0.0", ""), "");
    let metadata = s.repo.public().join("metadata");
    let top = read_json(&listed_file(&metadata, "targets"));
    assert!(
        !top.to_string().contains("releases/2.0.0/armv7"),
        "the top-level role lists no release file"
    );
    let (slot, paths) = slot_of(&metadata, "2.0.0");
    assert_eq!(paths, json!(["releases/2.0.0/*/*", "releases/2.0.0/*/*/*"]));

    let decision = plan_json(&s.device, &s.config);
    assert_eq!(decision["action"], "install", "{decision:#}");
    assert_eq!(decision["release"], "2.0.0", "{decision:#}");
    // The device fetched the release's role and kept it with its trusted metadata.
    assert!(s.device.metadata_dir.join(format!("{slot}.json")).is_file());

    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout.contains("installed 2.0.0, was nothing"),
        "{run:#?}"
    );
    // Every file of the release, byte for byte as the delegated role lists it.
    assert_eq!(assert_current_complete(&s.device), "2.0.0");
}

#[test]
fn a_role_listing_a_release_its_delegation_does_not_cover_is_not_trusted_for_it() {
    let s = scene(&policy_for("2.0.0", ""), "");
    // The role may list 2.0.0's x86_64 files only; it lists armv7 ones.
    narrow_slot(
        &s.repo.public().join("metadata"),
        &["releases/2.0.0/x86_64/*"],
    );
    let install = s.device.install_dir();
    let before = tree_state(&install);

    let decision = plan_json(&s.device, &s.config);
    assert_eq!(decision["action"], "stay", "{decision:#}");
    assert_eq!(
        decision["reason"],
        "release 2.0.0 is not in the signed index; staying on nothing"
    );
    let run = apply(&s.device, &s.config).ok();
    assert!(
        run.stdout
            .contains("release 2.0.0 is not in the signed index; staying on nothing"),
        "{run:#?}"
    );
    // Nothing was downloaded or installed: no download folder content, and the install
    // folder as it was, apart from the state file where `apply` records its check.
    assert_eq!(s.device.running(), None);
    let downloads = std::fs::read_dir(&s.device.target_dir).map_or(0, |d| d.count());
    assert_eq!(downloads, 0);
    let without_state = |mut tree: std::collections::BTreeMap<String, (u32, Vec<u8>)>| {
        tree.retain(|name, _| !name.contains("state"));
        tree
    };
    assert_eq!(without_state(tree_state(&install)), without_state(before));
}
