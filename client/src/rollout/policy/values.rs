//! The policy's attribute values, each read strictly: days of the week, clock times and
//! percents in basis points. Each error says what was expected.

use super::FULL_SHARE;

/// `mon-fri`, `sat,sun`, `mon,wed-fri`, `daily`.
pub(super) fn parse_days(text: &str) -> Result<[bool; 7], String> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let day = |d: &str| {
        DAYS.iter()
            .position(|x| *x == d.trim())
            .ok_or_else(|| format!("{d:?} is not a day (mon, tue, wed, thu, fri, sat, sun)"))
    };
    let mut days = [false; 7];
    if text.trim() == "daily" {
        return Ok([true; 7]);
    }
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                if a > b {
                    return Err(format!("day range {part:?} runs backwards"));
                }
                days[a..=b].iter_mut().for_each(|d| *d = true);
            }
            None => days[day(part)?] = true,
        }
    }
    Ok(days)
}

/// `HH:MM` as minutes after midnight.
pub(super) fn parse_clock(text: &str) -> Result<u32, String> {
    let bad = || format!("{text:?} is not a time of day HH:MM");
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    // Two digits each: `parse` alone would also take `+1`.
    let two_digits = |s: &str| s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !two_digits(h) || !two_digits(m) {
        return Err(bad());
    }
    let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    if h > 23 || m > 59 {
        return Err(bad());
    }
    Ok(h * 60 + m)
}

/// A percent with at most two decimals (`10`, `12.5`, `0.25`) in basis points.
pub(super) fn parse_percent(text: &str) -> Result<u32, String> {
    let bad =
        || format!("percent {text:?} must be a number from 0 to 100 with at most two decimals");
    let (whole, frac) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty()
        || whole.len() > 3
        || frac.len() > 2
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (text.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    let whole: u32 = whole.parse().map_err(|_| bad())?;
    let frac: u32 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let share = whole * 100 + frac;
    if share > FULL_SHARE {
        return Err(bad());
    }
    Ok(share)
}
