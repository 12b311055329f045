//! A benchmark, not a test: 10,000 simulated devices follow the README's example policy
//! (checks every 6 h with 30 min of jitter, installs on weekdays 02:00-04:00 UTC, waves of
//! 10%, 50% and 100%), driving the real `decide` and the real wake-up rule `updater run`
//! uses (`rollout::wake::next_wake`), beside the old rule (sleep the check interval plus
//! jitter). Prints, for each, the share of devices that installed in the first window after
//! they became eligible, and the median and p99 delay from eligibility to install.
//!
//! `cargo run -p updater --example sim_rollout [DEVICES]` (add `--release` for speed).

use updater::datetime::UtcTime;
use updater::metadata::Targets;
use updater::rollout::decide::{
    bucket, closes_after, decide, eligible_at, open_from, Action, Device, Index,
};
use updater::rollout::policy::{parse, Policy, Release};
use updater::rollout::wake::{next_wake, WakePlan};

/// The README's example, its check and window varied per scenario.
fn policy(check: &str) -> Result<Policy, String> {
    let xml = format!(
        r#"<policy>
  {check}
  <window days="mon-fri" from="02:00" to="04:00"/>
  <channel name="stable">
    <target release="2.0.0">
      <wave start="2026-11-23T00:00:00Z" percent="10"/>
      <wave start="2026-11-24T00:00:00Z" percent="50"/>
      <wave start="2026-11-26T00:00:00Z" percent="100"/>
    </target>
  </channel>
</policy>"#
    );
    parse(xml.as_bytes()).map_err(|e| e.to_string())
}

fn index() -> Result<Index, String> {
    let targets: Targets = serde_json::from_value(serde_json::json!({
        "_type": "targets", "spec_version": "1.0.31", "version": 1,
        "expires": "2030-01-01T00:00:00Z",
        "targets": {"releases/2.0.0/armv7/app.bin": {"length": 1, "hashes": {"sha512": "00"}}}
    }))
    .map_err(|e| e.to_string())?;
    Index::from_targets(&targets).map_err(|e| e.to_string())
}

/// splitmix64: a small deterministic generator, so every run prints the same figures.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Rule {
    /// `updater run` today: `rollout::wake::next_wake`.
    Wake,
    /// Before: the check interval plus a random part of the jitter, whatever the decision.
    Interval,
}

/// When one device installs under `rule`, starting at `first` (its first check); `None`
/// if not before `horizon`.
fn install_time(
    p: &Policy,
    idx: &Index,
    device: &Device,
    rule: Rule,
    first: UtcTime,
    horizon: UtcTime,
    random: &mut Random,
) -> Option<UtcTime> {
    let mut now = first;
    while now < horizon {
        let d = decide(p, idx, device, now);
        if d.action == Action::Install {
            return Some(now);
        }
        let plan = WakePlan::new(p, &d);
        now = match rule {
            Rule::Wake => next_wake(&plan, now, random.next()),
            Rule::Interval => {
                let spread = random.next() % (plan.jitter + 1);
                now.plus_seconds(i64::try_from(plan.every + spread).unwrap_or(i64::MAX))
            }
        };
    }
    None
}

struct Figures {
    in_first_window: usize,
    never: usize,
    /// Seconds from eligibility to install, sorted.
    delays: Vec<i64>,
    /// Seconds from the first window opening after eligibility to install, sorted.
    late: Vec<i64>,
}

impl Figures {
    /// The `q` quantile of `sorted` over every eligible device, a device that never
    /// installed counting as later than any.
    fn quantile(&self, sorted: &[i64], q: f64) -> String {
        let n = sorted.len() + self.never;
        let rank = ((n as f64 * q).ceil() as usize).clamp(1, n.max(1)) - 1;
        sorted.get(rank).map_or("never".to_owned(), |s| {
            format!("{:.1} h", *s as f64 / 3600.0)
        })
    }
}

fn simulate(p: &Policy, idx: &Index, devices: usize, rule: Rule) -> Figures {
    let start = UtcTime::parse("2026-11-22T00:00:00Z").unwrap_or(UtcTime::MIN);
    let horizon = start.plus_seconds(60 * 86_400);
    let window = p.window.as_ref();
    let release = Release::new("2.0.0").ok();
    let every = p.check_every.seconds().max(1).unsigned_abs();
    let mut random = Random(42);
    let mut figures = Figures {
        in_first_window: 0,
        never: 0,
        delays: Vec::new(),
        late: Vec::new(),
    };
    for i in 0..devices {
        let device = Device {
            id: format!("dev-{i}"),
            platform: "armv7".into(),
            channel: "stable".into(),
            groups: Default::default(),
            running: Release::new("1.0.0").ok(),
        };
        let (Some(release), Some(target)) = (&release, p.channels["stable"].target.as_ref()) else {
            continue;
        };
        let b = bucket("stable", release, &device.id);
        let Some((eligible, _)) = eligible_at(&target.waves, b) else {
            continue;
        };
        // Each device's checks have their own phase: the first falls anywhere in one interval.
        let phase = i64::try_from(random.next() % every).unwrap_or(0);
        let first = start.plus_seconds(phase);
        let installed = install_time(p, idx, &device, rule, first, horizon, &mut random);
        let Some(at) = installed else {
            figures.never += 1;
            continue;
        };
        let opens = window.map_or(eligible, |w| open_from(w, eligible));
        let closes = window.map_or(opens, |w| closes_after(w, opens));
        if at >= opens && (window.is_none() || at < closes) {
            figures.in_first_window += 1;
        }
        figures.delays.push(at.unix() - eligible.unix());
        figures.late.push(at.unix() - opens.unix());
    }
    figures.delays.sort_unstable();
    figures.late.sort_unstable();
    figures
}

fn main() -> Result<(), String> {
    let devices: usize = match std::env::args().nth(1) {
        Some(n) => n.parse().map_err(|e| format!("DEVICES: {e}"))?,
        None => 10_000,
    };
    let idx = index()?;
    println!(
        "{devices} devices, weekdays 02:00-04:00 UTC, waves 10% Mon 2026-11-23, 50% Tue, 100% Thu"
    );
    println!(
        "{:<24} {:<9} {:>14} {:>10} {:>10} {:>16} {:>10}",
        "check", "rule", "in 1st window", "median", "p99", "p99 from opening", "never"
    );
    println!("{:>50}", "(delays from eligibility; never: not in 60 days)");
    for check in [
        r#"<check every="6h" jitter="30m"/>"#,
        r#"<check every="6h"/>"#,
        r#"<check every="24h"/>"#,
    ] {
        let p = policy(check)?;
        for (rule, name) in [(Rule::Wake, "wake"), (Rule::Interval, "interval")] {
            let f = simulate(&p, &idx, devices, rule);
            let n = f.delays.len() + f.never;
            println!(
                "{:<24} {:<9} {:>13.2}% {:>10} {:>10} {:>16} {:>10}",
                check.trim_start_matches("<check ").trim_end_matches("/>"),
                name,
                100.0 * f.in_first_window as f64 / n.max(1) as f64,
                f.quantile(&f.delays, 0.5),
                f.quantile(&f.delays, 0.99),
                f.quantile(&f.late, 0.99),
                f.never
            );
        }
    }
    Ok(())
}
