//! File modes of plain artifacts: `repo add` records each file's mode in the signed index
//! (`custom.mode`, `"0644"` or `"0755"`), and the device creates the file with it, so a
//! health-check script shipped as a file can run. Only these two modes exist: a file that
//! anyone may execute becomes `0755`, any other `0644`; never setuid, setgid or sticky, never
//! writable by group or others, whatever the source file's bits or the index say.
//!
//! An index without `custom.mode` (older repositories, python-tuf-made ones) means `0644`,
//! what devices always did. A mode outside the two is refused by the device, with one
//! sentence ([`ModeError`]).

use crate::metadata::TargetInfo;
use crate::names::TargetName;

/// The mode a plain artifact is installed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileMode {
    /// `0644`: read by all, written by the owner.
    Data,
    /// `0755`: also executed by all.
    Executable,
}

/// An index entry whose `custom.mode` is not one a device installs.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{name}: the index gives it file mode {mode}, which devices do not install (only \"0644\" \
     and \"0755\"); not installed: publish it under a new release number with `repo add`, \
     which records one of those"
)]
pub struct ModeError {
    pub name: String,
    pub mode: String,
}

impl FileMode {
    /// The mode `repo add` records for a source file with permission bits `bits`: executable
    /// if anyone may execute it, else data. Every other bit is dropped.
    pub fn of_permissions(bits: u32) -> Self {
        if bits & 0o111 != 0 {
            FileMode::Executable
        } else {
            FileMode::Data
        }
    }

    /// The mode the index lists for `name` (`custom.mode`; none means `0644`).
    pub fn listed(name: &TargetName, info: &TargetInfo) -> Result<Self, ModeError> {
        match info.custom.as_ref().and_then(|c| c.get("mode")) {
            None => Ok(FileMode::Data),
            Some(serde_json::Value::String(mode)) if mode == "0644" => Ok(FileMode::Data),
            Some(serde_json::Value::String(mode)) if mode == "0755" => Ok(FileMode::Executable),
            Some(other) => Err(ModeError {
                name: name.as_str().to_owned(),
                mode: other.to_string(),
            }),
        }
    }

    /// The permission bits the device creates the file with.
    pub fn bits(self) -> u32 {
        match self {
            FileMode::Data => 0o644,
            FileMode::Executable => 0o755,
        }
    }

    /// What the index records (`custom.mode`).
    pub fn as_str(self) -> &'static str {
        match self {
            FileMode::Data => "0644",
            FileMode::Executable => "0755",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(mode: Option<serde_json::Value>) -> TargetInfo {
        let mut custom = serde_json::json!({"kind": "file"});
        if let Some(mode) = mode {
            custom["mode"] = mode;
        }
        TargetInfo {
            length: 0,
            hashes: Default::default(),
            custom: Some(custom.into()),
        }
    }

    #[test]
    fn only_the_execute_bits_count_and_nothing_special_survives() {
        for (bits, mode) in [
            (0o644, FileMode::Data),
            (0o600, FileMode::Data),
            (0o666, FileMode::Data),
            (0o4644, FileMode::Data),
            (0o755, FileMode::Executable),
            (0o700, FileMode::Executable),
            (0o701, FileMode::Executable),
            (0o6777, FileMode::Executable),
            (0o1777, FileMode::Executable),
        ] {
            assert_eq!(FileMode::of_permissions(bits), mode, "{bits:o}");
        }
        assert_eq!(FileMode::Executable.bits(), 0o755);
        assert_eq!(FileMode::Data.bits(), 0o644);
    }

    #[test]
    fn what_repo_add_records_the_device_reads_back() {
        let name = TargetName::new("releases/1.0.0/armv7/check.sh").unwrap();
        for mode in [FileMode::Data, FileMode::Executable] {
            let listed = FileMode::listed(&name, &info(Some(mode.as_str().into())));
            assert_eq!(listed, Ok(mode));
        }
        // Older indexes have no mode: 0644, as devices always installed.
        assert_eq!(FileMode::listed(&name, &info(None)), Ok(FileMode::Data));
    }

    #[test]
    fn device_refuses_other_modes() {
        let name = TargetName::new("releases/1.0.0/armv7/check.sh").unwrap();
        for mode in [
            serde_json::json!("4755"),
            serde_json::json!("0777"),
            serde_json::json!("755"),
            serde_json::json!(493),
        ] {
            let refused = FileMode::listed(&name, &info(Some(mode.clone())));
            assert_eq!(
                refused,
                Err(ModeError {
                    name: name.as_str().to_owned(),
                    mode: mode.to_string()
                })
            );
        }
        assert_eq!(
            FileMode::listed(&name, &info(Some("0777".into())))
                .unwrap_err()
                .to_string(),
            "releases/1.0.0/armv7/check.sh: the index gives it file mode \"0777\", which \
             devices do not install (only \"0644\" and \"0755\"); not installed: publish it \
             under a new release number with `repo add`, which records one of those"
        );
    }
}
