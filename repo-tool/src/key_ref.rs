//! Which key a `--remove-key` argument names: a key file, or an unambiguous prefix of at
//! least [`MIN_KEY_ID_PREFIX`] hex characters of a key id the role lists. A removal names
//! exactly one key, or nothing is removed: a short prefix (say `8`) would otherwise match
//! several keys and silently revoke more than the admin meant.

use std::path::Path;

use updater::key::KeyId;

use crate::keys::load_public;

/// The fewest hex characters of a key id that `--remove-key` accepts as a prefix.
pub(crate) const MIN_KEY_ID_PREFIX: usize = 8;

/// Why a `--remove-key` argument names no single key of the role.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum KeyRefError {
    /// Fewer than [`MIN_KEY_ID_PREFIX`] characters, or not hex: it could match several keys.
    #[error("key id prefix {prefix:?} is too short: give at least {MIN_KEY_ID_PREFIX} hex characters of the key id, or the key file ({role} keys it matches: {})", list(matches))]
    TooShort {
        prefix: String,
        role: String,
        matches: Vec<String>,
    },
    /// Several of the role's key ids start with the prefix.
    #[error("key id prefix {prefix:?} is ambiguous: it matches the {role} keys {}; give more of the key id", list(matches))]
    Ambiguous {
        prefix: String,
        role: String,
        matches: Vec<String>,
    },
    /// The key file's key, or every key id with the prefix, is not one of the role's.
    #[error("{which} is not a {role} key")]
    NotListed { which: String, role: String },
    /// The argument is an existing file that is not a public or private key.
    #[error("{which} is not a key file: {reason}")]
    BadKeyFile { which: String, reason: String },
}

fn list(ids: &[String]) -> String {
    if ids.is_empty() {
        "none".to_owned()
    } else {
        ids.join(", ")
    }
}

/// The one key among `listed` (the keys of `role`) that `which` names: a key file, or a key
/// id prefix of at least [`MIN_KEY_ID_PREFIX`] hex characters that exactly one listed id
/// starts with.
pub(crate) fn resolve<'a>(
    which: &str,
    role: &str,
    listed: &'a [KeyId],
) -> Result<&'a KeyId, KeyRefError> {
    let not_listed = || KeyRefError::NotListed {
        which: which.to_owned(),
        role: role.to_owned(),
    };
    let path = Path::new(which);
    if path.exists() {
        let key = load_public(path).map_err(|e| KeyRefError::BadKeyFile {
            which: which.to_owned(),
            reason: format!("{e:#}"),
        })?;
        let id = key.key_id();
        return listed.iter().find(|k| **k == id).ok_or_else(not_listed);
    }
    by_prefix(which, role, listed)
}

/// The one key id among `listed` that starts with `prefix` (case-insensitive hex).
fn by_prefix<'a>(prefix: &str, role: &str, listed: &'a [KeyId]) -> Result<&'a KeyId, KeyRefError> {
    let lower = prefix.to_ascii_lowercase();
    let matching: Vec<&KeyId> = listed
        .iter()
        .filter(|k| !lower.is_empty() && k.as_str().starts_with(&lower))
        .collect();
    let matches = || matching.iter().map(|k| k.as_str().to_owned()).collect();
    let is_hex = prefix.bytes().all(|b| b.is_ascii_hexdigit());
    if prefix.len() < MIN_KEY_ID_PREFIX || !is_hex {
        return Err(KeyRefError::TooShort {
            prefix: prefix.to_owned(),
            role: role.to_owned(),
            matches: matches(),
        });
    }
    match matching.as_slice() {
        [one] => Ok(one),
        [] => Err(KeyRefError::NotListed {
            which: prefix.to_owned(),
            role: role.to_owned(),
        }),
        _ => Err(KeyRefError::Ambiguous {
            prefix: prefix.to_owned(),
            role: role.to_owned(),
            matches: matches(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(texts: &[&str]) -> Vec<KeyId> {
        texts.iter().map(|t| KeyId::new(*t)).collect()
    }

    const A: &str = "81319263aa00000000000000000000000000000000000000000000000000000a";
    const B: &str = "81319263bb00000000000000000000000000000000000000000000000000000b";
    const C: &str = "0f1e2d3c4b5a69780000000000000000000000000000000000000000000000cc";

    #[test]
    fn an_unambiguous_prefix_of_eight_or_more_names_one_key() {
        let listed = ids(&[A, B, C]);
        assert_eq!(resolve("0f1e2d3c", "timestamp", &listed), Ok(&listed[2]));
        assert_eq!(resolve("81319263AA", "timestamp", &listed), Ok(&listed[0]));
        assert_eq!(resolve(B, "timestamp", &listed), Ok(&listed[1]));
    }

    #[test]
    fn an_ambiguous_prefix_is_refused_naming_every_match() {
        let listed = ids(&[A, B, C]);
        let refused = resolve("81319263", "timestamp", &listed).unwrap_err();
        assert_eq!(
            refused,
            KeyRefError::Ambiguous {
                prefix: "81319263".into(),
                role: "timestamp".into(),
                matches: vec![A.into(), B.into()],
            }
        );
        assert_eq!(
            refused.to_string(),
            format!("key id prefix \"81319263\" is ambiguous: it matches the timestamp keys {A}, {B}; give more of the key id")
        );
    }

    #[test]
    fn a_short_or_non_hex_prefix_is_refused_even_when_it_matches_one_key() {
        let listed = ids(&[A, B, C]);
        for short in ["0f1e2d3", "0", "", "0f1e2d3z"] {
            assert!(
                matches!(
                    resolve(short, "root", &listed),
                    Err(KeyRefError::TooShort { .. })
                ),
                "{short:?}"
            );
        }
        assert_eq!(
            resolve("8131", "root", &listed).unwrap_err().to_string(),
            format!("key id prefix \"8131\" is too short: give at least 8 hex characters of the key id, or the key file (root keys it matches: {A}, {B})")
        );
    }

    #[test]
    fn a_prefix_no_listed_key_has_is_refused() {
        let listed = ids(&[A, C]);
        assert_eq!(
            resolve("deadbeef", "snapshot", &listed),
            Err(KeyRefError::NotListed {
                which: "deadbeef".into(),
                role: "snapshot".into()
            })
        );
    }
}
