//! `repo`: builds, signs and checks a static TUF update repository, offline.
//!
//! This file only parses arguments and dispatches: each command is a file under
//! `commands/`, holding its arguments and returning its exit code.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::policy::PolicyCommand;
use commands::root::RootCommand;
use commands::EXIT_BAD_INPUT;

#[derive(Parser)]
#[command(
    name = "repo",
    version,
    about = "Build, sign and check a static TUF update repository, offline.",
    long_about = "Build, sign and check a static TUF update repository, offline.\n\n\
        A repository folder holds the admin's settings and staged (unsigned) index, and a \
        public/ folder that is what gets served: metadata/ and targets/.\n\n\
        Typical use (docs/guide.md has it all, three admins and devices included):\n  \
        repo keygen keys/root   (and targets, policy, snapshot, timestamp)\n  \
        repo init myrepo --key root=keys/root.pub --key targets=keys/targets.pub \\\n      \
        --key policy=keys/policy.pub --key snapshot=keys/snapshot.pub \\\n      \
        --key timestamp=keys/timestamp.pub --sign keys/root.pem\n  \
        repo add myrepo build/ --release 2.4.1 --platform armv7\n  \
        repo policy set myrepo policy.xml\n  \
        repo sign myrepo --key keys/targets.pem --key keys/policy.pem \\\n      \
        --key keys/snapshot.pem --key keys/timestamp.pem\n  \
        repo verify myrepo --root myrepo/public/metadata/1.root.json\n\n\
        Exit codes: 0 success; 1 the repository failed verification; 2 bad arguments or input; \
        3 a role expires within --warn-days; 4 done, but something staged is not yet visible \
        to devices (named on stderr). `status` and `verify` with --nagios use the monitoring-plugin \
        codes instead: 0 OK, 1 WARNING (expires within --warn-days), 2 CRITICAL (expired or \
        untrusted), 3 UNKNOWN (could not be read)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an ed25519 key pair: STEM.pem (private, PKCS#8, mode 0600) and STEM.pub.
    Keygen(commands::keygen::Args),
    /// Create a repository with a signed 1.root.json.
    Init(commands::init::Args),
    /// Stage every file of a release folder into the index (published by `repo sign`).
    Add(commands::add::Args),
    /// Sign and publish the staged index (with targets keys), the staged policy (with policy
    /// keys), or both, with a new snapshot and timestamp.
    Sign(commands::sign::Args),
    /// Check a rollout policy against the index, or stage it for `repo sign`.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Rotate keys: stage root N+1, merge signatures gathered on copies.
    #[command(subcommand)]
    Root(RootCommand),
    /// Merge the signatures gathered on a copy of this repository folder (a staged root,
    /// targets or policy signed by fewer keys than its threshold), and publish what is
    /// complete.
    Merge(commands::merge::Args),
    /// Write the served repository (every root, metadata, artifacts; never a key) as one
    /// .tar.gz for an air-gapped site; devices use it as a mirror as it is, or unpacked.
    Export(commands::export::Args),
    /// Copy a repository served at URL into the folder DEST, trusting ROOT; DEST changes
    /// only once the whole copy has verified.
    Mirror(commands::mirror::Args),
    /// Upload the served repository to object storage (s3://bucket/prefix, gs://, az://) or
    /// a folder (file:///path): artifacts first, timestamp.json last; unchanged files skipped.
    /// S3 settings come from AWS_* variables (AWS_ENDPOINT, AWS_ALLOW_HTTP for a local server).
    Publish(commands::publish::Args),
    /// Unstage a release (or one --platform of it) added by mistake and not signed yet: the
    /// repository is left as it was before `repo add`. A published release never changes:
    /// `repo retire` it instead.
    Remove(commands::remove::Args),
    /// Stage releases to leave the catalogue: the next `repo sign` with the targets keys
    /// removes their roles (devices never see a dangling one); their files stay served
    /// until `repo prune`.
    Retire(commands::retire::Args),
    /// Remove metadata versions older than the newest --keep of each role (roots stay),
    /// roles no longer listed, and the files of retired releases.
    Prune(commands::prune::Args),
    /// Re-sign only the timestamp (new version, fresh expiry), for a scheduled job.
    Timestamp(commands::timestamp::Args),
    /// Verify a served repository as a device would: every signature, threshold, version,
    /// expiry, and every artifact's length and hashes.
    Verify(commands::verify::Args),
    /// Show each role's version, expiry and signatures present and missing, and a staged
    /// root's progress. Exit 3 if a role expires within --warn-days, 1 if one has expired
    /// (--nagios: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN). --json: one object (docs/json.md).
    Status(commands::status::Args),
    /// Print the shell completion script for SHELL on stdout (bash: save it as
    /// /usr/share/bash-completion/completions/repo; scripts/install-docs.sh does it).
    Completions(commands::docs::CompletionsArgs),
    /// Write one man page per command and subcommand into DIR (repo.1, repo-status.1, ...).
    Manpage(commands::docs::ManpageArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let done = match cli.command {
        Command::Keygen(args) => commands::keygen::run(args),
        Command::Init(args) => commands::init::run(args),
        Command::Add(args) => commands::add::run(args),
        Command::Sign(args) => commands::sign::run(args),
        Command::Policy(command) => commands::policy::run(command),
        Command::Root(command) => commands::root::run(command),
        Command::Merge(args) => commands::merge::run(args),
        Command::Export(args) => commands::export::run(args),
        Command::Mirror(args) => commands::mirror::run(args),
        Command::Publish(args) => commands::publish::run(args),
        Command::Timestamp(args) => commands::timestamp::run(args),
        Command::Remove(args) => commands::remove::run(args),
        Command::Retire(args) => commands::retire::run(args),
        Command::Prune(args) => commands::prune::run(args),
        Command::Verify(args) => commands::verify::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Completions(args) => commands::docs::completions(args),
        Command::Manpage(args) => commands::docs::manpage(args),
    };
    match done {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}
