//! How the device speaks TLS, to mirrors and collectors alike: whom it trusts (the public
//! web roots, plus an optional extra CA file), who it says it is (an optional client
//! certificate), and what a server's refusal of that identity means.
//!
//! Invariant: server certificates are always verified (nothing here can turn that off);
//! every file is read bounded ([`crate::limits::MAX_CA_FILE_BYTES`]) and an error names the
//! file, never its bytes, so a private key never reaches a message.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::AlertDescription;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS client configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("{what}: {source}")]
    Read {
        what: &'static str,
        source: crate::error::Error,
    },
    #[error("{what} {} holds no {holds} in PEM", path.display())]
    NoPem {
        what: &'static str,
        path: PathBuf,
        holds: &'static str,
    },
    #[error("CA file {}: {reason}", path.display())]
    BadCa { path: PathBuf, reason: String },
    #[error("client certificate {} and key {}: {reason}", cert.display(), key.display())]
    BadIdentity {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
    #[error("TLS: {0}")]
    Protocol(String),
}

/// A client certificate chain (PEM, leaf first) and its private key (PEM), for servers
/// that ask for one: `[repository]` or `[report]` `client_cert` and `client_key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl ClientIdentity {
    /// The chain and key, read bounded; a file that holds neither is an error naming it.
    fn load(
        &self,
    ) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsSetupError> {
        let no_pem = |what, path: &Path, holds| TlsSetupError::NoPem {
            what,
            path: path.to_owned(),
            holds,
        };
        let cert_pem = read("client certificate", &self.cert)?;
        let chain: Vec<_> = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<_, _>>()
            .map_err(|_| no_pem("client certificate", &self.cert, "certificate"))?;
        if chain.is_empty() {
            return Err(no_pem("client certificate", &self.cert, "certificate"));
        }
        // The parser's error is not shown: it could quote the key's bytes.
        let key = PrivateKeyDer::from_pem_slice(&read("client key", &self.key)?)
            .map_err(|_| no_pem("client key", &self.key, "private key"))?;
        Ok((chain, key))
    }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsSetupError> {
    crate::fs::read_bounded(path, crate::limits::MAX_CA_FILE_BYTES)
        .map_err(|source| TlsSetupError::Read { what, source })
}

/// The TLS client configuration trusting the public web roots and `extra_ca`, presenting
/// `identity` to a server that asks for a client certificate (none without it).
pub(crate) fn client_config(
    extra_ca: Option<&Path>,
    identity: Option<&ClientIdentity>,
) -> Result<rustls::ClientConfig, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        let pem = read("CA file", path)?;
        let mut added = 0;
        for cert in CertificateDer::pem_slice_iter(&pem) {
            let bad = |reason: String| TlsSetupError::BadCa {
                path: path.to_owned(),
                reason,
            };
            let cert = cert.map_err(|e| bad(format!("not valid PEM: {e}")))?;
            roots.add(cert).map_err(|e| bad(e.to_string()))?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsSetupError::NoPem {
                what: "CA file",
                path: path.to_owned(),
                holds: "certificate",
            });
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsSetupError::Protocol(e.to_string()))?
        .with_root_certificates(roots);
    match identity {
        None => Ok(builder.with_no_client_auth()),
        Some(identity) => {
            let (chain, key) = identity.load()?;
            // rustls refuses a key that does not match the leaf; its message holds no key.
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsSetupError::BadIdentity {
                    cert: identity.cert.clone(),
                    key: identity.key.clone(),
                    reason: e.to_string(),
                })
        }
    }
}

/// How a server turned down this device's identity at the TLS layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientCertRefusal {
    /// The server wants a client certificate and the device presented none.
    Missing,
    /// The server did not accept the certificate the device presented (not issued by a CA
    /// it trusts, expired, revoked).
    NotTrusted,
}

impl ClientCertRefusal {
    /// What the server's TLS `alert` means for a device that did (`presented`) or did not
    /// present a certificate; `None` for an alert about something else.
    ///
    /// A TLS 1.3 server that wants a certificate and got none sends `certificate_required`;
    /// a TLS 1.2 one sends `handshake_failure` (which, with no certificate presented, is
    /// read as the same). A certificate the server does not accept draws one of the alerts
    /// about certificates, or `access_denied`.
    pub(crate) fn from_alert(alert: AlertDescription, presented: bool) -> Option<Self> {
        use AlertDescription as A;
        match (alert, presented) {
            (A::CertificateRequired, _) | (A::HandshakeFailure, false) => {
                Some(ClientCertRefusal::Missing)
            }
            (
                A::BadCertificate
                | A::UnsupportedCertificate
                | A::CertificateRevoked
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::UnknownCA
                | A::AccessDenied,
                true,
            ) => Some(ClientCertRefusal::NotTrusted),
            _ => None,
        }
    }

    /// What an HTTP 400 from an HTTPS mirror means. nginx with `ssl_verify_client on`
    /// completes the handshake whatever the device presents and then answers every request
    /// with 400 ("No required SSL certificate was sent", "The SSL certificate error"); a
    /// static mirror has no other reason to call a plain GET malformed, so a 400 from an
    /// HTTPS mirror is read as this refusal.
    pub(crate) fn from_https_400(presented: bool) -> Self {
        if presented {
            ClientCertRefusal::NotTrusted
        } else {
            ClientCertRefusal::Missing
        }
    }
}

/// The TLS alert the server sent, if `error` (a failed request's) carries one: rustls puts
/// its typed error inside an I/O error, which ureq may wrap again in its own.
pub(crate) fn received_alert(
    error: &(dyn std::error::Error + 'static),
) -> Option<AlertDescription> {
    if let Some(rustls::Error::AlertReceived(alert)) = error.downcast_ref() {
        return Some(*alert);
    }
    // `io::Error::source` skips the error it wraps (it is that error's source), so an I/O
    // error is looked into through what it wraps.
    let wrapped = error
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref());
    match wrapped {
        Some(inner) => received_alert(inner),
        None => received_alert(error.source()?),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_about_the_client_certificate_are_read_as_refusals() {
        use AlertDescription as A;
        let read = ClientCertRefusal::from_alert;
        assert_eq!(
            read(A::CertificateRequired, false),
            Some(ClientCertRefusal::Missing)
        );
        assert_eq!(
            read(A::HandshakeFailure, false),
            Some(ClientCertRefusal::Missing)
        );
        assert_eq!(
            read(A::UnknownCA, true),
            Some(ClientCertRefusal::NotTrusted)
        );
        assert_eq!(
            read(A::BadCertificate, true),
            Some(ClientCertRefusal::NotTrusted)
        );
        // Alerts about other things, or about a certificate the device never sent.
        assert_eq!(read(A::HandshakeFailure, true), None);
        assert_eq!(read(A::ProtocolVersion, false), None);
        assert_eq!(read(A::UnknownCA, false), None);
    }

    #[test]
    fn an_alert_is_found_inside_the_io_error() {
        let io = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        );
        assert_eq!(
            received_alert(&io),
            Some(AlertDescription::CertificateRequired)
        );
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        assert_eq!(received_alert(&plain), None);
    }

    #[test]
    fn files_without_pem_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("client.pem");
        std::fs::write(&cert, "not pem").unwrap();
        let identity = ClientIdentity {
            cert: cert.clone(),
            key: dir.path().join("client.key"),
        };
        let e = client_config(None, Some(&identity))
            .unwrap_err()
            .to_string();
        let named = format!(
            "client certificate {} holds no certificate in PEM",
            cert.display()
        );
        assert_eq!(e, named);
        let e = client_config(Some(&cert), None).unwrap_err().to_string();
        assert_eq!(
            e,
            format!("CA file {} holds no certificate in PEM", cert.display())
        );
    }
}
