//! The dashboard: one server-rendered page per release, with an inline SVG chart, so it
//! works with no script and no network beyond the collector.
//!
//! Invariant: every text a device sent (ids, reasons, release names) is HTML-escaped
//! before it reaches the page, and the page loads nothing (the server's
//! Content-Security-Policy allows no script and no remote resource). Numbers carry stable
//! `id`s (`count-installed`, `wave-1-failed`) so a test can read them.

mod chart;

use std::fmt::Write;

use updater::datetime::UtcTime;
use updater::rollout::policy::{Policy, Wave};

use crate::db::{Db, DbError};
use crate::query::{self, Counts, DeviceFilter, Point, Summary};

/// The page for the release `?release=` names (the newest one reported about otherwise).
pub fn page(
    db: &mut Db,
    query: &[(String, String)],
    policy: Option<&Policy>,
    silent_since: i64,
    now: i64,
) -> Result<String, DbError> {
    let releases = query::releases(db)?;
    let param = |name: &str| {
        query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    let release = param("release")
        .map(str::to_owned)
        .or_else(|| releases.first().cloned());
    let mut html = String::from(HEAD);
    let _ = write!(html, "<h1>Fleet rollout</h1><nav>Releases: ");
    for r in &releases {
        let _ = write!(html, "<a href=\"/?release={0}\">{1}</a> ", url(r), esc(r));
    }
    html.push_str("</nav>");
    if let Some(release) = &release {
        let summary = query::summary(db, release, silent_since)?;
        let points = query::timeline(db, release)?;
        let waves = policy.and_then(|p| planned_waves(p, release));
        let enrolled = query::enrolled(db)?;
        release_section(
            &mut html,
            &summary,
            &points,
            waves.as_deref(),
            enrolled,
            now,
        );
        let failures = query::failures(db, Some(release), 100)?;
        html.push_str("<h2>Failing devices</h2><table id=\"failures\"><tr><th>device</th><th>state</th><th>reason</th><th>at</th></tr>");
        for f in &failures {
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&f.device),
                esc(&f.state.replace('_', " ")),
                esc(f.reason.as_deref().unwrap_or("")),
                time(f.at)
            );
        }
        html.push_str("</table>");
    } else {
        html.push_str("<p>No device has reported about a release yet.</p>");
    }
    let silent = query::devices(
        db,
        &DeviceFilter {
            silent_since: Some(silent_since),
            limit: Some(100),
            ..Default::default()
        },
    )?;
    let _ = write!(
        html,
        "<h2>Silent devices (nothing since {})</h2><ul id=\"silent\">",
        time(silent_since)
    );
    for d in &silent {
        let seen = d.last_seen.map_or_else(|| "never".to_owned(), time);
        let _ = write!(html, "<li>{} (last seen {seen})</li>", esc(&d.device));
    }
    html.push_str("</ul>");
    device_table(&mut html, db, query)?;
    html.push_str("</body></html>\n");
    Ok(html)
}

fn release_section(
    html: &mut String,
    summary: &Summary,
    points: &[Point],
    waves: Option<&[Wave]>,
    enrolled: u64,
    now: i64,
) {
    let _ = write!(
        html,
        "<h2>Release <span id=\"release\">{}</span></h2><p class=\"big\">Enrolled devices: <b id=\"enrolled\">{enrolled}</b> · \
         not running it: <b id=\"not-running\">{}</b></p>",
        esc(&summary.release),
        summary.not_running
    );
    html.push_str("<table id=\"summary\"><tr><th></th>");
    for c in Counts::NAMES {
        let _ = write!(html, "<th class=\"n {c}\">{}</th>", c.replace('_', " "));
    }
    html.push_str("</tr>");
    counts_row(html, "all", "count", &summary.total);
    for (wave, counts) in &summary.waves {
        let label = if wave == "none" {
            "early / no wave".to_owned()
        } else {
            format!("wave {wave}")
        };
        counts_row(html, &label, &format!("wave-{wave}"), counts);
    }
    html.push_str("</table>");
    html.push_str("<h3>Devices over time</h3>");
    chart::chart(html, points, waves, enrolled, now);
}

fn counts_row(html: &mut String, label: &str, id: &str, c: &Counts) {
    let values = c.values();
    let _ = write!(html, "<tr><th>{}</th>", esc(label));
    for (name, value) in Counts::NAMES.iter().zip(values) {
        let _ = write!(
            html,
            "<td class=\"n\" id=\"{}-{}\">{value}</td>",
            esc(id),
            name
        );
    }
    html.push_str("</tr>");
}

/// The waves of the channel whose target is `release`, if the policy has one.
fn planned_waves(policy: &Policy, release: &str) -> Option<Vec<Wave>> {
    policy
        .channels
        .values()
        .filter_map(|c| c.target.as_ref())
        .find(|t| t.release.as_str() == release)
        .map(|t| t.waves.clone())
}

fn device_table(html: &mut String, db: &mut Db, query: &[(String, String)]) -> Result<(), DbError> {
    let mut filter = DeviceFilter::from_query(query).unwrap_or_default();
    filter.limit = Some(filter.limit.unwrap_or(500).min(500));
    let value = |name: &str| {
        esc(query
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.as_str()))
    };
    let _ = write!(
        html,
        "<h2>Devices</h2><form method=\"get\" action=\"/\"><input type=\"hidden\" name=\"release\" value=\"{}\">\
         platform <input name=\"platform\" value=\"{}\"> group <input name=\"group\" value=\"{}\"> \
         channel <input name=\"channel\" value=\"{}\"> running <input name=\"running\" value=\"{}\"> \
         not running <input name=\"not_running\" value=\"{}\"> <button>Filter</button></form>",
        value("release"),
        value("platform"),
        value("group"),
        value("channel"),
        value("running"),
        value("not_running")
    );
    html.push_str("<table id=\"devices\"><tr><th>device</th><th>running</th><th>platform</th><th>groups</th><th>channel</th><th>last seen</th><th class=\"n\">dropped</th><th>last failure</th></tr>");
    for d in query::devices(db, &filter)? {
        let _ = write!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td></tr>",
            esc(&d.device),
            esc(d.running.as_deref().unwrap_or("")),
            esc(d.platform.as_deref().unwrap_or("")),
            esc(&d.groups.join(", ")),
            esc(d.channel.as_deref().unwrap_or("")),
            d.last_seen.map_or_else(|| "never".to_owned(), time),
            d.dropped,
            esc(d.last_failure.as_deref().unwrap_or(""))
        );
    }
    html.push_str("</table>");
    Ok(())
}

fn time(unix: i64) -> String {
    UtcTime::from_unix(unix).map_or_else(|| unix.to_string(), |t| t.to_string())
}

/// `text` safe inside HTML text and double-quoted attributes.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// `text` safe inside a query parameter.
fn url(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const HEAD: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Fleet rollout</title>\
<style>body{font-family:sans-serif;margin:1.2em 1.5em;color:#222;max-width:1100px}\
h1{margin:.2em 0}h2{margin:1.1em 0 .4em;border-bottom:1px solid #ddd}h3{margin:.8em 0 .2em}\
table{border-collapse:collapse;margin:.4em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}\
th{background:#f3f3f3}.n{text-align:right;font-variant-numeric:tabular-nums}\
th.installed{color:#2ca02c}th.failed{color:#d62728}th.rolled_back{color:#ff7f0e}th.silent{color:#777}\
#failures td:nth-child(3){color:#a00}nav a{margin-right:.6em}ul#silent{columns:3}\
form{display:flex;flex-wrap:wrap;gap:.3em .8em;align-items:center;margin:.4em 0}form input{width:7em}\
.big{font-size:1.3em}</style></head><body>";

#[cfg(test)]
mod tests {
    #[test]
    fn device_text_is_escaped() {
        assert_eq!(super::esc("<script>\"'&"), "&lt;script&gt;&quot;&#39;&amp;");
        assert_eq!(super::url("2.0.0 rc/1"), "2.0.0%20rc%2F1");
    }
}
