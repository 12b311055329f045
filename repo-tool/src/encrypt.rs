//! `repo add --encrypt-to FILE`: a release's files encrypted to a list of recipients, in the
//! standard age format, so only the devices (or groups) listed can read them.
//!
//! The recipients file is age's own (`age -R` reads the same file): one X25519 recipient
//! (`age1…`) per line, blank lines and lines starting with `#` ignored, so comments name the
//! devices or groups. Who a release is encrypted to is who may install it: removing a
//! device from the file for later releases revokes it without any key ceremony.
//!
//! Invariant: each file is read once, encrypted as it streams (memory flat in its size),
//! and what the index records about it (the plaintext's length and SHA-512, the recipients'
//! count and fingerprint) describes exactly the bytes encrypted.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::Path;
use std::str::FromStr;

use anyhow::{bail, Context, Result};
use updater::conventions::encrypted::AGE;
use updater::conventions::Encrypted;
use updater::hash::{FileDigest, Sha256, Sha512Hasher, StreamHash};
use updater::limits::MAX_RECIPIENTS;
use updater::metadata::HexDigest;

use crate::progress::Progress;

/// Largest recipients file read: room for about 10,000 recipients with comments.
const MAX_RECIPIENTS_FILE: u64 = 4 * 1024 * 1024;

/// The recipients of a release, as read from a recipients file.
pub struct Recipients {
    keys: Vec<age::x25519::Recipient>,
    /// SHA-256 of the sorted recipients, one per line.
    fingerprint: Sha256,
}

impl Recipients {
    /// Reads the recipients file at `path`; every line that is not blank or a comment must
    /// be an X25519 recipient, and there must be at least one.
    pub fn read(path: &Path) -> Result<Self> {
        let file = updater::fs::open_regular(path)
            .with_context(|| format!("cannot read the recipients file {}", path.display()))?;
        let mut text = String::new();
        file.take(MAX_RECIPIENTS_FILE + 1)
            .read_to_string(&mut text)
            .with_context(|| format!("{} is not a UTF-8 text file", path.display()))?;
        if text.len() as u64 > MAX_RECIPIENTS_FILE {
            bail!(
                "{} is larger than {MAX_RECIPIENTS_FILE} bytes",
                path.display()
            );
        }
        let mut lines: Vec<String> = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if let Err(why) = age::x25519::Recipient::from_str(line) {
                bail!(
                    "{}:{}: not an age X25519 recipient ({why}); each line holds one `age1…` \
                     recipient (`updater id` prints a device's), comments on lines of their \
                     own starting with #",
                    path.display(),
                    number + 1
                );
            }
            lines.push(line.to_owned());
        }
        lines.sort();
        lines.dedup();
        if lines.len() as u64 > MAX_RECIPIENTS {
            bail!(
                "{} lists {} recipients, more than {MAX_RECIPIENTS}: a device would try its \
                 identity on each; encrypt to groups of devices sharing an identity instead",
                path.display(),
                lines.len()
            );
        }
        if lines.is_empty() {
            bail!(
                "{} lists no recipients: a release encrypted to no one could never be \
                 installed; add a line `age1…` per device (`updater id` prints it)",
                path.display()
            );
        }
        let listing: String = lines.iter().map(|l| format!("{l}\n")).collect();
        let keys = lines
            .iter()
            .filter_map(|l| age::x25519::Recipient::from_str(l).ok())
            .collect();
        Ok(Recipients {
            keys,
            fingerprint: Sha256::digest(listing.as_bytes()),
        })
    }

    /// How many distinct recipients.
    pub fn count(&self) -> usize {
        self.keys.len()
    }
}

/// How `repo add` treats a release's files.
#[derive(Clone, Copy)]
pub enum Encryption<'a> {
    /// Stored as they are.
    None,
    /// Encrypted to these recipients.
    To(&'a Recipients),
    /// Already age files (made by `age -R` or a build pipeline), opened with this identity
    /// (one of their recipients) only to record their plaintext.
    Already(&'a AdminIdentity),
}

/// An identity a release admin holds (an escrow recipient of files encrypted beforehand),
/// read from an age identity file.
pub struct AdminIdentity(Vec<age::x25519::Identity>);

impl AdminIdentity {
    /// Reads the X25519 identities of the age identity file at `path`.
    pub fn read(path: &Path) -> Result<Self> {
        let bytes = updater::fs::read_bounded(path, MAX_RECIPIENTS_FILE)
            .with_context(|| format!("cannot read the identity file {}", path.display()))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| anyhow::anyhow!("{} is not a UTF-8 text file", path.display()))?;
        let mut keys = Vec::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match age::x25519::Identity::from_str(line) {
                Ok(key) => keys.push(key),
                Err(why) => bail!(
                    "{}:{}: not an age X25519 identity ({why})",
                    path.display(),
                    number + 1
                ),
            }
        }
        if keys.is_empty() {
            bail!(
                "{} holds no age identity (AGE-SECRET-KEY-1…)",
                path.display()
            );
        }
        Ok(AdminIdentity(keys))
    }
}

/// Takes the age file `source` as it is into the new file `dest`, and opens the copy with
/// `identity` to record its plaintext's length and SHA-512 (never written anywhere). The
/// recipients are counted from its header (`-> X25519` stanzas), and their fingerprint is
/// the SHA-256 of those stanza lines.
pub(crate) fn take_encrypted(
    source: &Path,
    dest: &Path,
    identity: &AdminIdentity,
    progress: &Progress,
) -> Result<(Encrypted, FileDigest)> {
    let ciphertext = crate::ingest::copy_and_hash(source, dest, progress)?;
    // The scan devices run: what `repo` accepts here, every device can open.
    let header = updater::decrypt::read_header(File::open(dest)?)?;
    let file = std::io::BufReader::new(File::open(dest)?);
    let decryptor =
        age::Decryptor::new_buffered(file).map_err(|e| anyhow::anyhow!("not an age file: {e}"))?;
    let keys = identity.0.iter().map(|k| k as &dyn age::Identity);
    let mut reader = decryptor.decrypt(keys).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => anyhow::anyhow!(
            "the identity given cannot open it: encrypt the release to its recipient too"
        ),
        other => anyhow::anyhow!("it does not decrypt: {other}"),
    })?;
    let mut hash = Sha512Hasher::default();
    let mut length = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => bail!("it does not decrypt to its end: {e}"),
        };
        hash.update(&buf[..n]);
        length += n as u64;
    }
    let encrypted = Encrypted {
        format: AGE.to_owned(),
        length,
        sha512: HexDigest(hash.finish().0.to_vec()),
        recipients: header.recipients,
        recipients_sha256: HexDigest(Sha256::digest(header.stanzas.as_bytes()).0.to_vec()),
    };
    Ok((encrypted, ciphertext))
}

/// Encrypts `source` to `recipients` into the new file `dest`. Returns what the index
/// records about the plaintext, and the ciphertext's digests (what devices download).
pub(crate) fn encrypt_file(
    source: &Path,
    dest: &Path,
    recipients: &Recipients,
    progress: &Progress,
) -> Result<(Encrypted, FileDigest)> {
    let mut input = updater::fs::open_regular(source).map_err(std::io::Error::other)?;
    let output = File::options()
        .write(true)
        .create_new(true)
        .open(dest)
        .with_context(|| format!("creating {}", dest.display()))?;
    let keys = recipients.keys.iter().map(|k| k as &dyn age::Recipient);
    let encryptor = age::Encryptor::with_recipients(keys)
        .map_err(|e| anyhow::anyhow!("cannot encrypt to these recipients: {e}"))?;
    let mut writer = encryptor.wrap_output(BufWriter::with_capacity(1 << 20, output))?;
    let mut hash = Sha512Hasher::default();
    let mut length = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        hash.update(&buf[..n]);
        writer.write_all(&buf[..n])?;
        length += n as u64;
        progress.advance(n as u64);
    }
    let file = writer.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    // The ciphertext is read once more for its digests: what devices will check.
    let ciphertext = updater::hash::digest_reader(File::open(dest)?)?;
    let encrypted = Encrypted {
        format: AGE.to_owned(),
        length,
        sha512: HexDigest(hash.finish().0.to_vec()),
        recipients: recipients.count() as u64,
        recipients_sha256: HexDigest(recipients.fingerprint.0.to_vec()),
    };
    Ok((encrypted, ciphertext))
}

#[cfg(test)]
mod tests {
    use super::*;
    use age::secrecy::ExposeSecret;

    #[test]
    fn a_file_encrypted_to_two_recipients_opens_with_either_and_records_its_plaintext() {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (
            age::x25519::Identity::generate(),
            age::x25519::Identity::generate(),
        );
        let list = dir.path().join("recipients.txt");
        let text = format!(
            "# lab devices\n{}\n\n# the same one twice counts once\n{}\n{}\n",
            one.to_public(),
            two.to_public(),
            one.to_public()
        );
        std::fs::write(&list, text).unwrap();
        let recipients = Recipients::read(&list).unwrap();
        assert_eq!(recipients.count(), 2);
        let plain = b"firmware bytes".repeat(100_000);
        std::fs::write(dir.path().join("plain"), &plain).unwrap();
        let dest = dir.path().join("cipher");
        let (encrypted, cipher) = encrypt_file(
            &dir.path().join("plain"),
            &dest,
            &recipients,
            &Progress::bytes(0, "", true),
        )
        .unwrap();
        assert_eq!(encrypted.length, plain.len() as u64);
        assert_eq!(encrypted.sha512.0, updater::hash::Sha512::digest(&plain).0);
        let bytes = std::fs::read(&dest).unwrap();
        assert_eq!(cipher.length, bytes.len() as u64);
        for identity in [&one, &two] {
            let key = identity.to_string().expose_secret().to_owned();
            let identity = age::x25519::Identity::from_str(&key).unwrap();
            let opened = age::decrypt(&identity, &bytes).unwrap();
            assert_eq!(opened, plain);
        }
    }

    #[test]
    fn a_recipients_file_with_a_bad_line_or_none_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let list = dir.path().join("recipients.txt");
        let good = age::x25519::Identity::generate().to_public();
        std::fs::write(&list, format!("{good}\n{good} # inline comment\n")).unwrap();
        let refused = format!("{:#}", Recipients::read(&list).err().unwrap());
        assert!(
            refused.contains("recipients.txt:2: not an age X25519 recipient"),
            "{refused}"
        );
        std::fs::write(&list, "# only comments\n\n").unwrap();
        let refused = format!("{:#}", Recipients::read(&list).err().unwrap());
        assert!(refused.contains("lists no recipients"), "{refused}");
    }
}
