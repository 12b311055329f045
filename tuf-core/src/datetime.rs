//! Times in TUF's one format, `YYYY-MM-DDTHH:MM:SSZ`, always UTC, whole seconds, and always
//! within [`UtcTime::MIN`]..=[`UtcTime::MAX`]: years 1970 to 9999.
//!
//! Every date this project reads (metadata `expires`, policy wave starts, `--now`) comes
//! through [`UtcTime::parse`], so one range holds everywhere. The calendar itself (leap
//! years, month lengths, weekdays) is the `time` crate's.
//!
//! Why this range: python-tuf reads and writes `expires` with `strptime`/`strftime`
//! `%Y-%m-%dT%H:%M:%SZ`, four-digit years no later than 9999, and real repositories carry
//! dates around now; nothing legitimate predates the Unix epoch, the zero of every clock
//! this project compares against. A sign (`-2026-...`, `+2026-...`) or a fifth digit is
//! refused: `time`'s own range runs to year -9999, and a wave start in 2026 BC once turned a
//! 10% canary into about 50% of a fleet at once.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::FormatItem;
use time::macros::{datetime, format_description};
use time::{OffsetDateTime, PrimitiveDateTime};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// The shape of the format, byte by byte: `d` a decimal digit, anything else itself.
const SHAPE: &[u8; 20] = b"dddd-dd-ddTdd:dd:ddZ";

/// A point in time, whole seconds, UTC, within [`UtcTime::MIN`]..=[`UtcTime::MAX`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(OffsetDateTime);

impl UtcTime {
    /// The earliest time accepted: the Unix epoch, `1970-01-01T00:00:00Z`.
    pub const MIN: UtcTime = UtcTime(datetime!(1970-01-01 00:00:00 UTC));
    /// The latest time accepted: `9999-12-31T23:59:59Z`.
    pub const MAX: UtcTime = UtcTime(datetime!(9999-12-31 23:59:59 UTC));

    /// The system clock now, truncated to whole seconds (and held within the range: a clock
    /// set before 1970 reads as 1970).
    pub fn now() -> Self {
        let now = OffsetDateTime::now_utc();
        Self::clamped(
            now.checked_sub(time::Duration::nanoseconds(now.nanosecond().into())),
            0,
        )
    }

    /// Seconds since the Unix epoch; `None` outside the range.
    pub fn from_unix(seconds: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .map(UtcTime)
            .filter(|t| (Self::MIN..=Self::MAX).contains(t))
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ`: exactly four year digits, no sign, a real calendar
    /// date and time of day, years 1970 to 9999.
    pub fn parse(text: &str) -> Result<Self, String> {
        let shaped = text.len() == SHAPE.len()
            && text.bytes().zip(SHAPE).all(|(b, &s)| match s {
                b'd' => b.is_ascii_digit(),
                _ => b == s,
            });
        if !shaped {
            return Err(format!(
                "{text:?} is not a time of the form YYYY-MM-DDTHH:MM:SSZ"
            ));
        }
        let t = PrimitiveDateTime::parse(text, FORMAT)
            .map(|t| UtcTime(t.assume_utc()))
            .map_err(|e| {
                format!("{text:?} is not a time of the form YYYY-MM-DDTHH:MM:SSZ ({e})")
            })?;
        if t < Self::MIN {
            return Err(format!(
                "{text:?} is before {}, the earliest time accepted",
                Self::MIN
            ));
        }
        Ok(t)
    }

    /// This time plus `seconds` (negative: minus), held within the range.
    pub fn plus_seconds(&self, seconds: i64) -> Self {
        Self::clamped(
            self.0.checked_add(time::Duration::seconds(seconds)),
            seconds,
        )
    }

    /// Monday-first day of the week: 0 for Monday to 6 for Sunday.
    pub fn weekday_from_monday(&self) -> usize {
        usize::from(self.0.weekday().number_days_from_monday())
    }

    /// Minutes since this day's midnight (UTC).
    pub fn minute_of_day(&self) -> u32 {
        u32::from(self.0.hour()) * 60 + u32::from(self.0.minute())
    }

    /// Midnight (UTC) `days` days after this time's day, held within the range.
    pub fn midnight_plus_days(&self, days: i64) -> Self {
        Self::clamped(
            self.0
                .replace_time(time::Time::MIDNIGHT)
                .checked_add(time::Duration::days(days)),
            days,
        )
    }

    /// `t` held within the range; `None` (beyond even what `time` represents) is the end
    /// that `direction` (the sign of the step taken) was heading for.
    fn clamped(t: Option<OffsetDateTime>, direction: i64) -> Self {
        match t {
            Some(t) => UtcTime(t).clamp(Self::MIN, Self::MAX),
            None if direction < 0 => Self::MIN,
            None => Self::MAX,
        }
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Within the range every value has a four-digit year, so this always formats.
        match self.0.format(FORMAT) {
            Ok(s) => f.write_str(&s),
            Err(_) => write!(f, "@{}", self.0.unix_timestamp()),
        }
    }
}

impl fmt::Debug for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UtcTime({self})")
    }
}

impl Serialize for UtcTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for UtcTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        UtcTime::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let t = UtcTime::parse("2026-11-22T14:44:02Z").unwrap();
        assert_eq!(t.to_string(), "2026-11-22T14:44:02Z");
        assert_eq!(t.plus_seconds(86400).to_string(), "2026-11-23T14:44:02Z");
        assert!(UtcTime::parse("2026-11-22T14:44:02+01:00").is_err());
        assert!(UtcTime::parse("2026-11-22").is_err());
        for edge in [
            "1970-01-01T00:00:00Z",
            "9999-12-31T23:59:59Z",
            "2028-02-29T23:59:59Z",
        ] {
            assert_eq!(UtcTime::parse(edge).unwrap().to_string(), edge);
        }
        assert_eq!(UtcTime::parse("1970-01-01T00:00:00Z"), Ok(UtcTime::MIN));
        assert_eq!(UtcTime::parse("9999-12-31T23:59:59Z"), Ok(UtcTime::MAX));
    }

    #[test]
    fn only_four_digit_years_from_1970_and_real_dates_are_read() {
        let refused = [
            ("-2026-11-23T00:00:00Z", "is not a time of the form"),
            ("+2026-11-23T00:00:00Z", "is not a time of the form"),
            ("12026-11-23T00:00:00Z", "is not a time of the form"),
            ("0000-01-01T00:00:00Z", "the earliest time accepted"),
            ("1969-12-31T23:59:59Z", "the earliest time accepted"),
            ("2026-02-29T00:00:00Z", "is not a time of the form"),
            ("2026-13-01T00:00:00Z", "is not a time of the form"),
            ("2026-11-23T24:00:00Z", "is not a time of the form"),
            ("2026-11-23T23:59:60Z", "is not a time of the form"),
            ("2026-1-023T00:00:00Z", "is not a time of the form"),
            ("2026-11-23T00:00:00z", "is not a time of the form"),
            ("2026-11-23 00:00:00Z", "is not a time of the form"),
            ("２026-11-23T00:00:00Z", "is not a time of the form"),
        ];
        for (text, needle) in refused {
            let e = UtcTime::parse(text).expect_err(text);
            assert!(
                e.contains(needle) && e.contains(&format!("{text:?}")),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn arithmetic_stays_in_range() {
        let t = UtcTime::parse("2026-11-22T14:44:02Z").unwrap();
        assert_eq!(t.plus_seconds(i64::MAX), UtcTime::MAX);
        assert_eq!(t.plus_seconds(i64::MIN), UtcTime::MIN);
        assert_eq!(t.plus_seconds(-t.unix() - 1), UtcTime::MIN);
        assert_eq!(UtcTime::from_unix(-1), None);
        assert_eq!(UtcTime::from_unix(UtcTime::MAX.unix() + 1), None);
        assert_eq!(UtcTime::MIN.plus_seconds(-1), UtcTime::MIN);
        assert!(UtcTime::now() > UtcTime::parse("2025-01-01T00:00:00Z").unwrap());
    }

    #[test]
    fn calendar_questions_are_answered_by_the_calendar() {
        // 2026-11-22 is a Sunday; 2028-02-29 a Tuesday; 1970-01-01 a Thursday.
        let sunday = UtcTime::parse("2026-11-22T14:44:02Z").unwrap();
        assert_eq!(
            (sunday.weekday_from_monday(), sunday.minute_of_day()),
            (6, 884)
        );
        assert_eq!(
            sunday.midnight_plus_days(1).to_string(),
            "2026-11-23T00:00:00Z"
        );
        let leap = UtcTime::parse("2028-02-28T23:00:00Z").unwrap();
        assert_eq!(
            leap.midnight_plus_days(1).to_string(),
            "2028-02-29T00:00:00Z"
        );
        assert_eq!(leap.midnight_plus_days(1).weekday_from_monday(), 1);
        assert_eq!(UtcTime::MIN.weekday_from_monday(), 3);
        assert_eq!(UtcTime::MAX.midnight_plus_days(1), UtcTime::MAX);
    }
}
