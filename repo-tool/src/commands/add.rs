//! `repo add`: stages a release folder into the index and says what was staged.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use repo_tool::add::{add, Release};
use repo_tool::encrypt::{AdminIdentity, Encryption, Recipients};
use repo_tool::workspace::Workspace;

#[derive(clap::Args)]
pub(crate) struct Args {
    /// The repository folder.
    repo: PathBuf,
    /// Folder of release files; its layout is kept under releases/RELEASE/PLATFORM/.
    dir: PathBuf,
    /// Release version, e.g. 2.4.1.
    #[arg(long)]
    release: String,
    /// Platform the files are for, e.g. armv7.
    #[arg(long)]
    platform: String,
    /// Encrypt every file to the recipients listed in FILE (age's recipients format: one
    /// `age1…` per line, `#` comment lines naming the devices or groups): only those devices
    /// can read or install the release. The index covers the ciphertext and records each
    /// plaintext's length and SHA-512. Leave a device out of later releases to revoke it.
    #[arg(long, value_name = "FILE")]
    encrypt_to: Option<PathBuf>,
    /// The folder's files are age files already (encrypted by `age -R` or a build
    /// pipeline; a trailing `.age` is dropped from their names): stored as they are, and
    /// opened with IDENTITY (an age identity file of one of their recipients, e.g. the
    /// release admins' escrow key) only to record each plaintext's length and SHA-512.
    #[arg(long, value_name = "IDENTITY", conflicts_with = "encrypt_to")]
    already_encrypted: Option<PathBuf>,
    /// No progress bar, even on a terminal.
    #[arg(long, short)]
    quiet: bool,
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let Args {
        repo,
        dir,
        release,
        platform,
        encrypt_to,
        already_encrypted,
        quiet,
    } = args;
    let release_labels = Release::new(&release, &platform)?;
    let recipients = encrypt_to.as_deref().map(Recipients::read).transpose()?;
    let identity = already_encrypted
        .as_deref()
        .map(AdminIdentity::read)
        .transpose()?;
    let encryption = match (&recipients, &identity) {
        (Some(recipients), _) => Encryption::To(recipients),
        (None, Some(identity)) => Encryption::Already(identity),
        (None, None) => Encryption::None,
    };
    let summary = add(
        &Workspace::new(&repo),
        &dir,
        &release_labels,
        encryption,
        quiet,
    )?;
    let encrypted = match encryption {
        Encryption::To(r) => format!(", encrypted to {} recipient(s)", r.count()),
        Encryption::Already(_) => ", encrypted beforehand".to_owned(),
        Encryption::None => String::new(),
    };
    if summary.already_present {
        println!("release {release} for {platform} is already in the repository (staged or published) with the same bytes; nothing changed");
    } else {
        println!(
            "staged release {release} for {platform}: {} file(s), {} bytes{encrypted}; run `repo sign` to publish",
            summary.files, summary.bytes
        );
    }
    Ok(ExitCode::SUCCESS)
}
