//! A release listed only by a delegated targets role, as the catalogue design publishes
//! releases: `plan` finds it through the delegation tree and `apply` installs it; a role
//! that lists a release its delegation does not cover is not trusted for it.

use std::path::{Path, PathBuf};

use e2e_tests::{
    apply, assert_current_complete, example_key, meta_of, policy_for, read_json, resign, scene,
    tree_state, Device, Scene,
};
use ed25519_dalek::pkcs8::DecodePublicKey;
use serde_json::{json, Map, Value};

/// The served metadata file of `role` at the version the current snapshot names.
fn listed_file(metadata: &Path, role: &str) -> PathBuf {
    let timestamp = read_json(&metadata.join("timestamp.json"));
    let snapshot_version = &timestamp["signed"]["meta"]["snapshot.json"]["version"];
    let snapshot = metadata.join(format!("{snapshot_version}.snapshot.json"));
    if role == "snapshot" {
        return snapshot;
    }
    let version = &read_json(&snapshot)["signed"]["meta"][format!("{role}.json")]["version"];
    metadata.join(format!("{version}.{role}.json"))
}

/// Moves every artifact of release 2.0.0 out of the top-level targets role into a new role
/// `release-2.0.0`, signed by a key of its own and delegated with `paths`; then re-signs
/// snapshot (listing the new role) and timestamp, as a repository publishing releases as
/// delegated roles would.
fn move_release_to_delegated_role(s: &Scene, paths: &[&str]) {
    let metadata = s.repo.public().join("metadata");
    let stem = s.repo.tmp.path().join("release-2.0.0");
    let (private, public, key_id) = repo_tool::keys::generate(&stem).unwrap();
    let text = std::fs::read_to_string(&public).unwrap();
    let verifying = ed25519_dalek::VerifyingKey::from_public_key_pem(&text).unwrap();
    let key = updater::key::PublicKey::ed25519(verifying.as_bytes());
    assert_eq!(key.key_id(), key_id);
    let key_id = key_id.to_string();

    let mut moved = Map::new();
    resign(
        &listed_file(&metadata, "targets"),
        &[&example_key("targets.pem")],
        |signed| {
            let targets = signed["targets"].as_object_mut().unwrap();
            let names: Vec<String> = targets
                .keys()
                .filter(|n| n.starts_with("releases/2.0.0/"))
                .cloned()
                .collect();
            for name in names {
                moved.insert(name.clone(), targets.remove(&name).unwrap());
            }
            let delegations = &mut signed["delegations"];
            delegations["keys"][&key_id] = serde_json::to_value(&key).unwrap();
            delegations["roles"].as_array_mut().unwrap().push(json!({
                "name": "release-2.0.0",
                "keyids": [key_id],
                "threshold": 1,
                "terminating": false,
                "paths": paths,
            }));
        },
    );
    assert_eq!(moved.len(), 4, "the fixture release has four files");

    let role_file = metadata.join("1.release-2.0.0.json");
    let body = json!({
        "_type": "targets",
        "spec_version": "1.0.31",
        "version": 1,
        "expires": "2099-01-01T00:00:00Z",
        "targets": moved,
    });
    let signer = repo_tool::keys::PrivateKey::load(&private).unwrap();
    std::fs::write(
        &role_file,
        repo_tool::signer::sign_value(body, &[&signer]).unwrap(),
    )
    .unwrap();

    relist(&metadata, &role_file);
}

/// Re-signs snapshot, listing the changed targets role and the new one with their length
/// and hashes as `repo sign` lists them, and timestamp for that snapshot.
fn relist(metadata: &Path, role_file: &Path) {
    // Snapshot lists each role with its length and hashes: the changed targets role and the
    // new one, as `repo sign` lists them.
    let snapshot = listed_file(metadata, "snapshot");
    let targets_file = listed_file(metadata, "targets");
    let targets_version = read_json(&snapshot)["signed"]["meta"]["targets.json"]["version"]
        .as_u64()
        .unwrap();
    resign(&snapshot, &[&example_key("snapshot.pem")], |signed| {
        signed["meta"]["targets.json"] = meta_of(&targets_file, targets_version);
        signed["meta"]["release-2.0.0.json"] = meta_of(role_file, 1);
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

fn plan(device: &Device, config: &Path) -> Value {
    let run = device
        .updater(&[
            "--config".as_ref(),
            config.as_os_str(),
            "plan".as_ref(),
            "--json".as_ref(),
        ])
        .ok();
    serde_json::from_str(run.stdout.trim()).unwrap()
}

#[test]
fn a_release_listed_only_by_its_delegated_role_is_planned_and_installed() {
    let s = scene(&policy_for("2.0.0", ""), "");
    move_release_to_delegated_role(&s, &["releases/2.0.0/*/*", "releases/2.0.0/*/*/*"]);
    let top = read_json(&listed_file(&s.repo.public().join("metadata"), "targets"));
    assert!(
        !top.to_string().contains("releases/2.0.0/armv7"),
        "the top-level role no longer lists 2.0.0"
    );

    let decision = plan(&s.device, &s.config);
    assert_eq!(decision["action"], "install", "{decision:#}");
    assert_eq!(decision["release"], "2.0.0", "{decision:#}");
    // The device fetched the release's role and kept it with its trusted metadata.
    assert!(s.device.metadata_dir.join("release-2.0.0.json").is_file());

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
    move_release_to_delegated_role(&s, &["releases/2.0.0/x86_64/*"]);
    let install = s.device.install_dir();
    let before = tree_state(&install);

    let decision = plan(&s.device, &s.config);
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
