//! `repo init`: creates a repository with a signed (or, below the root threshold, staged)
//! `1.root.json`, from a settings file and/or `ROLE=...` arguments.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use repo_tool::init::{init, FirstRoot, InitConfig};
use repo_tool::period::Period;
use repo_tool::workspace::Workspace;

use super::{load_private_keys, split_assignment, unfinished_exit};

#[derive(clap::Args)]
pub(crate) struct Args {
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
}

/// The settings file, if any, with the command line's roles on top.
fn config(args: &Args) -> Result<InitConfig> {
    let mut config = match &args.config {
        Some(path) => InitConfig::load(path)?,
        None => InitConfig::default(),
    };
    for text in &args.keys {
        let (role, path) = split_assignment(text)?;
        config.roles.entry(role).or_default().keys.push(path.into());
    }
    for text in &args.thresholds {
        let (role, n) = split_assignment(text)?;
        let n = n
            .parse()
            .with_context(|| format!("threshold {n:?} is not a number"))?;
        config.roles.entry(role).or_default().threshold = Some(n);
    }
    for text in &args.expires {
        let (role, period) = split_assignment(text)?;
        let period: Period = period.parse().map_err(|e: String| anyhow!(e))?;
        config.roles.entry(role).or_default().expires = Some(period);
    }
    Ok(config)
}

pub(crate) fn run(args: Args) -> Result<ExitCode> {
    let config = config(&args)?;
    let signing = load_private_keys(&args.sign)?;
    let repo = &args.repo;
    let ws = Workspace::new(repo);
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
    Ok(ExitCode::SUCCESS)
}
