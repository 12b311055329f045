//! The rollout chart: devices over time (cumulative checked, installed, failed, rolled
//! back) against the policy's planned ramp, as one inline SVG.
//!
//! Invariant: the chart draws numbers and fixed labels only (no device text reaches it), so
//! it needs no escaping; the planned ramp is the policy's shape exactly (a jump at the
//! first wave, straight lines between waves, flat after the last), scaled to the enrolled
//! fleet, and the time axis runs to the last wave's start when that is still ahead.

use std::fmt::Write;

use updater::datetime::UtcTime;
use updater::rollout::policy::Wave;

use crate::query::Point;

/// The plot area, in SVG units; labels sit in the margins around it.
const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 56.0;
/// A full share in basis points, as the policy counts it.
const FULL_SHARE: f64 = 10_000.0;
const DAY: i64 = 86_400;

/// A line of the chart: its name, colour, and value at a point.
type Series = (&'static str, &'static str, fn(&Point) -> u64);

const SERIES: [Series; 4] = [
    ("checked", "#1f77b4", |p| p.checked),
    ("installed", "#2ca02c", |p| p.installed),
    ("failed", "#d62728", |p| p.failed),
    ("rolled back", "#ff7f0e", |p| p.rolled_back),
];
const PLANNED: &str = "#555";

/// Where the chart maps times and counts.
struct Frame {
    start: i64,
    end: i64,
    top: u64,
}

impl Frame {
    fn x(&self, t: i64) -> f64 {
        (t - self.start) as f64 / (self.end - self.start) as f64 * WIDTH
    }

    fn y(&self, n: f64) -> f64 {
        HEIGHT - n / self.top as f64 * HEIGHT
    }
}

/// The chart of `points`, with the ramp of `waves` (if the policy has them) over `enrolled`
/// devices, up to `now`.
pub(super) fn chart(
    html: &mut String,
    points: &[Point],
    waves: Option<&[Wave]>,
    enrolled: u64,
    now: i64,
) {
    let Some(first) = points.first().map(|p| p.time) else {
        html.push_str("<p>No events for this release yet.</p>");
        return;
    };
    let waves = waves.unwrap_or(&[]);
    let wave_start = waves.first().map_or(first, |w| w.start.unix());
    let wave_end = waves.last().map_or(now, |w| w.start.unix());
    let last = points.last().map_or(first, |p| p.time);
    let start = first.min(wave_start);
    let span = (now.max(last).max(wave_end) - start).max(1);
    let frame = Frame {
        start,
        // A little room after the last thing drawn.
        end: start + span + span / 20,
        top: enrolled
            .max(points.iter().map(|p| p.checked).max().unwrap_or(0))
            .max(1),
    };
    let _ = write!(
        html,
        "<svg id=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"{x} {y} {w} {h}\" font-size=\"12\" font-family=\"sans-serif\">\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#fcfcfc\" stroke=\"#bbb\"/>",
        x = -LEFT,
        y = -TOP,
        w = WIDTH + LEFT + 16.0,
        h = HEIGHT + TOP + BOTTOM,
    );
    grid(html, &frame);
    if !waves.is_empty() {
        wave_marks(html, &frame, waves);
        planned(html, &frame, waves, enrolled);
    }
    for (_, color, value) in SERIES {
        let mut path = format!("M{:.1},{:.1}", frame.x(start), frame.y(0.0));
        for p in points {
            let at = frame.x(p.time);
            let _ = write!(path, " H{at:.1} V{:.1}", frame.y(value(p) as f64));
        }
        let _ = write!(path, " H{:.1}", frame.x(now.max(last)));
        let _ = write!(
            html,
            "<path d=\"{path}\" fill=\"none\" stroke=\"{color}\" stroke-width=\"2.5\"/>"
        );
    }
    let x = frame.x(now);
    let _ = write!(
        html,
        "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{HEIGHT}\" stroke=\"#000\" stroke-width=\"1\"/>\
         <text x=\"{x:.1}\" y=\"-6\" text-anchor=\"middle\" font-weight=\"bold\">now</text>"
    );
    legend(html, !waves.is_empty());
    html.push_str("</svg>");
}

/// Horizontal lines at each quarter of the scale, and a tick a day along the time axis
/// (every few days on a long rollout).
fn grid(html: &mut String, frame: &Frame) {
    for quarter in 0..=4u32 {
        let n = frame.top as f64 * f64::from(quarter) / 4.0;
        let y = frame.y(n);
        let _ = write!(
            html,
            "<line x1=\"0\" y1=\"{y:.1}\" x2=\"{WIDTH}\" y2=\"{y:.1}\" stroke=\"#e4e4e4\"/>\
             <text x=\"-8\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            y + 4.0,
            n.round()
        );
    }
    let days = (frame.end - frame.start) / DAY + 1;
    let step = (days / 12 + 1) * DAY;
    let mut t = frame.start - frame.start.rem_euclid(DAY) + DAY;
    while t < frame.end {
        let x = frame.x(t);
        let label = UtcTime::from_unix(t).map_or_else(String::new, |d| d.to_string());
        let _ = write!(
            html,
            "<line x1=\"{x:.1}\" y1=\"{HEIGHT}\" x2=\"{x:.1}\" y2=\"{}\" stroke=\"#999\"/>\
             <text x=\"{x:.1}\" y=\"{}\" text-anchor=\"middle\" fill=\"#444\">{}</text>",
            HEIGHT + 5.0,
            HEIGHT + 18.0,
            label.get(..10).unwrap_or(&label)
        );
        t += step;
    }
}

/// A dotted line at each wave's start, labelled with its number and share.
fn wave_marks(html: &mut String, frame: &Frame, waves: &[Wave]) {
    for (i, wave) in waves.iter().enumerate() {
        let x = frame.x(wave.start.unix());
        // Labels near the right edge go left of their line, so they stay inside.
        let (dx, anchor) = if x > WIDTH * 0.8 {
            (-4.0, "end")
        } else {
            (4.0, "start")
        };
        let _ = write!(
            html,
            "<line x1=\"{x:.1}\" y1=\"0\" x2=\"{x:.1}\" y2=\"{HEIGHT}\" stroke=\"{PLANNED}\" stroke-dasharray=\"2 3\"/>\
             <text x=\"{:.1}\" y=\"14\" text-anchor=\"{anchor}\" fill=\"{PLANNED}\">wave {} · {}%</text>",
            x + dx,
            i + 1,
            f64::from(wave.share) / 100.0
        );
    }
}

/// The policy's planned ramp: the eligible share of the enrolled devices at each time.
fn planned(html: &mut String, frame: &Frame, waves: &[Wave], enrolled: u64) {
    let at = |share: u32| frame.y(enrolled as f64 * f64::from(share) / FULL_SHARE);
    let mut path = format!("M{:.1},{:.1}", frame.x(frame.start), at(0));
    if let Some(first) = waves.first() {
        let _ = write!(path, " H{:.1}", frame.x(first.start.unix()));
    }
    for wave in waves {
        let _ = write!(
            path,
            " L{:.1},{:.1}",
            frame.x(wave.start.unix()),
            at(wave.share)
        );
    }
    let _ = write!(path, " H{WIDTH}");
    let _ = write!(
        html,
        "<path id=\"planned\" d=\"{path}\" fill=\"none\" stroke=\"{PLANNED}\" stroke-width=\"1.5\" stroke-dasharray=\"7 4\"/>"
    );
}

/// One row under the time axis: a short line of each series' colour, then its name.
fn legend(html: &mut String, with_plan: bool) {
    let y = HEIGHT + 42.0;
    let mut x = 0.0;
    let mut item = |name: &str, color: &str, dash: &str| {
        let _ = write!(
            html,
            "<line x1=\"{x}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{color}\" stroke-width=\"2.5\" stroke-dasharray=\"{dash}\"/>\
             <text x=\"{}\" y=\"{y}\">{name}</text>",
            y - 4.0,
            x + 22.0,
            y - 4.0,
            x + 28.0
        );
        x += 40.0 + 7.0 * name.len() as f64;
    };
    for (name, color, _) in SERIES {
        item(name, color, "none");
    }
    if with_plan {
        item(
            "planned: share of enrolled devices the policy allows",
            PLANNED,
            "7 4",
        );
    }
}
