//! The label rule: what a release or platform label may be. Labels become path segments
//! everywhere (`releases/<release>/<platform>/...` in target names, `INSTALL/releases/<release>`
//! and `INSTALL/.staging/<release>` folders on the device, the `current` link's target), so
//! a label is one safe segment: 1 to [`MAX_LABEL`] characters of ASCII letters, digits and
//! `. _ + - ~`, and never `.` or `..`. `repo add`, the policy parser and the device's index
//! reading all check this one rule.

/// Longest label, in characters (all ASCII, so also bytes): well inside one file name (255
/// bytes) and inside the target-name budget beside a platform and a file name.
pub const MAX_LABEL: usize = 128;

/// A label outside the rule; `what` says which label (`release`, `platform`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} {value:?} must be 1-{MAX_LABEL} characters of letters, digits and . _ + - ~ \
     (and not . or ..)"
)]
pub struct LabelError {
    pub what: &'static str,
    pub value: String,
}

/// Checks `value` as a `what` label (`release`, `platform`).
pub fn check_label(what: &'static str, value: &str) -> Result<(), LabelError> {
    let ok = !value.is_empty()
        && value.len() <= MAX_LABEL
        && value != "."
        && value != ".."
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+-~".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(LabelError {
            what,
            value: value.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_up_to_128_safe_characters() {
        for ok in [
            "1",
            "2.5.0-rc1",
            "1.0.0+b1",
            "a_b~c",
            &"9".repeat(MAX_LABEL),
        ] {
            assert_eq!(check_label("release", ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_is_not_one_safe_segment() {
        let long = "9".repeat(MAX_LABEL + 1);
        for bad in ["", ".", "..", "a/b", "a b", "é", "a\0", "a%2F", &long] {
            let e = check_label("release", bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!(
                    "release {bad:?} must be 1-128 characters of letters, digits and . _ + - ~ \
                     (and not . or ..)"
                )
            );
        }
    }
}
