//! `updater`: the device side. Keeps a verified view of a TUF repository and fetches
//! verified targets from it. Speaks the tuf-conformance client protocol.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};

use updater::client::Client;
use updater::config::Config;
use updater::datetime::UtcTime;
use updater::decide::{decide, Action, Device, Index};
use updater::install::{release_artifacts, Artifact, Hooks, Installer, State};
use updater::limits::MAX_ROOT_BYTES;
use updater::mirrors::{Mirrors, RetryPolicy, MAX_RETRIES};
use updater::names::TargetName;
use updater::store::MetadataStore;
use updater::transport::{for_location, HttpOptions, SpeedFloor};

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
        Exit codes: 0 success; 1 anything refused or failed; 2 bad command line.",
    after_help = "Examples:\n  \
        updater --metadata-dir /var/lib/updater/metadata init /etc/updater/root.json\n  \
        updater --metadata-dir M --metadata-url https://updates.example.com/metadata refresh\n  \
        updater --metadata-dir M --metadata-url URL targets\n  \
        updater --metadata-dir M --metadata-url URL --target-base-url URL/targets \\\n    \
        --target-name releases/1.0.0/x86_64/app.bin --target-dir /var/lib/updater/downloads download"
)]
struct Cli {
    /// The device's configuration file (TOML): its id, platform, channel, groups, mirrors
    /// and folders. Options given on the command line take precedence. Needed by `plan`.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Folder of the device's trusted metadata (root.json, timestamp.json, ...).
    #[arg(long, global = true, value_name = "DIR")]
    metadata_dir: Option<PathBuf>,
    /// Where the repository's metadata is served; repeat for fallback mirrors, in order.
    #[arg(long, global = true, value_name = "URL")]
    metadata_url: Vec<String>,
    /// Where the repository's targets are served; repeat for fallback mirrors, in order.
    #[arg(long, global = true, value_name = "URL")]
    target_base_url: Vec<String>,
    /// A target path to download (repeatable; fetched in order, stopping at the first failure).
    #[arg(long, global = true, value_name = "PATH")]
    target_name: Vec<String>,
    /// Folder that receives downloaded targets, each as one file named by its percent-encoded path.
    #[arg(long, global = true, value_name = "DIR")]
    target_dir: Option<PathBuf>,
    /// PEM file of extra CA certificates for HTTPS mirrors (public roots stay trusted).
    #[arg(long, global = true, value_name = "PEM")]
    ca_file: Option<PathBuf>,
    /// Seconds to wait for a connection.
    #[arg(long, global = true, default_value_t = 10, value_name = "SECS")]
    connect_timeout: u64,
    /// Seconds to wait for any read, the reply's first byte included; a stalled server
    /// fails after this.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS")]
    read_timeout: u64,
    /// The slowest download accepted, in bytes per second averaged over --speed-time: a
    /// slower one is abandoned and the next mirror asked (0 turns the floor off).
    #[arg(long, global = true, default_value_t = 1024, value_name = "BYTES")]
    speed_limit: u64,
    /// Seconds over which a download's speed is judged against --speed-limit.
    #[arg(long, global = true, default_value_t = 30, value_name = "SECS",
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    speed_time: u64,
    /// Seconds a whole metadata request may take, body included (slow-retrieval defence).
    #[arg(long, global = true, default_value_t = 300, value_name = "SECS")]
    metadata_timeout: u64,
    /// Retries of a mirror after a transient failure (server error, timeout), with backoff;
    /// at most 10, so that a dead mirror costs a bounded time before the next is asked.
    #[arg(long, global = true, default_value_t = 2, value_name = "N",
          value_parser = clap::value_parser!(u32).range(0..=i64::from(MAX_RETRIES)))]
    retries: u32,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// One update, start to end (needs --config): finish or undo an interrupted install,
    /// refresh, decide, download and verify the release's artifacts, then stage, switch,
    /// health-check and commit, or roll back.
    Apply {
        /// Decide as if it were TIME (for tests and previews).
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
    /// As a service: `apply`, then wait the policy's check interval plus a random part of its
    /// jitter, and again (needs --config).
    Run,
    /// What the device runs, what it ran before, the last check and its result, the next
    /// check and the last error (needs --config).
    Status {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Switch back to the previous release by hand (needs --config).
    Rollback,
    /// Refresh, read the signed policy.xml, and say what this device will do and why
    /// (needs --config).
    Plan {
        /// Print the decision as one JSON object (stable keys: device, platform, channel,
        /// running, action, release, at, wave, bucket, reason).
        #[arg(long)]
        json: bool,
        /// Decide as if it were TIME (YYYY-MM-DDTHH:MM:SSZ), for previews and tests; the
        /// metadata's expiry is judged at the same time.
        #[arg(long, value_name = "TIME")]
        now: Option<String>,
    },
}

/// Mirrors, folders and device settings, from the command line or the config file.
struct Settings {
    metadata_dir: PathBuf,
    metadata_urls: Vec<String>,
    target_urls: Vec<String>,
    target_dir: Option<PathBuf>,
    ca_file: Option<PathBuf>,
    config: Option<Config>,
}

impl Settings {
    fn from_cli(cli: &Cli) -> Result<Self> {
        let config = match &cli.config {
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
            config,
        })
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("updater: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    let settings = Settings::from_cli(cli)?;
    let dir = settings.metadata_dir.as_path();
    match &cli.command {
        Command::Init { root, force } => init(dir, root, *force),
        Command::Refresh => {
            let client = refreshed_client(cli, &settings, UtcTime::now())?;
            let t = client.trusted();
            println!(
                "up to date: root v{}, timestamp v{}, snapshot v{}, targets v{}",
                t.root().version.get(),
                t.timestamp().version.get(),
                t.snapshot().version.get(),
                t.targets().version.get(),
            );
            Ok(())
        }
        Command::Download => download(cli, &settings),
        Command::Plan { json, now } => plan(cli, &settings, *json, now.as_deref()),
        Command::Apply { now } => {
            let now = match now {
                Some(text) => UtcTime::parse(text).map_err(anyhow::Error::msg)?,
                None => UtcTime::now(),
            };
            apply(cli, &settings, now).map(|_| ())
        }
        Command::Run => loop {
            let wait = match apply(cli, &settings, UtcTime::now()) {
                Ok(wait) => wait,
                Err(e) => {
                    eprintln!("updater: {e:#}");
                    None
                }
            };
            let (every, jitter) = wait.unwrap_or((3600, 600));
            let mut random = [0u8; 4];
            let _ = getrandom::getrandom(&mut random);
            let spread = u64::from(u32::from_le_bytes(random)) % (jitter + 1);
            std::thread::sleep(Duration::from_secs(every + spread));
        },
        Command::Status { json } => {
            // Read-only: status works on a full disk or a read-only state folder.
            let installer = installer(&settings)?;
            let mut state = installer.state().unwrap_or_else(|e| {
                eprintln!("updater: {e}");
                State::default()
            });
            state.running = installer.link("current")?;
            state.previous = installer.link("previous")?;
            if *json {
                println!("{}", serde_json::to_string(&state)?);
            } else {
                let show = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                println!("running:    {}", show(state.running.map(|r| r.to_string())));
                println!(
                    "previous:   {}",
                    show(state.previous.map(|r| r.to_string()))
                );
                println!(
                    "last check: {}",
                    show(state.last_check.map(|t| t.to_string()))
                );
                println!("result:     {}", show(state.last_result));
                println!(
                    "next check: {}",
                    show(state.next_check.map(|t| t.to_string()))
                );
                println!("last error: {}", show(state.last_error));
                if let Some(f) = state.failed {
                    println!(
                        "failed:     {} ({}); not retried until the policy changes",
                        f.release, f.reason
                    );
                }
            }
            Ok(())
        }
        Command::Rollback => {
            let installer = installer(&settings)?;
            for done in installer.recover()? {
                println!("{done}");
            }
            let release = installer.rollback()?;
            println!("rolled back: now running {release}");
            Ok(())
        }
        Command::Targets => {
            let mut client = refreshed_client(cli, &settings, UtcTime::now())?;
            let targets = client.all_targets()?;
            if targets.is_empty() {
                println!("the index lists no targets");
            }
            for t in targets {
                let sha512 = t
                    .info
                    .hashes
                    .get("sha512")
                    .or_else(|| t.info.hashes.get("sha256"))
                    .map(|h| hex::encode(h.0.get(..8).unwrap_or(&h.0)))
                    .unwrap_or_default();
                println!(
                    "{:<56} {:>12} bytes  {}  ({})",
                    t.name.as_str(),
                    t.info.length,
                    sha512,
                    t.role
                );
            }
            Ok(())
        }
    }
}

fn init(dir: &Path, root: &Path, force: bool) -> Result<()> {
    let bytes = updater::fs::read_bounded(root, MAX_ROOT_BYTES)?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let store = MetadataStore::open(dir)?;
    let before = Client::init(&store, &bytes, force)
        .with_context(|| format!("{} was not trusted", root.display()))?;
    match before {
        Some(version) => println!(
            "trusting {} in {} (replacing root version {version})",
            root.display(),
            dir.display()
        ),
        None => println!("trusting {} in {}", root.display(), dir.display()),
    }
    Ok(())
}

fn mirrors(cli: &Cli, settings: &Settings, locations: &[String], flag: &str) -> Result<Mirrors> {
    if locations.is_empty() {
        bail!("{flag} (or --config) is required");
    }
    let options = HttpOptions {
        connect_timeout: Duration::from_secs(cli.connect_timeout),
        read_timeout: Duration::from_secs(cli.read_timeout),
        extra_ca: settings.ca_file.clone(),
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
    let retry = RetryPolicy {
        attempts: cli.retries.saturating_add(1),
        ..RetryPolicy::default()
    };
    Ok(Mirrors::new(transports, retry)
        .reporting(|failure| eprintln!("updater: warning: {failure}; mirror given up")))
}

fn refreshed_client(cli: &Cli, settings: &Settings, now: UtcTime) -> Result<Client> {
    let store = MetadataStore::open(&settings.metadata_dir)?;
    let metadata = mirrors(cli, settings, &settings.metadata_urls, "--metadata-url")?;
    Client::open(store, metadata, now).context("refresh refused")
}

fn plan(cli: &Cli, settings: &Settings, json: bool, now: Option<&str>) -> Result<()> {
    let config = settings
        .config
        .as_ref()
        .context("plan needs the device's --config")?;
    let now = match now {
        Some(text) => UtcTime::parse(text).map_err(anyhow::Error::msg)?,
        None => UtcTime::now(),
    };
    let device = Device {
        id: config.device_id().map_err(anyhow::Error::msg)?,
        platform: config.device.platform.clone(),
        channel: config.device.channel.clone(),
        groups: config.device.groups.clone(),
        running: config.running_release().map_err(anyhow::Error::msg)?,
    };
    let targets = mirrors(cli, settings, &settings.target_urls, "--target-base-url")?;
    let mut client = refreshed_client(cli, settings, now)?;
    let xml = client.policy_xml(&targets).context("policy refused")?;
    let policy = updater::policy::parse(&xml)?;
    let index =
        Index::from_targets(client.trusted().targets()).context("the signed index refused")?;
    let decision = decide(&policy, &index, &device, now);
    if json {
        let mut value = serde_json::to_value(&decision)?;
        if let Some(object) = value.as_object_mut() {
            object.insert("device".into(), device.id.clone().into());
            object.insert("platform".into(), device.platform.clone().into());
        }
        println!("{value}");
    } else {
        let running = device
            .running
            .as_ref()
            .map_or("nothing".to_owned(), |r| r.to_string());
        println!(
            "device {} ({}, channel {}), running {running}",
            device.id, device.platform, device.channel
        );
        println!("{}", decision.reason);
    }
    Ok(())
}

fn installer(settings: &Settings) -> Result<Installer> {
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

/// One `apply`; returns the policy's check interval and jitter (seconds) for `run`.
fn apply(cli: &Cli, settings: &Settings, now: UtcTime) -> Result<Option<(u64, u64)>> {
    let installer = installer(settings)?;
    for done in installer.recover()? {
        println!("{done}");
    }
    let outcome = apply_once(cli, settings, &installer, now);
    match &outcome {
        Ok((message, wait)) => {
            println!("{message}");
            installer.update_state(|s| {
                s.last_check = Some(now);
                s.last_result = Some(message.clone());
                s.next_check = wait.map(|(every, _)| now.plus_seconds(every as i64));
                s.last_error = None;
            })?;
        }
        Err(e) => {
            let message = format!("{e:#}");
            installer.update_state(|s| {
                s.last_check = Some(now);
                s.last_error = Some(message);
            })?;
        }
    }
    outcome.map(|(_, wait)| wait)
}

fn apply_once(
    cli: &Cli,
    settings: &Settings,
    installer: &Installer,
    now: UtcTime,
) -> Result<(String, Option<(u64, u64)>)> {
    let config = settings.config.as_ref().context("apply needs --config")?;
    let device = Device {
        id: config.device_id().map_err(anyhow::Error::msg)?,
        platform: config.device.platform.clone(),
        channel: config.device.channel.clone(),
        groups: config.device.groups.clone(),
        running: installer.link("current")?,
    };
    let targets = mirrors(cli, settings, &settings.target_urls, "--target-base-url")?;
    let mut client = refreshed_client(cli, settings, now)?;
    let xml = client.policy_xml(&targets).context("policy refused")?;
    let policy = updater::policy::parse(&xml)?;
    let wait = Some((
        policy.check_every.seconds().unsigned_abs(),
        policy
            .check_jitter
            .map_or(0, |j| j.seconds().unsigned_abs()),
    ));
    let policy_sha256 = updater::hash::Sha256::digest(&xml).to_hex();
    let index =
        Index::from_targets(client.trusted().targets()).context("the signed index refused")?;
    let decision = decide(&policy, &index, &device, now);
    let running = device
        .running
        .as_ref()
        .map_or("nothing".to_owned(), |r| r.to_string());
    if let (Some(failed), Some(release)) = (installer.state()?.failed, &decision.release) {
        if decision.action != Action::Stay
            && &failed.release == release
            && failed.policy_sha256 == policy_sha256
        {
            prune_downloads(settings.target_dir.as_deref());
            return Ok((
                format!(
                    "staying on {running}: {release} failed on this device ({}); it is not tried again until the policy changes",
                    failed.reason
                ),
                wait,
            ));
        }
    }
    let (Action::Install, Some(release)) = (decision.action, decision.release.clone()) else {
        prune_downloads(settings.target_dir.as_deref());
        return Ok((decision.reason, wait));
    };
    let listed = index
        .artifacts(&release, &device.platform)
        .context("decide only installs releases the index holds")?;
    let downloads = settings
        .target_dir
        .clone()
        .context("[paths] downloads is required")?;
    std::fs::create_dir_all(&downloads)
        .with_context(|| format!("creating {}", downloads.display()))?;
    // Absolute, because the release's scripts run in its staging folder.
    let downloads = std::fs::canonicalize(&downloads)
        .with_context(|| format!("reading {}", downloads.display()))?;
    let needed = listed
        .iter()
        .try_fold(0u64, |sum, (_, info)| sum.checked_add(info.length))
        .context("the release's listed lengths add up to more than any disk")?;
    Installer::check_space(&downloads, needed)?;
    let mut artifacts = Vec::new();
    for (name, (relative, info)) in release_artifacts(listed) {
        let found = client
            .find_target(name)?
            .with_context(|| format!("{name} is in the index but no role lists it"))?;
        let (local, _) = client.download(&found, &targets, &downloads)?;
        artifacts.push(Artifact {
            name: name.clone(),
            info: info.clone(),
            relative,
            local,
        });
    }
    if decision.at.is_some_and(|at| at > now) {
        return Ok((
            format!(
                "{}; downloaded and verified, installing then",
                decision.reason
            ),
            wait,
        ));
    }
    let installed = installer.install(&release, &artifacts, &policy_sha256);
    // Installed or rolled back, the downloads have served: the release folder holds its
    // own verified copies.
    prune_downloads(Some(&downloads));
    installed?;
    Ok((
        format!("installed {release}, was {running} ({})", decision.reason),
        wait,
    ))
}

/// Removes what `apply` downloaded (artifacts and partial downloads) from `dir`, once no
/// install needs it. Only names the updater itself writes there are touched (a release
/// artifact's flat name holds an encoded `/`, a partial starts `.%partial.`), never a
/// folder, never through a link, so a downloads path set to a shared folder loses nothing
/// else.
fn prune_downloads(dir: Option<&Path>) {
    let Some(entries) = dir.and_then(|d| std::fs::read_dir(d).ok()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name.to_str().is_some_and(|n| {
            n.starts_with(updater::name_budget::PARTIAL_PREFIX) || n.starts_with("releases%2F")
        });
        if ours && entry.file_type().is_ok_and(|t| t.is_file()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

fn download(cli: &Cli, settings: &Settings) -> Result<()> {
    if cli.target_name.is_empty() {
        bail!("--target-name is required");
    }
    let target_dir = settings
        .target_dir
        .as_deref()
        .context("--target-dir (or --config) is required")?;
    let targets = mirrors(cli, settings, &settings.target_urls, "--target-base-url")?;
    let mut client = refreshed_client(cli, settings, UtcTime::now())?;
    for raw in &cli.target_name {
        let name = TargetName::new(raw.as_str())
            .map_err(|e| anyhow::anyhow!("target name {raw:?} {e}"))?;
        let Some(found) = client.find_target(&name)? else {
            bail!("{raw}: no trusted role lists this target");
        };
        let (path, fetched) = client.download(&found, &targets, target_dir)?;
        if fetched {
            println!(
                "{raw}: {} bytes verified -> {}",
                found.info.length,
                path.display()
            );
        } else {
            println!("{raw}: already present and verified at {}", path.display());
        }
    }
    Ok(())
}
