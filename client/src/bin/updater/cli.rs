//! The command line: arguments, the settings they resolve to with the config file, and
//! the mirrors, client and installer every command builds from them.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use updater::cli_docs::Shell;
use updater::config::Config;
use updater::datetime::UtcTime;
use updater::fetch::mirrors::{Mirrors, RetryPolicy, Serves, MAX_RETRIES};
use updater::fetch::store::MetadataStore;
use updater::fetch::{for_location, ClientIdentity, HttpOptions, SpeedFloor};
use updater::install::{Hooks, Installer};
use updater::update::client::Client;
use updater::Error;

use crate::log::LogFormat;

#[derive(Parser)]
#[command(
    name = "updater",
    version,
    about = "Verify a TUF repository from one trusted root and fetch verified targets",
    long_about = "Verify a TUF repository from one trusted root and fetch verified targets.\n\n\
        The device trusts one root.json, given once with `init`. Every later run walks the root \
        chain, then timestamp, snapshot and targets (and delegated roles as needed), checking \
        signatures, versions, expiry, lengths and hashes, and keeps what it verified in the \
        metadata folder so that older files are refused on later runs.\n\n\
        Mirrors are tried in the order given: `--metadata-url` and `--target-base-url` may each \
        be repeated, and take http://, https://, file:// URLs or a local folder.\n\n\
        Exit codes: 0 success; 1 refused (metadata, the policy or an artifact failed \
        verification: a bad repository or an attack) or another failure; 2 bad command line; \
        3 (apply, plan, targets) could not fetch: no mirror could be reached or none had the \
        file, and nothing was refused (offline, a mirror down, or a wrong URL). init, refresh \
        and download keep the tuf-conformance protocol's 1 for every failure; their message \
        still says \"could not fetch\" or \"refused\".",
    after_help = "Examples:\n  \
        updater --metadata-dir /var/lib/updater/metadata init /etc/updater/root.json\n  \
        updater --metadata-dir M --metadata-url https://updates.example.com/metadata refresh\n  \
        updater --metadata-dir M --metadata-url URL targets\n  \
        updater --metadata-dir M --metadata-url URL --target-base-url URL/targets \\\n    \
        --target-name releases/1.0.0/x86_64/app.bin --target-dir /var/lib/updater/downloads download"
)]
pub(crate) struct Cli {
    /// The device's configuration file (TOML): its id, platform, channel, groups, mirrors
    /// and folders. Options given on the command line take precedence. Needed by `plan`.
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,
    /// Folder of the device's trusted metadata (root.json, timestamp.json, ...).
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) metadata_dir: Option<PathBuf>,
    /// Where the repository's metadata is served; repeat for fallback mirrors, in order.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) metadata_url: Vec<String>,
    /// Where the repository's targets are served; repeat for fallback mirrors, in order.
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) target_base_url: Vec<String>,
    /// A target path to download (repeatable; fetched in order, stopping at the first failure).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) target_name: Vec<String>,
    /// Folder that receives downloaded targets, each as one file named by its percent-encoded path.
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) target_dir: Option<PathBuf>,
    /// PEM file of extra CA certificates for HTTPS mirrors (public roots stay trusted).
    #[arg(long, global = true, value_name = "PEM")]
    pub(crate) ca_file: Option<PathBuf>,
    /// PEM file of the client certificate chain (leaf first) presented to HTTPS mirrors
    /// that ask for one (mutual TLS); needs --client-key. Overrides [repository] client_cert.
    #[arg(long, global = true, value_name = "FILE", requires = "client_key")]
    pub(crate) client_cert: Option<PathBuf>,
    /// PEM file of the private key of --client-cert. Overrides [repository] client_key.
    #[arg(long, global = true, value_name = "FILE", requires = "client_cert")]
    pub(crate) client_key: Option<PathBuf>,
    /// Seconds to wait for a connection.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECS")]
    pub(crate) connect_timeout: u64,
    /// Seconds to wait for any read, the reply's first byte included; a stalled server
    /// fails after this.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    pub(crate) read_timeout: u64,
    /// The slowest download accepted, in bytes per second averaged over --speed-time: a
    /// slower one is abandoned and the next mirror asked (0 turns the floor off).
    #[arg(long, global = true, default_value_t = 1024, value_name = "BYTES")]
    pub(crate) speed_limit: u64,
    /// Seconds over which a download's speed is judged against --speed-limit.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) speed_time: u64,
    /// Seconds a whole metadata request may take, body included (slow-retrieval defence).
    #[arg(long, global = true, default_value_t = 300, value_name = "SECS")]
    pub(crate) metadata_timeout: u64,
    /// Retries of a mirror after a transient failure (server error, timeout), with backoff;
    /// at most 10, so that a dead mirror costs a bounded time before the next is asked.
    #[arg(long, global = true, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_RETRIES)))]
    pub(crate) retries: u32,
    /// How progress, warnings and errors are written: `journald` prefixes each line with
    /// its priority (<3> error, <4> warning, <6> info); `auto` does so when systemd connected
    /// the output to the journal (JOURNAL_STREAM), else writes plain lines.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Auto, value_name = "FORMAT")]
    pub(crate) log_format: LogFormat,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Subcommand)]
pub(crate) enum Command {
    /// Trust ROOT (a root.json signed by a threshold of its own keys). Makes no requests.
    /// A root already trusted with a higher version, or another root of the same version,
    /// is kept unless --force.
    Init {
        /// The root.json to trust.
        root: PathBuf,
        /// Replace the trusted root even with an older or different one.
        #[arg(long)]
        force: bool,
    },
    /// Bring the trusted metadata up to date (root chain, timestamp, snapshot, targets).
    Refresh,
    /// Refresh, then fetch each --target-name into --target-dir, verified; skip files already there.
    Download,
    /// Refresh, then list every target the verified index offers.
    Targets,
    /// Print the shell completion script for SHELL on stdout (bash: save it as
    /// /usr/share/bash-completion/completions/updater; scripts/install-docs.sh does it).
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: Shell,
    },
    /// Write one man page per command into DIR (updater.1, updater-apply.1, ...).
    Manpage {
        /// The folder to write the pages into (created if missing).
        dir: PathBuf,
    },
    /// One update, start to end (needs --config): finish or undo an interrupted install,
    /// refresh, decide, download and verify the release's artifacts, then stage, switch,
    /// health-check and commit, or roll back.
    Apply {
        /// Decide as if it were TIME (for tests and previews).
        #[arg(long, value_name = "TIME", value_parser = UtcTime::parse)]
        now: Option<UtcTime>,
    },
    /// As a service: `apply`, then wait until the next check (the policy's interval plus a
    /// random part of its jitter) or, if sooner, until the moment the decision waits for
    /// (the install window, or eligibility), spread inside the window; and again (needs --config).
    Run,
    /// What the device runs, what it ran before, the last check and its result, the next
    /// check and the last error (needs --config).
    Status {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Switch back to the previous release by hand (needs --config). The next apply moves
    /// to the policy's target again: `hold` after `rollback` keeps the device on the older
    /// release.
    Rollback,
    /// Clear this device's block on a release that failed its trial here, so the next apply
    /// tries it again under the same policy (needs --config). Says so when there is none.
    Retry,
    /// Keep this device on the release it runs, whatever the policy says: apply and run
    /// install nothing, and plan says why, until `unhold` (needs --config).
    Hold {
        /// Why, shown by plan, apply and status.
        #[arg(long, value_name = "TEXT")]
        reason: Option<String>,
    },
    /// End a `hold`: the next apply follows the policy again (needs --config). Says so when
    /// the device was not held.
    Unhold,
    /// The device's keys, each made if missing, mode 0600: its report key (`[report] key`,
    /// ed25519) and its decryption identity (`[device] identity`, X25519, an age identity
    /// file); prints only their public halves (needs --config).
    Keygen {
        /// Make new keys in place of the ones there (or lost ones), atomically; the device
        /// must be enrolled again, and releases encrypted to its new recipient.
        #[arg(long)]
        replace: bool,
        /// One JSON object: device, key_file, public_key, created, replaced,
        /// identity_file, recipient, identity_created.
        #[arg(long)]
        json: bool,
    },
    /// Who this device is: its id and report key (a line `fleet enroll --file` reads), and
    /// its recipient (`age1…`, a line for a recipients file, `repo add --encrypt-to`).
    /// Makes nothing: run `keygen` first (needs --config).
    Id {
        /// One JSON object: device, public_key, recipient, platform, channel, groups.
        #[arg(long)]
        json: bool,
    },
    /// Write every waiting report event to FILE as signed reports, one per line (JSON
    /// lines), then remove them from the outbox (needs --config).
    Report {
        /// The file to write (atomically).
        #[arg(long, value_name = "FILE")]
        export: PathBuf,
        /// One JSON object: file, reports, events, first_seq, last_seq, dropped.
        #[arg(long)]
        json: bool,
    },
    /// Refresh, read the signed policy.xml, and say what this device will do and why
    /// (needs --config).
    Plan {
        /// Print the decision as one JSON object (stable keys: device, platform, channel,
        /// running, action, release, at, waiting_for, wave, bucket, reason, blocked_since,
        /// hold_reason, unblock; see docs/plan-json.md).
        #[arg(long)]
        json: bool,
        /// Decide as if it were TIME (YYYY-MM-DDTHH:MM:SSZ), for previews and tests; the
        /// metadata's expiry is judged at the same time.
        #[arg(long, value_name = "TIME", value_parser = UtcTime::parse)]
        now: Option<UtcTime>,
    },
}

/// Mirrors, folders and device settings, from the command line or the config file.
pub(crate) struct Settings {
    pub(crate) metadata_dir: PathBuf,
    pub(crate) metadata_urls: Vec<String>,
    pub(crate) target_urls: Vec<String>,
    pub(crate) target_dir: Option<PathBuf>,
    pub(crate) ca_file: Option<PathBuf>,
    /// The client certificate presented to HTTPS mirrors, if any.
    pub(crate) client_identity: Option<ClientIdentity>,
    pub(crate) config: Option<Config>,
}

impl Settings {
    pub(crate) fn from_cli(cli: &Cli) -> Result<Self> {
        let config = match &cli.config {
            Some(path) if !path.exists() => bail!(
                "the device's config file {} does not exist: give --config the device's \
                 configuration file (TOML; see docs/reference/updater.md, \"Device configuration\")",
                path.display()
            ),
            Some(path) => Some(Config::load(path).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let pick = |flag: &[String], from_config: Option<&Vec<String>>| -> Vec<String> {
            if flag.is_empty() {
                from_config.cloned().unwrap_or_default()
            } else {
                flag.to_vec()
            }
        };
        let metadata_dir = cli
            .metadata_dir
            .clone()
            .or_else(|| config.as_ref().map(|c| c.paths.metadata.clone()))
            .context("--metadata-dir (or --config) is required")?;
        Ok(Settings {
            metadata_dir,
            metadata_urls: pick(
                &cli.metadata_url,
                config.as_ref().map(|c| &c.repository.metadata),
            ),
            target_urls: pick(
                &cli.target_base_url,
                config.as_ref().map(|c| &c.repository.targets),
            ),
            target_dir: cli
                .target_dir
                .clone()
                .or_else(|| config.as_ref().map(|c| c.paths.downloads.clone())),
            ca_file: cli
                .ca_file
                .clone()
                .or_else(|| config.as_ref().and_then(|c| c.repository.ca_file.clone())),
            client_identity: client_identity(cli, config.as_ref()),
            config,
        })
    }
}

/// The flags' client certificate and key, else the config's (each comes as a pair: clap
/// and [`Config::load`] refuse half of one).
fn client_identity(cli: &Cli, config: Option<&Config>) -> Option<ClientIdentity> {
    let pair = |cert: &Option<PathBuf>, key: &Option<PathBuf>| {
        Some(ClientIdentity {
            cert: cert.clone()?,
            key: key.clone()?,
        })
    };
    pair(&cli.client_cert, &cli.client_key).or_else(|| {
        let repository = &config?.repository;
        pair(&repository.client_cert, &repository.client_key)
    })
}

pub(crate) fn mirrors(
    cli: &Cli,
    settings: &Settings,
    locations: &[String],
    flag: &str,
) -> Result<Mirrors> {
    if locations.is_empty() {
        bail!("{flag} (or --config) is required");
    }
    let options = HttpOptions {
        connect_timeout: Duration::from_secs(cli.connect_timeout),
        read_timeout: Duration::from_secs(cli.read_timeout),
        extra_ca: settings.ca_file.clone(),
        client_identity: settings.client_identity.clone(),
        // Metadata files are small: a whole request must end within this. Targets may be
        // large and are bounded by the read timeout alone.
        total_timeout: (flag == "--metadata-url")
            .then(|| Duration::from_secs(cli.metadata_timeout)),
        speed_floor: (cli.speed_limit > 0).then(|| SpeedFloor {
            bytes_per_second: cli.speed_limit,
            window: Duration::from_secs(cli.speed_time),
        }),
    };
    let transports = locations
        .iter()
        .map(|l| for_location(l, &options).map_err(anyhow::Error::msg))
        .collect::<Result<Vec<_>>>()?;
    let retry = RetryPolicy::with_attempts(cli.retries.saturating_add(1));
    let serves = match flag {
        "--metadata-url" => Serves::Metadata,
        _ => Serves::Targets,
    };
    Ok(Mirrors::new(transports, retry)
        .serving(serves)
        .reporting(|failure| {
            crate::log::warning(&format!("{failure}; mirror given up, the next one served"))
        }))
}

pub(crate) fn refreshed_client(cli: &Cli, settings: &Settings, now: UtcTime) -> Result<Client> {
    let store = MetadataStore::open(&settings.metadata_dir)?;
    let metadata = mirrors(cli, settings, &settings.metadata_urls, "--metadata-url")?;
    refused_or_unreached(
        Client::open(store, metadata, now),
        "refresh refused",
        "refresh could not fetch the metadata",
    )
}

/// `result` with the context that says which it was: `refused` when something was refused,
/// `unreached` when a file only could not be fetched (the exit code tells the two apart too:
/// see `main.rs`).
pub(crate) fn refused_or_unreached<T>(
    result: Result<T, Error>,
    refused: &'static str,
    unreached: &'static str,
) -> Result<T> {
    result.map_err(|e| {
        let context = if e.could_not_fetch() {
            unreached
        } else {
            refused
        };
        anyhow::Error::new(e).context(context)
    })
}

pub(crate) fn installer(settings: &Settings) -> Result<Installer> {
    let config = settings
        .config
        .as_ref()
        .context("this command needs the device's --config")?;
    let hooks = Hooks {
        health_check: config.install.health_check.clone(),
        post_rollback: config.install.post_rollback.clone(),
        installer: config.install.installer.clone(),
        timeout: Duration::from_secs(config.install.timeout.seconds().unsigned_abs()),
    };
    Ok(Installer::new(&config.paths.install, hooks)?)
}
