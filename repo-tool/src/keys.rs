//! Key files: ed25519 private keys as PKCS#8 PEM (what `openssl genpkey -algorithm ed25519`
//! writes) and public keys as SubjectPublicKeyInfo PEM (what `openssl pkey -pubout` writes).
//!
//! Private key bytes never reach a log or an error message; errors name only the file.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use updater::key::{KeyId, PublicKey};

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read key file {path}: {source}")]
    Read {
        path: PathBuf,
        source: updater::Error,
    },
    #[error("{path} is not an ed25519 private key in PKCS#8 PEM (as `repo keygen` or `openssl genpkey -algorithm ed25519` writes)")]
    NotPrivateKey { path: PathBuf },
    #[error("{path} is not an ed25519 key in PEM (a public key as `openssl pkey -pubout` writes, or a private key)")]
    NotKey { path: PathBuf },
    #[error("{path} is encrypted: give its passphrase in REPO_KEY_PASSPHRASE, or the name of a file holding it in REPO_KEY_PASSPHRASE_FILE")]
    NeedsPassphrase { path: PathBuf },
    #[error(
        "{path}: the passphrase does not decrypt this key (or it is not an encrypted ed25519 key)"
    )]
    BadPassphrase { path: PathBuf },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A private signing key, loaded from a file.
pub struct PrivateKey {
    signing: SigningKey,
    public: PublicKey,
    key_id: KeyId,
    path: PathBuf,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PrivateKey({} from {})",
            self.key_id.short(),
            self.path.display()
        )
    }
}

impl PrivateKey {
    fn from_signing(signing: SigningKey, path: PathBuf) -> Self {
        let public = PublicKey::ed25519(signing.verifying_key().as_bytes());
        let key_id = public.key_id();
        PrivateKey {
            signing,
            public,
            key_id,
            path,
        }
    }

    /// Loads a PKCS#8 PEM private key.
    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = read_key_text(path)?;
        if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
            let passphrase = passphrase().ok_or_else(|| KeyError::NeedsPassphrase {
                path: path.to_owned(),
            })?;
            let signing = SigningKey::from_pkcs8_encrypted_pem(&text, passphrase.as_bytes())
                .map_err(|_| KeyError::BadPassphrase {
                    path: path.to_owned(),
                })?;
            return Ok(Self::from_signing(signing, path.to_owned()));
        }
        let signing = SigningKey::from_pkcs8_pem(&text).map_err(|_| KeyError::NotPrivateKey {
            path: path.to_owned(),
        })?;
        Ok(Self::from_signing(signing, path.to_owned()))
    }

    /// The public half, as TUF lists it.
    pub(crate) fn public(&self) -> &PublicKey {
        &self.public
    }

    /// The key id of the public half.
    pub(crate) fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The file this key came from.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Signs `message`.
    pub(crate) fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.signing.sign(message).to_bytes().to_vec()
    }
}

/// The passphrase of encrypted key files: `REPO_KEY_PASSPHRASE`, or the first line of the
/// file `REPO_KEY_PASSPHRASE_FILE` names. Never printed.
fn passphrase() -> Option<String> {
    if let Ok(p) = std::env::var("REPO_KEY_PASSPHRASE") {
        return Some(p);
    }
    let file = std::env::var_os("REPO_KEY_PASSPHRASE_FILE")?;
    let bytes =
        updater::fs::read_bounded(Path::new(&file), updater::limits::MAX_PASSPHRASE_FILE_BYTES)
            .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    Some(text.lines().next().unwrap_or_default().to_owned())
}

fn read_key_text(path: &Path) -> Result<String, KeyError> {
    let bytes =
        updater::fs::read_bounded(path, updater::limits::MAX_KEY_FILE_BYTES).map_err(|source| {
            KeyError::Read {
                path: path.to_owned(),
                source,
            }
        })?;
    String::from_utf8(bytes).map_err(|_| KeyError::NotKey {
        path: path.to_owned(),
    })
}

/// Loads a public key from a public key PEM, or takes the public half of a private key PEM.
pub(crate) fn load_public(path: &Path) -> Result<PublicKey, KeyError> {
    let text = read_key_text(path)?;
    if let Ok(key) = VerifyingKey::from_public_key_pem(&text) {
        return Ok(PublicKey::ed25519(key.as_bytes()));
    }
    if let Ok(signing) = SigningKey::from_pkcs8_pem(&text) {
        return Ok(PublicKey::ed25519(signing.verifying_key().as_bytes()));
    }
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        return PrivateKey::load(path).map(|k| k.public().clone());
    }
    Err(KeyError::NotKey {
        path: path.to_owned(),
    })
}

/// Generates a key pair: `<stem>.pem` (private, mode 0600) and `<stem>.pub`. Refuses to
/// overwrite either file.
pub fn generate(stem: &Path) -> Result<(PathBuf, PathBuf, KeyId), KeyError> {
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| KeyError::Write {
        path: stem.to_owned(),
        source: std::io::Error::other(format!("no randomness from the system: {e}")),
    })?;
    let signing = SigningKey::from_bytes(&seed);
    seed.fill(0);

    // PKCS#8 v1 without the optional public key: byte for byte what openssl writes.
    let keypair = ed25519_dalek::pkcs8::KeypairBytes {
        secret_key: signing.to_bytes(),
        public_key: None,
    };
    let private_pem = keypair
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|e| KeyError::Write {
            path: stem.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;
    let public_pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|e| KeyError::Write {
            path: stem.to_owned(),
            source: std::io::Error::other(e.to_string()),
        })?;

    let private_path = with_suffix(stem, "pem");
    let public_path = with_suffix(stem, "pub");
    // A missing key folder is made private (0700): it is about to hold a private key.
    if let Some(dir) = stem.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| KeyError::Write {
                path: dir.to_owned(),
                source,
            })?;
    }
    if public_path.exists() {
        return Err(KeyError::Write {
            path: public_path,
            source: std::io::Error::new(std::io::ErrorKind::AlreadyExists, "file exists"),
        });
    }
    write_new(&private_path, private_pem.as_bytes(), 0o600)?;
    if let Err(e) = write_new(&public_path, public_pem.as_bytes(), 0o644) {
        let _ = std::fs::remove_file(&private_path);
        return Err(e);
    }
    let key_id = PublicKey::ed25519(signing.verifying_key().as_bytes()).key_id();
    Ok((private_path, public_path, key_id))
}

fn with_suffix(stem: &Path, suffix: &str) -> PathBuf {
    let mut name = stem.as_os_str().to_owned();
    name.push(".");
    name.push(suffix);
    PathBuf::from(name)
}

fn write_new(path: &Path, bytes: &[u8], mode: u32) -> Result<(), KeyError> {
    let write = || -> std::io::Result<()> {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        file.write_all(bytes)?;
        file.sync_all()
    };
    write().map_err(|source| KeyError::Write {
        path: path.to_owned(),
        source,
    })
}
