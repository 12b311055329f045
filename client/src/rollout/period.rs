//! Expiry periods as admins write them: `90d`, `12h`, `2w`, `30m`, `3600s`.

use std::fmt;
use std::str::FromStr;

/// A length of time in whole seconds, at least one second.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period(i64);

impl Period {
    /// The period in seconds.
    pub fn seconds(&self) -> i64 {
        self.0
    }

    /// A period of `hours` hours.
    pub fn hours(hours: i64) -> Self {
        Period(hours * 3_600)
    }

    /// A period of `minutes` minutes.
    pub fn minutes(minutes: i64) -> Self {
        Period(minutes * 60)
    }

    /// A period of `days` days.
    pub fn days(days: i64) -> Self {
        Period(days * 86_400)
    }
}

impl FromStr for Period {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || format!("{text:?} is not a period such as 90d, 12h, 2w, 30m or 3600s");
        let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let (number, unit) = text.split_at(split);
        let n: i64 = number.parse().map_err(|_| bad())?;
        let scale = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3_600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(bad()),
        };
        match n.checked_mul(scale) {
            Some(seconds) if seconds > 0 && seconds <= 100 * 366 * 86_400 => Ok(Period(seconds)),
            _ => Err(format!("{text:?} must be between 1s and 100 years")),
        }
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.0;
        if s % 86_400 == 0 {
            write!(f, "{}d", s / 86_400)
        } else if s % 3_600 == 0 {
            write!(f, "{}h", s / 3_600)
        } else if s % 60 == 0 {
            write!(f, "{}m", s / 60)
        } else {
            write!(f, "{s}s")
        }
    }
}

impl serde::Serialize for Period {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> serde::Deserialize<'de> for Period {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!("90d".parse::<Period>().unwrap().seconds(), 90 * 86_400);
        assert_eq!("12h".parse::<Period>().unwrap().to_string(), "12h");
        assert_eq!("2w".parse::<Period>().unwrap().to_string(), "14d");
        assert!("0d".parse::<Period>().is_err());
        assert!("d".parse::<Period>().is_err());
        assert!("5y".parse::<Period>().is_err());
        assert!("-5d".parse::<Period>().is_err());
    }
}
