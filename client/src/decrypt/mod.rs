//! Decrypting encrypted artifacts, in the one order that is safe: the ciphertext's length
//! and hash against the signed index first ([`CheckedCiphertext`], the only input
//! [`decrypt`] takes), then its age header, bounded ([`read_header`]), then age decryption with the device's identity, streamed in 64 KiB
//! chunks, then the plaintext's length and SHA-512 against what the index recorded
//! (`custom.encrypted`). Only a plaintext that matched is renamed to its place; until then
//! it is a temporary file the installer never reads.
//!
//! Invariant: no byte is decrypted that the index did not sign, no decrypted byte is used
//! that the index did not sign, and memory stays flat in the artifact's size.

mod header;
mod identity;

use std::fs::File;
use std::io::{BufReader, Read, Seek, Write};
use std::path::{Path, PathBuf};

pub use header::{read_header, AgeHeader, HeaderError};
pub use identity::{DeviceIdentity, IdentityError};

use crate::conventions::name_budget::{plain_file_name, PLAIN_PREFIX};
use crate::conventions::Encrypted;
use crate::error::Error;
use crate::hash::{Algorithm, StreamHash};
use crate::metadata::TargetInfo;
use crate::names::TargetName;
use crate::update::artifact::TargetHash;

/// Why an encrypted artifact was not decrypted.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// The device is not among the recipients: it is not authorized for this release.
    #[error("target {name} is encrypted to {recipients} recipient(s), and this device ({recipient}) is not one of them: it is not authorized for this release; nothing was installed (to authorize it, add its recipient, from `updater id`, to the release's recipients file and add the release again under a new version)")]
    NotARecipient {
        name: String,
        recipients: u64,
        recipient: String,
    },
    /// The signed ciphertext is not an age file this identity can read to its end.
    #[error("target {name}: its signed bytes do not decrypt as an age file ({reason}); refused, nothing was installed")]
    Damaged { name: String, reason: String },
    /// No device can open it: a header too large, or not for X25519 identities.
    #[error("target {name}: no device can decrypt it ({reason}); refused, nothing was installed")]
    Unusable { name: String, reason: HeaderError },
    /// Decrypted, but not to the plaintext the index recorded.
    #[error("target {name}: the decrypted bytes are not the ones the index signed ({reason}); refused, nothing was installed")]
    Plaintext { name: String, reason: Error },
    #[error(transparent)]
    Refused(#[from] Error),
}

/// A download whose bytes matched the signed index, held open: what [`decrypt`] reads, so
/// the bytes decrypted are the very bytes checked, not the file read a second time.
pub struct CheckedCiphertext {
    file: File,
}

impl CheckedCiphertext {
    /// Checks the file at `path` against the index's listing `info` (length and hash),
    /// reading at most one byte past the listed length.
    pub fn check(name: &TargetName, path: &Path, info: &TargetInfo) -> Result<Self, Error> {
        let what = name.as_str();
        let hash = TargetHash::for_target(what, info)?;
        let mut file = crate::fs::open_regular(path)?;
        hash.check_copy(what, path, &mut file, &mut std::io::sink(), info)?;
        file.rewind().map_err(|e| Error::io(path, e))?;
        Ok(CheckedCiphertext { file })
    }
}

/// Where the verified plaintext of the encrypted artifact `name` is kept in `dir`.
pub fn plain_path(dir: &Path, name: &TargetName, encrypted: &Encrypted) -> PathBuf {
    let short = hex::encode(encrypted.sha512.0.get(..8).unwrap_or(&encrypted.sha512.0));
    dir.join(plain_file_name(name, &short))
}

/// Makes the verified plaintext of the encrypted artifact `name` (listed as `info`) in
/// `dir`, from its verified download there, unless a copy that matches is there already.
/// Returns whether it decrypted.
pub fn decrypt_download(
    name: &TargetName,
    info: &TargetInfo,
    encrypted: &Encrypted,
    dir: &Path,
    identity: &DeviceIdentity,
) -> Result<bool, DecryptError> {
    let dest = plain_path(dir, name, encrypted);
    let plain = encrypted.plaintext();
    let hash = TargetHash::for_target(name.as_str(), &plain)?;
    if dest.is_file() && hash.check_file(name.as_str(), &dest, &plain).is_ok() {
        return Ok(false);
    }
    let download = dir.join(crate::conventions::name_budget::local_file_name(name));
    let ciphertext = CheckedCiphertext::check(name, &download, info)?;
    decrypt(name, ciphertext, encrypted, identity, &dest)?;
    Ok(true)
}

/// Decrypts `ciphertext` with `identity` into `dest`, which is written only once the
/// plaintext matched `encrypted` (length and SHA-512).
pub fn decrypt(
    name: &TargetName,
    ciphertext: CheckedCiphertext,
    encrypted: &Encrypted,
    identity: &DeviceIdentity,
    dest: &Path,
) -> Result<(), DecryptError> {
    let damaged = |reason: String| DecryptError::Damaged {
        name: name.as_str().to_owned(),
        reason,
    };
    // The header first, bounded, from the checked handle; then back to its start for age.
    let mut file = ciphertext.file;
    read_header(&mut file).map_err(|reason| DecryptError::Unusable {
        name: name.as_str().to_owned(),
        reason,
    })?;
    file.rewind().map_err(|e| damaged(e.to_string()))?;
    let input = BufReader::with_capacity(crate::hash::STREAM_CHUNK, file);
    let decryptor = age::Decryptor::new_buffered(input).map_err(|e| damaged(e.to_string()))?;
    let recipient: &dyn age::Identity = identity.age();
    let reader = decryptor
        .decrypt(std::iter::once(recipient))
        .map_err(|e| match e {
            age::DecryptError::NoMatchingKeys => DecryptError::NotARecipient {
                name: name.as_str().to_owned(),
                recipients: encrypted.recipients,
                recipient: identity.recipient(),
            },
            other => damaged(other.to_string()),
        })?;
    let dir = dest.parent().unwrap_or(Path::new("."));
    let io = |path: &Path, e| DecryptError::Refused(Error::io(path, e));
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!("{PLAIN_PREFIX}tmp."))
        .tempfile_in(dir)
        .map_err(|e| io(dir, e))?;
    let (length, digest) =
        copy_hashing(reader, tmp.as_file_mut(), encrypted.length).map_err(|e| match e {
            Copy::Read(e) => damaged(e.to_string()),
            Copy::Write(e) => io(tmp.path(), e),
        })?;
    let plain = encrypted.plaintext();
    let hash = TargetHash::for_target(name.as_str(), &plain)?;
    hash.check(name.as_str(), &plain, length, &digest)
        .map_err(|reason| DecryptError::Plaintext {
            name: name.as_str().to_owned(),
            reason,
        })?;
    tmp.as_file().sync_all().map_err(|e| io(tmp.path(), e))?;
    tmp.persist(dest).map_err(|e| io(dest, e.error))?;
    crate::fs::sync_dir(dir).map_err(|e| io(dir, e))?;
    Ok(())
}

/// A failure while copying: reading the decrypted stream (the ciphertext is damaged) or
/// writing the plaintext (the disk).
enum Copy {
    Read(std::io::Error),
    Write(std::io::Error),
}

/// Copies `reader` into `out`, at most one byte past `length`, hashing with SHA-512.
fn copy_hashing(reader: impl Read, out: &mut File, length: u64) -> Result<(u64, Vec<u8>), Copy> {
    let mut reader = reader.take(length.saturating_add(1));
    let mut hash = Algorithm::Sha512.hasher();
    let mut buf = vec![0u8; crate::hash::STREAM_CHUNK];
    let mut copied = 0u64;
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Copy::Read(e)),
        };
        hash.update(&buf[..n]);
        out.write_all(&buf[..n]).map_err(Copy::Write)?;
        copied += n as u64;
    }
    Ok((copied, hash.finish()))
}
