//! A release label and the order of releases, the one order both programs use (the policy's
//! `<via>` check, `repo export --releases`, the device's upgrade and downgrade decisions).
//!
//! Where labels are semantic versions the order is semver precedence: `2.5.0-rc1 < 2.5.0`,
//! build metadata ignored (`1.0.0+b1 < 1.0.9`). Every other label gets the same treatment,
//! so the order is total: the part before the first `+` is the version, split at its first
//! `-` into a release part and a prerelease part; the release parts compare identifier by
//! identifier on `.`; a release without a prerelease is above one with; prerelease
//! identifiers compare as semver does (numeric by value and below alphanumeric ones, which
//! compare as ASCII; fewer identifiers below more). Ties (`1.0.0` against `1.0.0+b1` or
//! `01.0.0`) go to the full text, so two labels are equal only when their text is: `Ord`
//! agrees with `Eq` and `Hash`, as sorting and `BTreeMap` need.

use std::cmp::Ordering;
use std::fmt;

use super::label::{check_label, LabelError};

/// A release label, checked by the label rule and ordered as versions (see the module).
#[derive(Clone, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct Release(String);

impl Release {
    /// Checks `name` against the label rule.
    pub fn new(name: &str) -> Result<Self, LabelError> {
        check_label("release", name)?;
        Ok(Release(name.to_owned()))
    }

    /// The label.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The sort key, text tie-break aside.
    fn key(&self) -> (Vec<Identifier<'_>>, bool, Vec<Identifier<'_>>) {
        let version = self.0.split_once('+').map_or(self.0.as_str(), |(v, _)| v);
        let (release, prerelease) = match version.split_once('-') {
            Some((r, p)) => (r, Some(p)),
            None => (version, None),
        };
        (
            identifiers(release),
            prerelease.is_none(),
            prerelease.map(identifiers).unwrap_or_default(),
        )
    }
}

/// The `.`-separated identifiers of `text`.
fn identifiers(text: &str) -> Vec<Identifier<'_>> {
    text.split('.').map(Identifier::new).collect()
}

/// One `.`-separated identifier: numeric ones (digits only) by value, below alphanumeric
/// ones, which compare as ASCII.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Identifier<'a> {
    /// Digits without leading zeros, compared by length and then text: by value, however
    /// many digits (a label may hold 128).
    Numeric {
        digits: usize,
        text: &'a str,
    },
    Alphanumeric(&'a str),
}

impl<'a> Identifier<'a> {
    fn new(text: &'a str) -> Self {
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
            let text = text.trim_start_matches('0');
            Identifier::Numeric {
                digits: text.len(),
                text,
            }
        } else {
            Identifier::Alphanumeric(text)
        }
    }
}

impl<'de> serde::Deserialize<'de> for Release {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Release::new(&raw).map_err(serde::de::Error::custom)
    }
}

impl Ord for Release {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key()
            .cmp(&other.key())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for Release {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Release {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn r(s: &str) -> Release {
        Release::new(s).unwrap()
    }

    /// Asserts `labels` are in strictly ascending order, pair by pair and overall.
    fn ascending(labels: &[&str]) {
        for (i, a) in labels.iter().enumerate() {
            for b in &labels[i + 1..] {
                assert!(r(a) < r(b), "{a} < {b}");
                assert!(r(b) > r(a), "{b} > {a}");
            }
        }
    }

    #[test]
    fn semver_spec_precedence_examples() {
        ascending(&[
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
        ]);
        ascending(&["1.0.0", "2.0.0", "2.1.0", "2.1.1"]);
    }

    #[test]
    fn prereleases_are_below_their_release_and_build_metadata_is_ignored() {
        ascending(&["2.5.0-rc1", "2.5.0"]);
        ascending(&["1.0.0+b1", "1.0.9"]);
        ascending(&["1.0.0-rc.1+b9", "1.0.0+b1", "1.0.1-rc.1"]);
        // Equal precedence: the text decides, so the order stays total.
        ascending(&["1.0.0", "1.0.0+b1", "1.0.0+b2"]);
    }

    #[test]
    fn numeric_parts_by_value_other_labels_too() {
        ascending(&["2.4.0", "2.4.1", "2.9.1", "2.10.0"]);
        ascending(&["9", "10"]);
        ascending(&["1", "1.0", "1.0.0"]);
        ascending(&["1.2", "1.a", "1.b"]);
        let huge = format!("1.{}", "9".repeat(100));
        ascending(&["1.99", &huge]);
        // Leading zeros: equal value, the text breaks the tie.
        ascending(&["01.0", "1.0"]);
        ascending(&["2024.01.15", "2024.02.01", "2024.10.01"]);
    }

    fn label() -> impl Strategy<Value = Release> {
        // Short labels over a small alphabet that exercises every separator and both
        // identifier kinds; the full rule is covered by the label tests.
        "[0-2a-b.+~_-]{1,10}".prop_filter_map("a valid label", |s| Release::new(&s).ok())
    }

    proptest! {
        #[test]
        fn order_is_total_and_agrees_with_eq(a in label(), b in label(), c in label()) {
            prop_assert_eq!(a.cmp(&b), b.cmp(&a).reverse());
            prop_assert_eq!(a.cmp(&b) == Ordering::Equal, a == b);
            if a <= b && b <= c {
                prop_assert!(a <= c, "{} <= {} <= {}", a, b, c);
            }
            if a < b && b < c {
                prop_assert!(a < c);
            }
            let mut sorted = [a.clone(), b.clone(), c.clone()];
            sorted.sort();
            prop_assert!(sorted.windows(2).all(|w| w[0] <= w[1]));
        }

        /// Sorted, every pair is in order, not only neighbours: what transitivity promises.
        #[test]
        fn sorting_orders_every_pair(mut labels in prop::collection::vec(label(), 0..40)) {
            labels.sort();
            for (i, a) in labels.iter().enumerate() {
                for b in &labels[i..] {
                    prop_assert!(a <= b, "{} <= {}", a, b);
                }
            }
        }
    }
}
