//! The target-name budget: which target names every server can store and every client can
//! fetch, and the names the device gives its own copies. `repo add` refuses a name outside
//! the budget before it writes anything; the device names its files so that every name
//! inside the budget downloads.
//!
//! A name travels three ways, and each sets a limit:
//! - On the server's disk each `/`-separated segment is one file name, at most [`NAME_MAX`]
//!   bytes. With consistent snapshots the last segment carries a hash prefix
//!   (`<sha512>.<base>`, 129 bytes more) and `tough` puts `<sha256>.` before the whole name,
//!   so before its first segment.
//! - In a URL: python-tuf and `tough` paste the name into the URL as it is, so `%` (read as
//!   an escape), `?` (a query) and `#` (a fragment) change which file is asked for. The
//!   whole name, percent-encoded, stays within [`MAX_ENCODED_NAME`] bytes so that a URL
//!   stays under 2 KiB, which servers and proxies accept.
//! - On the device each download is one file in the download folder (see
//!   [`local_file_name`]), and a download in progress one more (see [`partial_file_name`]);
//!   both fit in [`NAME_MAX`] whatever the name's length.

use crate::hash::Sha256;
use crate::names::{percent_encode, TargetName};

/// Longest file name (one path segment) Linux file systems store, in bytes.
pub const NAME_MAX: usize = 255;
/// What consistent snapshots put before a basename: the longest digest listed (SHA-512, 128
/// hex digits) and a dot.
const HASH_PREFIX: usize = 128 + 1;
/// What `tough` puts before the whole name: a SHA-256 (64 hex digits) and a dot.
const TOUGH_PREFIX: usize = 64 + 1;
/// Longest basename: room for the hash prefix within one file name.
pub(crate) const MAX_BASENAME: usize = NAME_MAX - HASH_PREFIX;
/// Longest target name once percent-encoded as in a URL (every byte but ASCII letters,
/// digits, `-._~` and `/` as `%XX`).
pub const MAX_ENCODED_NAME: usize = 1024;
/// Characters that python-tuf and `tough` do not escape and servers read as URL syntax.
const URL_SYNTAX: [char; 3] = ['%', '?', '#'];

/// Why a target name is outside the budget.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverBudget {
    #[error(
        "contains {0:?}, which python-tuf and tough put into URLs unescaped (where it starts \
         an escape, a query or a fragment), so they could not fetch it"
    )]
    UrlSyntax(char),
    #[error(
        "has a file name of {bytes} bytes; at most {MAX_BASENAME} fit, because servers store \
         it as <sha512>.<name> and a file name holds at most {NAME_MAX} bytes"
    )]
    BasenameTooLong { bytes: usize },
    #[error("has a path segment {segment:?} of {bytes} bytes; at most {max} fit in a file name")]
    SegmentTooLong {
        segment: String,
        bytes: usize,
        max: usize,
    },
    #[error("is {bytes} bytes once percent-encoded for a URL; at most {MAX_ENCODED_NAME} fit")]
    TooLong { bytes: usize },
}

/// Checks that `name` can be stored by a server and fetched by the `updater`, python-tuf
/// and `tough`.
pub fn check(name: &TargetName) -> Result<(), OverBudget> {
    let text = name.as_str();
    if let Some(c) = text.chars().find(|c| URL_SYNTAX.contains(c)) {
        return Err(OverBudget::UrlSyntax(c));
    }
    let basename = name.basename();
    if basename.len() > MAX_BASENAME {
        return Err(OverBudget::BasenameTooLong {
            bytes: basename.len(),
        });
    }
    for (i, segment) in text.split('/').enumerate() {
        let max = if i == 0 {
            NAME_MAX - TOUGH_PREFIX
        } else {
            NAME_MAX
        };
        if segment.len() > max {
            return Err(OverBudget::SegmentTooLong {
                segment: segment.to_owned(),
                bytes: segment.len(),
                max,
            });
        }
    }
    let bytes = percent_encode(text, true).len();
    if bytes > MAX_ENCODED_NAME {
        return Err(OverBudget::TooLong { bytes });
    }
    Ok(())
}

/// The hex SHA-256 of the name: what identifies it in a file name too short for it.
fn name_hash(name: &TargetName) -> String {
    Sha256::digest(name.as_str().as_bytes()).to_hex()
}

/// Marks a shortened file name: a percent-encoded name never holds `%` followed by
/// anything but two hex digits, so no name's full form can look like another's short one.
const SHORTENED: &str = "%~";

/// The file the device keeps a download of `name` in: the name percent-encoded, `/`
/// included, so one flat file that cannot point outside its folder
/// (`releases%2F1.0.0%2Fx86_64%2Fapp.bin`). A name too long for that is cut (never inside
/// a `%XX`) and ends in `%~` and the name's SHA-256, so it still fits in one file name and
/// still starts like the name.
pub fn local_file_name(name: &TargetName) -> String {
    let encoded = percent_encode(name.as_str(), false);
    if encoded.len() <= NAME_MAX {
        return encoded;
    }
    let hash = name_hash(name);
    let mut cut = NAME_MAX - SHORTENED.len() - hash.len();
    // Encoded text is ASCII, so any index is a char boundary; step back over a split `%XX`.
    let bytes = encoded.as_bytes();
    if bytes[cut - 1] == b'%' {
        cut -= 1;
    } else if bytes[cut - 2] == b'%' {
        cut -= 2;
    }
    format!("{}{SHORTENED}{hash}", &encoded[..cut])
}

/// Marks a download in progress.
pub const PARTIAL_PREFIX: &str = ".%partial.";

/// The hidden file a download of `name` is written to before it is checked and renamed:
/// `.%partial.<content>.<name>` with `content_hex` the start of the expected digest (so a
/// part of another version is never resumed) and the start of the name's SHA-256, so it
/// fits in one file name whatever the name's length.
pub fn partial_file_name(name: &TargetName, content_hex: &str) -> String {
    let hash = name_hash(name);
    format!("{PARTIAL_PREFIX}{content_hex}.{}", &hash[..32])
}

/// Marks the decrypted copy of an encrypted download.
pub const PLAIN_PREFIX: &str = ".%plain.";

/// The hidden file the decrypted copy of an encrypted download of `name` is kept in, once
/// its plaintext matched the index: `.%plain.<content>.<name>` as [`partial_file_name`], with
/// `content_hex` the start of the plaintext's expected SHA-512.
pub fn plain_file_name(name: &TargetName, content_hex: &str) -> String {
    let hash = name_hash(name);
    format!("{PLAIN_PREFIX}{content_hex}.{}", &hash[..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> TargetName {
        TargetName::new(text).unwrap()
    }

    #[test]
    fn url_syntax_is_refused() {
        for c in ['%', '?', '#'] {
            let n = name(&format!("releases/1/x/a{c}41.bin"));
            assert_eq!(check(&n), Err(OverBudget::UrlSyntax(c)));
        }
        assert_eq!(check(&name("releases/1/x/a b;[]=+&'.bin")), Ok(()));
    }

    #[test]
    fn basename_fits_beside_the_sha512_prefix() {
        let fits = "б".repeat(63);
        assert_eq!(check(&name(&format!("releases/{fits}"))), Ok(()));
        let over = format!("{fits}x");
        assert_eq!(
            check(&name(&format!("releases/{over}"))),
            Err(OverBudget::BasenameTooLong { bytes: 127 })
        );
    }

    #[test]
    fn segments_fit_in_a_file_name() {
        let first = "a".repeat(191);
        assert_eq!(
            check(&name(&format!("{first}/b"))),
            Err(OverBudget::SegmentTooLong {
                segment: first.clone(),
                bytes: 191,
                max: 190
            })
        );
        assert_eq!(check(&name(&format!("{}/b", &first[1..]))), Ok(()));
        let middle = "m".repeat(256);
        assert!(matches!(
            check(&name(&format!("a/{middle}/b"))),
            Err(OverBudget::SegmentTooLong { bytes: 256, .. })
        ));
        assert_eq!(check(&name(&format!("a/{}/b", &middle[1..]))), Ok(()));
    }

    #[test]
    fn whole_name_fits_in_a_url() {
        // 4 + 5 * (1 + 200) = 1009, then a basename to reach the limit exactly.
        let deep = format!("root{}", format!("/{}", "d".repeat(200)).repeat(5));
        // One Cyrillic letter (2 bytes, 6 encoded): the encoded limit bites before the
        // 1024-byte limit of any target name.
        let at = format!(
            "{deep}/{}ж",
            "f".repeat(MAX_ENCODED_NAME - deep.len() - 1 - 6)
        );
        assert_eq!(check(&name(&at)), Ok(()));
        assert_eq!(
            check(&name(&format!("{at}g"))),
            Err(OverBudget::TooLong { bytes: 1025 })
        );
    }

    #[test]
    fn short_names_keep_their_readable_local_name() {
        let n = name("releases/1.0.0/x86_64/app.bin");
        assert_eq!(local_file_name(&n), "releases%2F1.0.0%2Fx86_64%2Fapp.bin");
    }

    #[test]
    fn long_names_get_a_distinct_local_name_that_fits() {
        let long = |tail: &str| name(&format!("releases/1/x/{}{tail}", "ж".repeat(60)));
        let (a, b) = (local_file_name(&long("a")), local_file_name(&long("b")));
        assert_ne!(a, b);
        for local in [&a, &b] {
            assert!(
                local.len() <= NAME_MAX && local.len() >= NAME_MAX - 2,
                "{local}"
            );
            assert!(local.starts_with("releases%2F1%2Fx%2F%D0%B6"), "{local}");
        }
        // Cut never inside a %XX, whatever the offset.
        for pad in 0..3 {
            let n = name(&format!("{}/{}", "a".repeat(pad + 1), "ж".repeat(100)));
            let local = local_file_name(&n);
            let (head, _) = local.split_once(SHORTENED).unwrap();
            assert!(
                head.match_indices('%').all(|(i, _)| i + 3 <= head.len()),
                "{local}"
            );
        }
    }

    #[test]
    fn partial_names_are_short_whatever_the_name() {
        let n = name(&format!("releases/1/x/{}", "ж".repeat(400)));
        let partial = partial_file_name(&n, "0123456789abcdef");
        assert!(partial.starts_with(".%partial.0123456789abcdef."));
        assert_eq!(partial.len(), PARTIAL_PREFIX.len() + 16 + 1 + 32);
    }
}
