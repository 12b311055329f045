//! `repo`: builds, signs and checks a static TUF update repository, offline.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Parser, Subcommand};
use repo_tool::add::{add, Release};
use repo_tool::init::{init, FirstRoot, InitConfig, ROLES};
use repo_tool::keys::{generate, PrivateKey};
use repo_tool::period::Period;
use repo_tool::sign::{sign, SignOptions};
use repo_tool::status::status;
use repo_tool::verify_repo::{served_dir, verify_repository};
use repo_tool::workspace::Workspace;
use updater::datetime::UtcTime;
use updater::metadata::Version;

/// Exit code when the repository fails verification.
const EXIT_UNTRUSTED: u8 = 1;
/// Exit code for bad arguments or input that could not be used.
const EXIT_BAD_INPUT: u8 = 2;
/// A role expires within the warning window: for monitoring checks.
const EXIT_EXPIRING: u8 = 3;
/// `repo sign`/`merge` published what it could, but staged work is still not visible to
/// devices (the message says what and how to finish it).
const EXIT_UNFINISHED: u8 = 4;

/// Says what devices do not see yet, if anything, and returns the exit code for it.
fn unfinished_exit(ws: &Workspace) -> Result<ExitCode> {
    let left = repo_tool::unfinished::unfinished(ws)?;
    if left.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    for line in &left {
        eprintln!("not finished: {line}");
    }
    Ok(ExitCode::from(EXIT_UNFINISHED))
}

/// Prints a warning for each role expired or expiring within `warn_days` of `now`, and
/// returns the exit code a monitoring check should see.
fn expiry_warnings<'a>(
    roles: impl Iterator<Item = (&'a str, UtcTime)>,
    now: UtcTime,
    warn_days: i64,
) -> Option<u8> {
    let horizon = now.plus_seconds(warn_days.saturating_mul(86_400));
    let mut code = None;
    for (role, expires) in roles {
        if expires <= now {
            eprintln!("error: {role} expired at {expires}");
            code = Some(EXIT_UNTRUSTED);
        } else if expires <= horizon {
            let minutes = (expires.unix() - now.unix()) / 60;
            eprintln!(
                "warning: {role} expires at {expires} (in {}h{:02}m): re-sign it",
                minutes / 60,
                minutes % 60
            );
            code = code.or(Some(EXIT_EXPIRING));
        }
    }
    code
}

#[derive(Parser)]
#[command(
    name = "repo",
    version,
    about = "Build, sign and check a static TUF update repository, offline.",
    long_about = "Build, sign and check a static TUF update repository, offline.\n\n\
        A repository folder holds the admin's settings and staged (unsigned) index, and a \
        public/ folder that is what gets served: metadata/ and targets/.\n\n\
        Typical use (the README's Workflow has it all, three admins and devices included):\n  \
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
        to devices (named on stderr)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an ed25519 key pair: STEM.pem (private, PKCS#8, mode 0600) and STEM.pub.
    Keygen {
        /// Path and name of the key files, without extension (e.g. keys/targets).
        stem: PathBuf,
    },
    /// Create a repository with a signed 1.root.json.
    Init {
        /// Folder to create (must not exist, or be empty).
        repo: PathBuf,
        /// TOML file with a [roles.NAME] table per role: keys, threshold, expires.
        #[arg(long)]
        config: Option<PathBuf>,
        /// A key for a role, as ROLE=FILE (public or private PEM); repeat for several.
        #[arg(long = "key", value_name = "ROLE=FILE")]
        keys: Vec<String>,
        /// Signature threshold for a role, as ROLE=N (default 1).
        #[arg(long = "threshold", value_name = "ROLE=N")]
        thresholds: Vec<String>,
        /// Expiry period for a role, as ROLE=PERIOD such as timestamp=1d (defaults: root 365d,
        /// targets 90d, snapshot 7d, timestamp 1d).
        #[arg(long = "expires", value_name = "ROLE=PERIOD")]
        expires: Vec<String>,
        /// Private root key(s) to sign 1.root.json with; must meet the root threshold.
        #[arg(long = "sign", value_name = "KEY", required = true)]
        sign: Vec<PathBuf>,
    },
    /// Stage every file of a release folder into the index (published by `repo sign`).
    Add {
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
        /// No progress bar, even on a terminal.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Sign and publish the staged index (with targets keys), the staged policy (with policy
    /// keys), or both, with a new snapshot and timestamp.
    Sign {
        /// The repository folder.
        repo: PathBuf,
        /// Private key file(s): targets and/or policy keys meeting their thresholds, plus
        /// snapshot and timestamp keys.
        #[arg(long = "key", value_name = "KEY", required = true)]
        keys: Vec<PathBuf>,
        /// Sign even though root expires before the metadata signed now (an expired root
        /// is always refused).
        #[arg(long)]
        force: bool,
    },
    /// Check a rollout policy against the index, or stage it for `repo sign`.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Rotate keys: stage root N+1, merge signatures gathered on copies.
    #[command(subcommand)]
    Root(RootCommand),
    /// Merge the signatures gathered on a copy of this repository folder (a staged root,
    /// targets or policy signed by fewer keys than its threshold), and publish what is
    /// complete.
    Merge {
        /// The repository folder.
        repo: PathBuf,
        /// The other copy of the repository folder.
        other: PathBuf,
    },
    /// Write the served repository (every root, metadata, artifacts; never a key) as one
    /// .tar.gz for an air-gapped site; devices use it as a mirror as it is, or unpacked.
    Export {
        /// The repository folder.
        repo: PathBuf,
        /// The archive to write (.tar.gz or .tgz).
        #[arg(long)]
        out: PathBuf,
        /// Sign a snapshot and timestamp for this archive only, valid this long (e.g. 90d), so
        /// the site's devices keep expiry checks on; needs the snapshot and timestamp keys.
        /// Refused if root, targets or the policy expire sooner. The served repository is
        /// not changed.
        #[arg(long, value_name = "PERIOD", requires = "keys")]
        valid_for: Option<String>,
        /// Snapshot and timestamp private key(s) for --valid-for.
        #[arg(long = "key", alias = "timestamp-key", value_name = "KEY")]
        keys: Vec<PathBuf>,
        /// Only the artifacts of the newest N releases (all metadata still goes in).
        #[arg(long, value_name = "N")]
        releases: Option<usize>,
    },
    /// Copy a repository served at URL into the folder DEST, trusting ROOT; DEST changes
    /// only once the whole copy has verified.
    Mirror {
        /// The upstream repository's base URL (holding metadata/ and targets/).
        url: String,
        /// The folder to write (replaced as a whole).
        dest: PathBuf,
        /// The root.json to trust.
        #[arg(long)]
        root: PathBuf,
    },
    /// Upload the served repository to object storage (s3://bucket/prefix, gs://, az://) or
    /// a folder (file:///path): artifacts first, timestamp.json last; unchanged files skipped.
    /// S3 settings come from AWS_* variables (AWS_ENDPOINT, AWS_ALLOW_HTTP for a local server).
    Publish {
        /// The repository folder.
        repo: PathBuf,
        /// Where to: s3://BUCKET/PREFIX, gs://..., az://..., file:///PATH.
        url: String,
    },
    /// Re-sign only the timestamp (new version, fresh expiry), for a scheduled job.
    Timestamp {
        /// The repository folder.
        repo: PathBuf,
        /// Timestamp private key(s), meeting its threshold.
        #[arg(long = "key", value_name = "KEY", required = true)]
        keys: Vec<PathBuf>,
    },
    /// Verify a served repository as a device would: every signature, threshold, version,
    /// expiry, and every artifact's length and hashes.
    Verify {
        /// The repository folder (or its public/ folder, or any served copy).
        repo: PathBuf,
        /// The root.json to trust, obtained out of band (e.g. the one devices ship with).
        #[arg(long)]
        root: PathBuf,
        /// Judge expiry at this time (YYYY-MM-DDTHH:MM:SSZ) instead of now, e.g. to check that
        /// the repository will still be valid when a release ships.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// No progress bar, even on a terminal.
        #[arg(long, short)]
        quiet: bool,
        /// Warn (and exit 3) when a role expires within this many days (default 0: only
        /// expired roles are reported, with exit 1).
        #[arg(long, default_value_t = 0, value_name = "DAYS")]
        warn_days: i64,
    },
    /// Show each role's version, expiry and signatures present and missing, and a staged
    /// root's progress. Exit 3 if a role expires within --warn-days, 1 if one has expired.
    Status {
        /// The repository folder.
        repo: PathBuf,
        /// Warn (and exit 3) when a role expires within this many days (default 0: only
        /// expired roles are reported, with exit 1).
        #[arg(long, default_value_t = 0, value_name = "DAYS")]
        warn_days: i64,
    },
}

#[derive(Subcommand)]
enum RootCommand {
    /// Stage root N+1 from the newest root (or edit the staged one): add or remove keys of
    /// any role, change thresholds. Admins then sign it with `repo sign --key ROOT_KEY`; it
    /// is published once a threshold of the current root keys and of its own have signed.
    Edit {
        /// The repository folder.
        repo: PathBuf,
        /// Add a key to a role, as ROLE=FILE (public or private PEM).
        #[arg(long = "add-key", value_name = "ROLE=FILE")]
        add: Vec<String>,
        /// Remove a key from a role, as ROLE=FILE or ROLE=KEYID (a prefix will do).
        #[arg(long = "remove-key", value_name = "ROLE=KEY")]
        remove: Vec<String>,
        /// A role's new threshold, as ROLE=N.
        #[arg(long = "threshold", value_name = "ROLE=N")]
        thresholds: Vec<String>,
        /// How long the new root stays valid (default: repo.toml's root expiry).
        #[arg(long, value_name = "PERIOD")]
        expires: Option<String>,
    },
    /// Add the signatures of another copy of the staged root (a root.json, or a copy of the
    /// repository folder) and publish it if it is now complete.
    Merge {
        /// The repository folder.
        repo: PathBuf,
        /// The other copy: a staged root.json or a repository folder.
        other: PathBuf,
    },
}

#[derive(Subcommand)]
enum PolicyCommand {
    /// Validate FILE (syntax, and every release it names is in REPO's staged index) and
    /// preview, per channel, which share of the fleet is eligible from when. Exit 1 if the
    /// policy is refused.
    Check {
        /// The repository folder.
        repo: PathBuf,
        /// The policy.xml to check.
        file: PathBuf,
    },
    /// Check FILE as `check` does, then stage it as REPO's policy; `repo sign` with the
    /// policy key(s) publishes it.
    Set {
        /// The repository folder.
        repo: PathBuf,
        /// The policy.xml to stage.
        file: PathBuf,
    },
    /// Change the policy role's keys or threshold (to revoke a compromised policy key). The
    /// change is staged in the index: publish it with `repo sign` and the targets keys (and
    /// re-sign the policy with the new policy key at the same time).
    Keys {
        /// The repository folder.
        repo: PathBuf,
        /// A policy key to add (public or private PEM).
        #[arg(long = "add-key", value_name = "FILE")]
        add: Vec<PathBuf>,
        /// A policy key to remove: its file or its key id (a prefix will do).
        #[arg(long = "remove-key", value_name = "KEY")]
        remove: Vec<String>,
        /// The policy role's new threshold.
        #[arg(long)]
        threshold: Option<u32>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(EXIT_BAD_INPUT)
        }
    }
}

fn split_assignment(text: &str) -> Result<(String, String)> {
    let (role, value) = text
        .split_once('=')
        .ok_or_else(|| anyhow!("{text:?} must be ROLE=VALUE"))?;
    if !ROLES.contains(&role) {
        return Err(anyhow!(
            "unknown role {role:?}: roles are root, targets, snapshot, timestamp and policy"
        ));
    }
    Ok((role.to_owned(), value.to_owned()))
}

fn load_private_keys(paths: &[PathBuf]) -> Result<Vec<PrivateKey>> {
    paths
        .iter()
        .map(|p| PrivateKey::load(p).map_err(Into::into))
        .collect()
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Keygen { stem } => {
            let (private, public, id) = generate(&stem)?;
            println!(
                "wrote {} (private, keep offline) and {}\nkey id {id}",
                private.display(),
                public.display()
            );
        }
        Command::Init {
            repo,
            config,
            keys,
            thresholds,
            expires,
            sign,
        } => {
            let mut config = match config {
                Some(path) => InitConfig::load(&path)?,
                None => InitConfig::default(),
            };
            for text in &keys {
                let (role, path) = split_assignment(text)?;
                config.roles.entry(role).or_default().keys.push(path.into());
            }
            for text in &thresholds {
                let (role, n) = split_assignment(text)?;
                let n = n
                    .parse()
                    .with_context(|| format!("threshold {n:?} is not a number"))?;
                config.roles.entry(role).or_default().threshold = Some(n);
            }
            for text in &expires {
                let (role, period) = split_assignment(text)?;
                let period: Period = period.parse().map_err(|e: String| anyhow!(e))?;
                config.roles.entry(role).or_default().expires = Some(period);
            }
            let signing = load_private_keys(&sign)?;
            let ws = Workspace::new(&repo);
            match init(&ws, &config, &signing)? {
                FirstRoot::Published => println!(
                    "created {} with metadata/1.root.json; serve {}",
                    repo.display(),
                    ws.public_dir().display()
                ),
                FirstRoot::Staged { missing } => {
                    println!(
                        "created {} with root version 1 staged: it needs {missing} more root signature(s). Copy the folder to each other root admin, who runs `repo sign COPY --key THEIR_ROOT_KEY`; then `repo merge {} COPY` publishes it",
                        repo.display(),
                        repo.display()
                    );
                    return unfinished_exit(&ws);
                }
            }
        }
        Command::Add {
            repo,
            dir,
            release,
            platform,
            quiet,
        } => {
            let summary = add(
                &Workspace::new(&repo),
                &dir,
                &Release::new(&release, &platform)?,
                quiet,
            )?;
            if summary.already_present {
                println!("release {release} for {platform} is already staged with the same bytes; nothing changed");
            } else {
                println!(
                    "staged release {release} for {platform}: {} file(s), {} bytes; run `repo sign` to publish",
                    summary.files, summary.bytes
                );
            }
        }
        Command::Sign { repo, keys, force } => {
            let keys = load_private_keys(&keys)?;
            let ws = Workspace::new(&repo);
            for line in sign(&ws, &keys, SignOptions { force })? {
                println!("{line}");
            }
            return unfinished_exit(&ws);
        }
        Command::Verify {
            repo,
            root,
            at,
            quiet,
            warn_days,
        } => {
            let root_bytes = updater::fs::read_bounded(&root, updater::limits::MAX_ROOT_BYTES)?;
            let now = match at {
                Some(text) => UtcTime::parse(&text).map_err(|e| anyhow!(e))?,
                None => UtcTime::now(),
            };
            let served = served_dir(&repo);
            match verify_repository(&served, &root_bytes, now, quiet) {
                Err(e) => {
                    eprintln!(
                        "error: repository {} is not trustworthy: {e}",
                        served.display()
                    );
                    return Ok(ExitCode::from(EXIT_UNTRUSTED));
                }
                Ok(report) => {
                    for (role, version, expires) in &report.roles {
                        println!(
                            "{:<12} version {version:<5} expires {expires}",
                            role.as_str()
                        );
                    }
                    if !report.bad_artifacts.is_empty() {
                        for e in &report.bad_artifacts {
                            eprintln!("error: {e}");
                        }
                        eprintln!(
                            "error: {} of {} artifacts failed verification",
                            report.bad_artifacts.len(),
                            report.artifacts
                        );
                        return Ok(ExitCode::from(EXIT_UNTRUSTED));
                    }
                    println!(
                        "ok: {} artifact(s), {} bytes, every signature, version, expiry and hash verified",
                        report.artifacts, report.bytes
                    );
                    let roles = report.roles.iter().map(|(r, _, e)| (r.as_str(), *e));
                    if let Some(code) = expiry_warnings(roles, now, warn_days) {
                        return Ok(ExitCode::from(code));
                    }
                }
            }
        }
        Command::Root(RootCommand::Edit {
            repo,
            add,
            remove,
            thresholds,
            expires,
        }) => {
            let mut change = repo_tool::rotate::RootEdit::default();
            for text in &add {
                let (role, path) = split_assignment(text)?;
                change.add.push((role, path.into()));
            }
            for text in &remove {
                let (role, key) = split_assignment(text)?;
                change.remove.push((role, key));
            }
            for text in &thresholds {
                let (role, n) = split_assignment(text)?;
                let n = n
                    .parse()
                    .with_context(|| format!("threshold {n:?} is not a number"))?;
                change.thresholds.push((role, n));
            }
            if let Some(period) = expires {
                change.expires = Some(period.parse().map_err(|e: String| anyhow!(e))?);
            }
            let root = repo_tool::rotate::edit(&Workspace::new(&repo), &change)?;
            println!(
                "staged root version {} (expires {}); sign it with `repo sign {} --key ROOT_KEY` (a threshold of the current root keys and of its own)",
                root.version,
                root.expires,
                repo.display()
            );
        }
        Command::Root(RootCommand::Merge { repo, other }) | Command::Merge { repo, other } => {
            let ws = Workspace::new(&repo);
            let added = if other.is_dir() {
                repo_tool::sign::merge(&ws, &other)?
            } else {
                repo_tool::rotate::merge(&ws, &other)?
            };
            println!("merged {added} signature(s)");
            // Publish what is now complete (without snapshot and timestamp keys, a complete
            // targets or policy waits for the next `repo sign` with them).
            let pending = ["root.json", "targets.signed.json", "policy.signed.json"]
                .iter()
                .any(|f| ws.staged_dir().join(f).exists());
            if pending {
                for line in sign(&ws, &[], SignOptions::default())? {
                    println!("{line}");
                }
            }
            return unfinished_exit(&ws);
        }
        Command::Export {
            repo,
            out,
            valid_for,
            keys,
            releases,
        } => {
            let ws = Workspace::new(&repo);
            let mut expiries = repo_tool::archive_metadata::published_expiries(&ws)?;
            let done = match valid_for {
                Some(period) => {
                    let period: Period = period.parse().map_err(|e: String| anyhow!(e))?;
                    let keys = load_private_keys(&keys)?;
                    let fresh =
                        repo_tool::archive_metadata::resign_for_archive(&ws, &keys, period)?;
                    // Recorded first, so that the online repository's next versions go past
                    // these even if the archive is later lost; put back if it is not written.
                    let before = ws.exported_versions_file().exists();
                    let recorded = ws.exported_versions()?;
                    ws.write_exported_versions(Some(fresh.versions))?;
                    let done = repo_tool::export::export(&ws, &out, releases, &fresh.files);
                    if done.is_err() {
                        let _ = ws.write_exported_versions(before.then_some(recorded));
                    }
                    let until = UtcTime::now().plus_seconds(period.seconds());
                    for role in expiries.iter_mut() {
                        match role.role.as_str() {
                            "snapshot" => {
                                role.version = Version::new(fresh.versions.snapshot)
                                    .context("snapshot version")?;
                                role.expires = until;
                            }
                            "timestamp" => {
                                role.version = Version::new(fresh.versions.timestamp)
                                    .context("timestamp version")?;
                                role.expires = until;
                            }
                            _ => {}
                        }
                    }
                    done?
                }
                None => repo_tool::export::export(&ws, &out, releases, &[])?,
            };
            println!(
                "wrote {}: {} files, {} bytes before compression",
                out.display(),
                done.files,
                done.bytes
            );
            let first = expiries.iter().map(|r| r.expires).min();
            for role in &expiries {
                println!(
                    "  {:<10} version {:<5} expires {}",
                    role.role, role.version, role.expires
                );
            }
            if let Some(first) = first {
                println!("devices accept this archive until {first}");
            }
        }
        Command::Mirror { url, dest, root } => {
            let root_bytes = updater::fs::read_bounded(&root, updater::limits::MAX_ROOT_BYTES)?;
            match repo_tool::mirror::mirror(&url, &dest, &root_bytes) {
                Ok(done) => println!(
                    "mirrored {url} into {}: {} metadata files, {} artifacts, all verified",
                    dest.display(),
                    done.metadata,
                    done.artifacts
                ),
                Err(e) => {
                    eprintln!(
                        "error: {url} was not mirrored ({} is unchanged): {e:#}",
                        dest.display()
                    );
                    return Ok(ExitCode::from(EXIT_UNTRUSTED));
                }
            }
        }
        Command::Publish { repo, url } => {
            let done = repo_tool::publish::publish(&Workspace::new(&repo), &url)?;
            println!(
                "published to {url}: {} uploaded, {} already there",
                done.uploaded, done.skipped
            );
        }
        Command::Timestamp { repo, keys } => {
            let keys = load_private_keys(&keys)?;
            let version = repo_tool::sign::timestamp_only(&Workspace::new(&repo), &keys)?;
            println!("published timestamp version {version}");
        }
        Command::Policy(PolicyCommand::Keys {
            repo,
            add,
            remove,
            threshold,
        }) => {
            let (keys, threshold) =
                repo_tool::policy::edit_keys(&Workspace::new(&repo), &add, &remove, threshold)?;
            println!(
                "staged: the policy role has {keys} key(s), threshold {threshold}; publish with `repo sign {} --key TARGETS_KEY --key NEW_POLICY_KEY --key SNAPSHOT_KEY --key TIMESTAMP_KEY`",
                repo.display()
            );
        }
        Command::Policy(PolicyCommand::Check { repo, file }) => {
            match repo_tool::policy::check(&Workspace::new(&repo), &file)? {
                Ok(preview) => print!("{preview}"),
                Err(refusal) => {
                    eprintln!("error: {refusal:#}");
                    return Ok(ExitCode::from(EXIT_UNTRUSTED));
                }
            }
        }
        Command::Policy(PolicyCommand::Set { repo, file }) => {
            let ws = Workspace::new(&repo);
            match repo_tool::policy::check(&ws, &file)? {
                Ok(preview) => {
                    repo_tool::policy::stage(&ws, &file)?;
                    print!("{preview}");
                    println!(
                        "staged as {}; publish it with `repo sign {} --key POLICY_KEY --key SNAPSHOT_KEY --key TIMESTAMP_KEY`",
                        ws.staged_policy_file().display(),
                        repo.display()
                    );
                }
                Err(refusal) => {
                    eprintln!("error: {refusal:#}");
                    return Ok(ExitCode::from(EXIT_UNTRUSTED));
                }
            }
        }
        Command::Status { repo, warn_days } => {
            let ws = Workspace::new(&repo);
            let report = status(&ws)?;
            println!(
                "{:<10} {:>7}  {:<20}  {:<10}  signed by",
                "role", "version", "expires", "signatures"
            );
            for role in &report.roles {
                let names = ws.settings()?.names;
                let signers: Vec<String> = role
                    .signed_by
                    .iter()
                    .map(|k| repo_tool::rotate::name_of(&names, k))
                    .collect();
                let count = format!("{}/{}", role.signed_by.len(), role.threshold);
                let missing = if role.missing() > 0 {
                    format!(" ({} missing)", role.missing())
                } else {
                    String::new()
                };
                println!(
                    "{:<10} {:>7}  {:<20}  {:<10}  {}{missing}",
                    role.role,
                    role.version,
                    role.expires.to_string(),
                    count,
                    signers.join(", ")
                );
                for problem in &role.problems {
                    println!("           ! {problem}");
                }
            }
            if let Some(p) = repo_tool::rotate::progress(&ws)? {
                let names = ws.settings()?.names;
                let signers: Vec<String> = p
                    .by_current
                    .iter()
                    .chain(p.by_new.iter().filter(|k| !p.by_current.contains(k)))
                    .map(|k| repo_tool::rotate::name_of(&names, k))
                    .collect();
                let (by_current, by_new) = p.missing();
                println!(
                    "root       {:>7}  staged, signed by {}: {by_current} more needed from the current root keys, {by_new} from its own",
                    p.version,
                    if signers.is_empty() { "nobody".to_owned() } else { signers.join(", ") }
                );
            }
            if report.policy_staged {
                println!("a staged policy.xml is not yet signed (repo sign with the policy key)");
            }
            if report.staged_changes > 0 {
                println!(
                    "{} staged change(s) to the index not yet signed",
                    report.staged_changes
                );
            }
            let roles = report.roles.iter().map(|r| (r.role.as_str(), r.expires));
            if let Some(code) = expiry_warnings(roles, UtcTime::now(), warn_days) {
                return Ok(ExitCode::from(code));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
