//! Expiry times in TUF's one format, `YYYY-MM-DDTHH:MM:SSZ`, always UTC.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime};

const FORMAT: &[FormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// A point in time, whole seconds, UTC.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UtcTime(OffsetDateTime);

impl UtcTime {
    /// The system clock now, truncated to whole seconds.
    pub fn now() -> Self {
        Self::from_unix(OffsetDateTime::now_utc().unix_timestamp())
            .expect("the system clock is within the representable range")
    }

    /// Seconds since the Unix epoch.
    pub fn from_unix(seconds: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(seconds)
            .ok()
            .map(UtcTime)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// Parses `YYYY-MM-DDTHH:MM:SSZ`.
    pub fn parse(text: &str) -> Result<Self, String> {
        PrimitiveDateTime::parse(text, FORMAT)
            .map(|t| UtcTime(t.assume_utc()))
            .map_err(|e| format!("{text:?} is not a time of the form YYYY-MM-DDTHH:MM:SSZ ({e})"))
    }

    /// This time plus `seconds` (saturating at the end of the representable range).
    pub fn plus_seconds(&self, seconds: i64) -> Self {
        self.0
            .checked_add(time::Duration::seconds(seconds))
            .map(UtcTime)
            .unwrap_or(*self)
    }
}

impl fmt::Display for UtcTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
    }
}
