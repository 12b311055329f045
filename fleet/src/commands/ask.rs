//! `fleet devices`, `fleet summary`, `fleet failures`: the admin's questions, as tables or
//! `--json` (the same values the HTTP API answers).

use anyhow::Result;
use clap::Args;
use fleet::db::Db;
use fleet::query::{self, Counts, DeviceFilter};

use crate::DbArg;

#[derive(Args)]
pub struct DevicesArgs {
    #[command(flatten)]
    db: DbArg,
    #[arg(long)]
    platform: Option<String>,
    #[arg(long)]
    group: Option<String>,
    #[arg(long)]
    channel: Option<String>,
    /// Devices running this release.
    #[arg(long, value_name = "RELEASE")]
    running: Option<String>,
    /// Devices not running this release (or nothing known).
    #[arg(long, value_name = "RELEASE")]
    not_running: Option<String>,
    /// Devices with nothing reported after this time (RFC 3339 or unix seconds), or never.
    #[arg(long, value_name = "TIME", value_parser = fleet::parse_time)]
    silent_since: Option<i64>,
    #[arg(long)]
    limit: Option<u64>,
    /// Print only how many.
    #[arg(long)]
    count: bool,
    #[arg(long)]
    json: bool,
}

pub fn devices(args: &DevicesArgs) -> Result<()> {
    let mut db = Db::open(&args.db.db)?;
    let filter = DeviceFilter {
        platform: args.platform.clone(),
        group: args.group.clone(),
        channel: args.channel.clone(),
        running: args.running.clone(),
        not_running: args.not_running.clone(),
        silent_since: args.silent_since,
        limit: args.limit,
    };
    let devices = query::devices(&mut db, &filter)?;
    if args.count {
        if args.json {
            println!("{}", serde_json::json!({"count": devices.len()}));
        } else {
            println!("{}", devices.len());
        }
    } else if args.json {
        println!("{}", serde_json::json!({"devices": devices}));
    } else {
        println!(
            "{:<24} {:<12} {:<12} {:<10} {:<20} LAST FAILURE",
            "DEVICE", "RUNNING", "PLATFORM", "UPDATER", "LAST SEEN"
        );
        for d in devices {
            let seen = d
                .last_seen
                .and_then(updater::datetime::UtcTime::from_unix)
                .map_or_else(|| "never".to_owned(), |t| t.to_string());
            println!(
                "{:<24} {:<12} {:<12} {:<10} {:<20} {}",
                d.device,
                d.running.as_deref().unwrap_or("-"),
                d.platform.as_deref().unwrap_or("-"),
                d.updater_version.as_deref().unwrap_or("-"),
                seen,
                d.last_failure.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}

#[derive(Args)]
pub struct SummaryArgs {
    #[command(flatten)]
    db: DbArg,
    release: String,
    /// A device not done with the release counts as silent after this many seconds
    /// without news.
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    silent_after: i64,
    /// Also list the rollout over time (cumulative counts at each change).
    #[arg(long)]
    timeline: bool,
    #[arg(long)]
    json: bool,
}

pub fn summary(args: &SummaryArgs) -> Result<()> {
    let mut db = Db::open(&args.db.db)?;
    let now = updater::datetime::UtcTime::now().unix();
    let summary = query::summary(&mut db, &args.release, now - args.silent_after)?;
    let timeline = if args.timeline {
        Some(query::timeline(&mut db, &args.release)?)
    } else {
        None
    };
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        if let Some(points) = timeline {
            value["timeline"] = serde_json::to_value(points)?;
        }
        println!("{value}");
        return Ok(());
    }
    println!(
        "release {} ({} enrolled devices not running it)",
        summary.release, summary.not_running
    );
    let widths = [8, 8, 8, 11, 9, 7, 11, 7];
    let mut header = format!("{:<10}", "");
    for (name, width) in Counts::NAMES.iter().zip(widths) {
        header.push_str(&format!(" {:>width$}", name.replace('_', " ")));
    }
    println!("{header}");
    let mut rows = vec![("all".to_owned(), &summary.total)];
    rows.extend(summary.waves.iter().map(|(w, c)| (format!("wave {w}"), c)));
    for (label, c) in rows {
        let mut line = format!("{label:<10}");
        for (value, width) in c.values().iter().zip(widths) {
            line.push_str(&format!(" {value:>width$}"));
        }
        println!("{line}");
    }
    for p in timeline.unwrap_or_default() {
        let at = updater::datetime::UtcTime::from_unix(p.time)
            .map_or_else(|| p.time.to_string(), |t| t.to_string());
        println!(
            "{at}  checked {}  installed {}  failed {}  rolled back {}",
            p.checked, p.installed, p.failed, p.rolled_back
        );
    }
    Ok(())
}

#[derive(Args)]
pub struct FailuresArgs {
    #[command(flatten)]
    db: DbArg,
    /// Only this release.
    #[arg(long)]
    release: Option<String>,
    #[arg(long, default_value_t = 1000)]
    limit: u64,
    #[arg(long)]
    json: bool,
}

pub fn failures(args: &FailuresArgs) -> Result<()> {
    let mut db = Db::open(&args.db.db)?;
    let failures = query::failures(&mut db, args.release.as_deref(), args.limit)?;
    if args.json {
        println!("{}", serde_json::json!({"failures": failures}));
    } else {
        for f in failures {
            println!(
                "{}  {}  {}  {}",
                f.device,
                f.release,
                f.state,
                f.reason.as_deref().unwrap_or("")
            );
        }
    }
    Ok(())
}
