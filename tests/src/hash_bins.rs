//! A repository whose top-level targets role delegates to many bins, built on a signed demo
//! repository as `repo` cannot yet write delegations: each bin a role signed with the example
//! targets key, listing one small artifact of its own, then targets, snapshot and timestamp
//! version 2 naming them all.

use std::path::Path;

use repo_tool::keys::PrivateKey;
use serde_json::{json, Value};
use updater::conventions::served::served_names;
use updater::hash::{Sha256, Sha512};
use updater::metadata::TargetInfo;
use updater::names::TargetName;

use crate::demo_repo::{example_key, DemoRepo};
use crate::metadata_files::read_json;

/// The name of bin `i`.
pub fn bin_role(i: usize) -> String {
    format!("bin-{i:04}")
}

/// What timestamp or snapshot lists for the metadata file at `path`.
pub fn meta_of(path: &Path, version: u64) -> Value {
    let bytes = std::fs::read(path).expect("read metadata");
    json!({
        "version": version,
        "length": bytes.len(),
        "hashes": {
            "sha256": Sha256::digest(&bytes).to_hex(),
            "sha512": Sha512::digest(&bytes).to_hex(),
        }
    })
}

fn sign(signed: Value, key: &PrivateKey) -> Vec<u8> {
    repo_tool::signer::sign_value(signed, &[key]).expect("sign")
}

/// Writes `bytes` under every name a server stores target `name` by (as `repo` does).
fn serve_artifact(repo: &DemoRepo, name: &str, bytes: &[u8]) -> Value {
    let info = json!({
        "length": bytes.len(),
        "hashes": {
            "sha256": Sha256::digest(bytes).to_hex(),
            "sha512": Sha512::digest(bytes).to_hex(),
        }
    });
    let parsed: TargetInfo = serde_json::from_value(info.clone()).expect("target info");
    let target = TargetName::new(name).expect("target name");
    for served in served_names(&target, &parsed.hashes) {
        let path = repo.public().join("targets").join(served);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("mkdir");
        std::fs::write(path, bytes).expect("write artifact");
    }
    info
}

/// A signed demo repository (release 1.0.0, 8 artifacts) whose targets version 2 delegates
/// to `bins` roles, bin `i` covering `bins/NNNN/*` and listing `bins/NNNN/f.bin`.
pub fn repo_with_bins(bins: usize) -> DemoRepo {
    let repo = DemoRepo::signed();
    let targets_key = PrivateKey::load(&example_key("targets.pem")).expect("targets key");
    let root = read_json(&repo.root_json());
    let keyid = root["signed"]["roles"]["targets"]["keyids"][0].clone();
    let key = root["signed"]["keys"][keyid.as_str().expect("key id")].clone();
    let mut targets = read_json(&repo.metadata("1.targets.json"))["signed"].take();
    let expires = targets["expires"].clone();

    // The repository's own delegations (the slot of release 1.0.0) stay, the bins follow.
    let mut roles: Vec<Value> = targets["delegations"]["roles"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let mut keys = targets["delegations"]["keys"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    keys.insert(keyid.as_str().expect("key id").to_owned(), key);
    let mut snapshot_meta = read_json(&repo.metadata("1.snapshot.json"))["signed"]["meta"]
        .as_object()
        .cloned()
        .expect("snapshot meta");
    for i in 0..bins {
        let role = bin_role(i);
        let name = format!("bins/{i:04}/f.bin");
        let info = serve_artifact(&repo, &name, format!("bin {i}\n").as_bytes());
        let body = json!({
            "_type": "targets", "spec_version": "1.0.31", "version": 1,
            "expires": expires, "targets": { name: info },
        });
        let path = repo.metadata(&format!("1.{role}.json"));
        std::fs::write(&path, sign(body, &targets_key)).expect("write bin");
        snapshot_meta.insert(format!("{role}.json"), meta_of(&path, 1));
        roles.push(json!({
            "name": role, "keyids": [keyid], "threshold": 1, "terminating": false,
            "paths": [format!("bins/{i:04}/*")],
        }));
    }
    targets["version"] = 2.into();
    targets["delegations"] = json!({ "keys": keys, "roles": roles });
    let path = repo.metadata("2.targets.json");
    std::fs::write(&path, sign(targets, &targets_key)).expect("write targets");
    snapshot_meta.insert("targets.json".into(), meta_of(&path, 2));

    let mut snapshot = read_json(&repo.metadata("1.snapshot.json"))["signed"].take();
    snapshot["version"] = 2.into();
    snapshot["meta"] = Value::Object(snapshot_meta);
    let snapshot_key = PrivateKey::load(&example_key("snapshot.pem")).expect("snapshot key");
    let path = repo.metadata("2.snapshot.json");
    std::fs::write(&path, sign(snapshot, &snapshot_key)).expect("write snapshot");

    let mut timestamp = read_json(&repo.metadata("timestamp.json"))["signed"].take();
    timestamp["version"] = 2.into();
    timestamp["meta"] = json!({ "snapshot.json": meta_of(&path, 2) });
    let timestamp_key = PrivateKey::load(&example_key("timestamp.pem")).expect("timestamp key");
    std::fs::write(
        repo.metadata("timestamp.json"),
        sign(timestamp, &timestamp_key),
    )
    .expect("write timestamp");
    repo
}

/// Lists the served `N.ROLE.json` file as it now is in the current snapshot (same versions,
/// re-signed with the example snapshot and timestamp keys), as an attacker holding those
/// keys would: the device's checks past snapshot's length and hashes are then reached.
pub fn relist_in_snapshot(repo: &DemoRepo, file: &str) {
    let (version, role) = file.split_once('.').expect("N.ROLE.json");
    let version: u64 = version.parse().expect("a version");
    let timestamp_path = repo.metadata("timestamp.json");
    let snapshot_version = read_json(&timestamp_path)["signed"]["meta"]["snapshot.json"]["version"]
        .as_u64()
        .expect("snapshot version");
    let snapshot_path = repo.metadata(&format!("{snapshot_version}.snapshot.json"));
    let listed = meta_of(&repo.metadata(file), version);
    crate::metadata_files::resign(&snapshot_path, &[&example_key("snapshot.pem")], |s| {
        s["meta"][role] = listed;
    });
    let listed = meta_of(&snapshot_path, snapshot_version);
    crate::metadata_files::resign(&timestamp_path, &[&example_key("timestamp.pem")], |t| {
        t["meta"]["snapshot.json"] = listed;
    });
}
