//! A whole folder tree as a value, so a negative test can compare everything where an
//! effect would land, before and after.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Every path under a folder with its mode and contents, as [`tree_state`] reads it.
pub type TreeState = BTreeMap<String, (u32, Vec<u8>)>;

/// Every file and folder under `dir` with its mode and content, to compare a tree before
/// and after a command that must leave it as it was.
pub fn tree_state(dir: &Path) -> TreeState {
    let mut state = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).expect("metadata");
            let rel = path
                .strip_prefix(dir)
                .expect("inside")
                .display()
                .to_string();
            let content = if meta.is_dir() {
                stack.push(path.clone());
                Vec::new()
            } else if meta.file_type().is_symlink() {
                std::fs::read_link(&path)
                    .expect("link")
                    .display()
                    .to_string()
                    .into_bytes()
            } else {
                std::fs::read(&path).expect("read")
            };
            state.insert(rel, (meta.permissions().mode(), content));
        }
    }
    state
}

/// Paths added, removed or changed between two states of a tree.
pub fn changed_paths(before: &TreeState, after: &TreeState) -> Vec<String> {
    let mut paths: Vec<String> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .cloned()
        .collect();
    paths.sort();
    paths.dedup();
    paths
}
