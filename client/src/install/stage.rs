//! Staging a release: verified downloads copied or unpacked into `.staging/<release>`,
//! checked again as they pass, then moved under `releases/` in one rename or exchange; and
//! pruning releases that no link names.

use std::fs::{self, File};
use std::io::Seek;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::*;
use crate::fs::sync_dir;
use crate::install::unpack::unpack_open;

impl Installer {
    /// Assembles `.staging/<release>` from verified copies and moves it to
    /// `releases/<release>`: by rename, or by an atomic exchange when a folder of that name
    /// is already there (it may be `previous`), so `releases/<release>` is never missing.
    pub(super) fn stage(
        &self,
        release: &Release,
        artifacts: &[Artifact],
    ) -> Result<(), InstallError> {
        let staging = self.staging_dir(release);
        let _ = fs::remove_dir_all(&staging);
        fs::create_dir_all(&staging).map_err(|e| io_err(staging.display(), e))?;
        let kinds = artifacts
            .iter()
            .map(|a| a.kind().map(|k| (a, k)))
            .collect::<Result<Vec<_>, _>>()?;
        let of_kind = |want: fn(ArtifactKind) -> bool| {
            kinds.iter().filter(move |(_, k)| want(*k)).map(|(a, _)| *a)
        };
        // Plain files and scripts first, each copied while its bytes are checked against the
        // index: the copy is what runs and what is installed, never the download re-read.
        for artifact in of_kind(|k| !matches!(k, ArtifactKind::Bundle(_))) {
            copy_checked(artifact, &staging.join(artifact.relative))?;
        }
        for script in of_kind(|k| k == ArtifactKind::PreInstall) {
            let path = staging.join(script.relative);
            let argv = vec!["/bin/sh".to_owned(), path.display().to_string()];
            let what = format!("pre-install script {}", script.relative);
            run_hook(&what, &argv, &[], &staging, self.hooks.timeout)?;
        }
        for (artifact, kind) in &kinds {
            if let ArtifactKind::Bundle(format) = kind {
                let verified = open_checked(artifact)?;
                unpack_open(verified, *format, &staging, self.limits)?;
            }
        }
        if let Some(argv) = &self.hooks.installer {
            for artifact in of_kind(|k| k == ArtifactKind::File) {
                let mut argv = argv.clone();
                argv.push(staging.join(artifact.relative).display().to_string());
                run_hook("installer hook", &argv, &[], &staging, self.hooks.timeout)?;
            }
        }
        // Everything staged reaches the disk before the folder can be switched to.
        sync_filesystem(&staging).map_err(|e| io_err(staging.display(), e))?;
        let dest = self.release_dir(release);
        if fs::symlink_metadata(&dest).is_ok() {
            rustix::fs::renameat_with(
                rustix::fs::CWD,
                &staging,
                rustix::fs::CWD,
                &dest,
                rustix::fs::RenameFlags::EXCHANGE,
            )
            .map_err(|e| io_err(dest.display(), e.into()))?;
            pause_point("exchanged");
            // The old copy is now in staging, named by nothing.
            let _ = fs::remove_dir_all(&staging);
        } else {
            fs::rename(&staging, &dest).map_err(|e| io_err(dest.display(), e))?;
        }
        sync_dir(&self.root.join("releases")).map_err(|e| io_err("releases", e))
    }

    /// Removes releases that neither `current` nor `previous` names. Only with no journal.
    pub(super) fn prune(&self) -> Result<(), InstallError> {
        if self.journal_path().exists() {
            return Ok(());
        }
        let keep: Vec<Release> = [self.link("current")?, self.link("previous")?]
            .into_iter()
            .flatten()
            .collect();
        let dir = self.root.join("releases");
        for entry in fs::read_dir(&dir).map_err(|e| io_err(dir.display(), e))? {
            let entry = entry.map_err(|e| io_err(dir.display(), e))?;
            let name = entry.file_name();
            let kept = keep.iter().any(|r| name.to_str() == Some(r.as_str()));
            if !kept {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
        Ok(())
    }
}

/// Copies a verified download into the release, checking its bytes as they pass, as a file
/// of the mode the index records (0644 or 0755). The mode is set on the created handle,
/// never by path, and does not depend on the umask.
fn copy_checked(artifact: &Artifact, dest: &Path) -> Result<(), InstallError> {
    let mode = artifact.mode()?;
    if let Some(parent) = dest.parent() {
        fs::create_dir_all(parent).map_err(|e| io_err(parent.display(), e))?;
    }
    let what = artifact.name.as_str();
    let (local, info) = artifact.installed_copy()?;
    let hash = TargetHash::for_target(what, &info)?;
    let mut input = crate::fs::open_regular(&local)?;
    let mut output = File::options()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| io_err(dest.display(), e))?;
    output
        .set_permissions(fs::Permissions::from_mode(mode.bits()))
        .map_err(|e| io_err(dest.display(), e))?;
    hash.check_copy(what, &local, &mut input, &mut output, &info)?;
    Ok(())
}

/// Opens a download and checks it still holds the verified bytes; returns the handle,
/// rewound, for unpacking exactly what was checked.
fn open_checked(artifact: &Artifact) -> Result<File, InstallError> {
    let what = artifact.name.as_str();
    let (local, info) = artifact.installed_copy()?;
    let hash = TargetHash::for_target(what, &info)?;
    let mut input = crate::fs::open_regular(&local)?;
    hash.check_copy(what, &local, &mut input, &mut io::sink(), &info)?;
    input.rewind().map_err(|e| io_err(local.display(), e))?;
    Ok(input)
}
