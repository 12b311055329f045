//! The header of an age file, read before anything is decrypted: at most
//! [`MAX_AGE_HEADER_BYTES`], with at least one X25519 recipient stanza. `repo add --already-encrypted`
//! and the device use this one scan, so `repo` never signs a header a device refuses.
//!
//! Why a bound: age tries the device's identity on every stanza (an X25519 exchange each),
//! so a signed file with a million stanzas would keep a device busy for an hour. Why X25519
//! stanzas counted: devices hold X25519 identities; a passphrase (scrypt) file, or one with
//! no X25519 stanza, can never be opened by one, and saying so beats "not one of the
//! recipients". Other stanzas (age writes a random "grease" one; plugins) are skipped.

use std::io::{BufRead, BufReader, Read};

pub use crate::limits::{MAX_AGE_HEADER_BYTES, MAX_RECIPIENTS};

/// What the header says about who can open the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgeHeader {
    /// How many X25519 recipient stanzas.
    pub recipients: u64,
    /// Those stanzas' lines (each `->` line and its body), each ending `\n`.
    pub stanzas: String,
}

/// A header no device can use.
#[derive(Debug, thiserror::Error)]
pub enum HeaderError {
    #[error("not an age file (it does not start with age-encryption.org/v1)")]
    NotAge,
    #[error("its age header is larger than {MAX_AGE_HEADER_BYTES} bytes (room for about {MAX_RECIPIENTS} recipients): encrypt the release to fewer recipients")]
    TooLarge,
    #[error("it is encrypted to a {kind:?} recipient; devices decrypt only with X25519 identities (age1… recipients)")]
    NotX25519 { kind: String },
    #[error("it is encrypted to no X25519 recipient (only {kinds}); devices decrypt only with X25519 identities (age1… recipients)")]
    NoX25519 { kinds: String },
    #[error("its age header is not text")]
    NotText,
    #[error("its age header does not end")]
    Unended,
    #[error("cannot read it: {0}")]
    Io(#[from] std::io::Error),
}

/// Reads the header at the start of `input`, reading at most one byte past the bound.
pub fn read_header(input: impl Read) -> Result<AgeHeader, HeaderError> {
    let mut reader = BufReader::new(input.take(MAX_AGE_HEADER_BYTES + 1));
    let mut line = Vec::new();
    let mut read = 0u64;
    let mut next = |line: &mut Vec<u8>| -> Result<Option<String>, HeaderError> {
        line.clear();
        let n = reader.read_until(b'\n', line)?;
        read += n as u64;
        if read > MAX_AGE_HEADER_BYTES {
            return Err(HeaderError::TooLarge);
        }
        if n == 0 {
            return Ok(None);
        }
        let text = std::str::from_utf8(line).map_err(|_| HeaderError::NotText)?;
        Ok(Some(text.trim_end_matches('\n').to_owned()))
    };
    if next(&mut line)?.as_deref() != Some("age-encryption.org/v1") {
        return Err(HeaderError::NotAge);
    }
    let mut header = AgeHeader {
        recipients: 0,
        stanzas: String::new(),
    };
    // Whether the lines being read belong to an X25519 stanza (its body follows its `->` line).
    let mut in_x25519 = false;
    let mut others = Vec::new();
    while let Some(text) = next(&mut line)? {
        if text.starts_with("---") {
            if header.recipients == 0 {
                return Err(HeaderError::NoX25519 {
                    kinds: others.join(", "),
                });
            }
            return Ok(header);
        }
        if let Some(stanza) = text.strip_prefix("-> ") {
            let kind = stanza.split(' ').next().unwrap_or_default();
            // A passphrase stanza is only ever alone: no identity opens that file.
            if kind == "scrypt" {
                return Err(HeaderError::NotX25519 {
                    kind: kind.to_owned(),
                });
            }
            in_x25519 = kind == "X25519";
            if in_x25519 {
                header.recipients += 1;
            } else {
                // Other stanzas (age's random "grease" ones, plugins') are left to age:
                // a device's identity skips them.
                others.push(format!("{kind:?}"));
            }
        }
        if in_x25519 {
            header.stanzas.push_str(&text);
            header.stanzas.push('\n');
        }
    }
    Err(HeaderError::Unended)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stanza() -> String {
        format!("-> X25519 {}\n{}\n", "A".repeat(43), "B".repeat(43))
    }

    #[test]
    fn counts_x25519_stanzas_and_refuses_others_and_oversized_headers() {
        let good = format!(
            "age-encryption.org/v1\n{}{}--- mac\nPAYLOAD",
            stanza(),
            stanza()
        );
        let header = read_header(good.as_bytes()).unwrap();
        assert_eq!(header.recipients, 2);
        assert_eq!(header.stanzas, format!("{}{}", stanza(), stanza()));
        let scrypt = "age-encryption.org/v1\n-> scrypt salt 18\nbody\n--- mac\n";
        assert!(matches!(
            read_header(scrypt.as_bytes()),
            Err(HeaderError::NotX25519 { kind }) if kind == "scrypt"
        ));
        assert!(matches!(
            read_header(&b"plain"[..]),
            Err(HeaderError::NotAge)
        ));
        let unended = format!("age-encryption.org/v1\n{}", stanza());
        assert!(matches!(
            read_header(unended.as_bytes()),
            Err(HeaderError::Unended)
        ));
        // The most recipients `repo` encrypts to fit; one more stanza's worth does not.
        let most = format!(
            "age-encryption.org/v1\n{}--- {}\n",
            stanza().repeat(MAX_RECIPIENTS as usize),
            "M".repeat(43)
        );
        assert_eq!(
            read_header(most.as_bytes()).unwrap().recipients,
            MAX_RECIPIENTS
        );
        let huge = format!(
            "age-encryption.org/v1\n{}",
            stanza().repeat(MAX_AGE_HEADER_BYTES as usize / stanza().len() + 1)
        );
        assert!(matches!(
            read_header(huge.as_bytes()),
            Err(HeaderError::TooLarge)
        ));
    }
}
