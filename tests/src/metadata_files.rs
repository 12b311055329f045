//! Metadata files read, written and re-signed as an attacker holding keys would.

use std::path::Path;

use repo_tool::keys::PrivateKey;
use serde_json::Value;

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

/// The served metadata file of `role` at the version the current snapshot names (the
/// snapshot itself for "snapshot").
pub fn listed_file(metadata: &Path, role: &str) -> std::path::PathBuf {
    let timestamp = read_json(&metadata.join("timestamp.json"));
    let snapshot_version = &timestamp["signed"]["meta"]["snapshot.json"]["version"];
    let snapshot = metadata.join(format!("{snapshot_version}.snapshot.json"));
    if role == "snapshot" {
        return snapshot;
    }
    let version = &read_json(&snapshot)["signed"]["meta"][format!("{role}.json")]["version"];
    metadata.join(format!("{version}.{role}.json"))
}
