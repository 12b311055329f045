//! Mutual TLS to mirrors, against Debian's real nginx on 127.0.0.1: a mirror with
//! `ssl_verify_client on` serves a device whose certificate its device CA issued
//! (`[repository] client_cert`/`client_key`, or `--client-cert`/`--client-key`), and turns
//! away one without a certificate or with one from another CA, with an error that names the
//! mirror and what to set, leaving the device as it was. A mirror that asks for no
//! certificate serves python-tuf and devices without one as before.

use std::path::{Path, PathBuf};

use e2e_tests::{
    apply, assert_current_complete, changed_paths, make_test_certificates_of, policy_for,
    python_tuf_fetch, python_tuf_fetch_trusting, tree_state, ClientAuth, DemoRepo, Device, Nginx,
    StaticServer,
};
use tempfile::TempDir;

/// The device CA (ca.pem), the server certificate it issued (server.pem) and a device's
/// client certificate it issued (client.pem); and another CA with its own client.pem.
struct Pki {
    device_ca: TempDir,
    other_ca: TempDir,
}

impl Pki {
    fn new() -> Pki {
        let pki = Pki {
            device_ca: tempfile::tempdir().unwrap(),
            other_ca: tempfile::tempdir().unwrap(),
        };
        make_test_certificates_of(pki.device_ca.path(), "maker-device-ca");
        make_test_certificates_of(pki.other_ca.path(), "some-other-ca");
        pki
    }

    fn device(&self, name: &str) -> PathBuf {
        self.device_ca.path().join(name)
    }

    fn other(&self, name: &str) -> PathBuf {
        self.other_ca.path().join(name)
    }

    /// nginx serving `r` over HTTPS with the device CA's server certificate.
    fn nginx(&self, r: &DemoRepo, auth: ClientAuth) -> Nginx {
        let (cert, key) = (self.device("server.pem"), self.device("server.key"));
        Nginx::start_https(&r.public(), &cert, &key, auth)
    }
}

/// A device in its own folder (its `$TMPDIR` beside it, so the whole tree where anything
/// could land is one folder), trusting `r`'s root, configured for the mirror at `url` with
/// `repository` added to its `[repository]` table. The folder, the device and its config.
fn device_for(r: &DemoRepo, url: &str, repository: &str) -> (TempDir, Device, PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let tmpdir = parent.path().join("tmp");
    std::fs::create_dir(&tmpdir).unwrap();
    let device = Device::inside(parent.path(), &tmpdir);
    let root = r.root_json();
    device.updater(&["init".as_ref(), root.as_os_str()]).ok();
    let config = device.configure("02:00:00:00:00:01", url, None, "");
    let text = std::fs::read_to_string(&config).unwrap();
    let text = text.replace("[repository]\n", &format!("[repository]\n{repository}"));
    std::fs::write(&config, text).unwrap();
    (parent, device, config)
}

/// `ca_file` trusting the device CA (which issued the mirror's certificate), and
/// `client_cert`/`client_key` when `identity` names a certificate and key.
fn repository_keys(pki: &Pki, identity: Option<(&Path, &Path)>) -> String {
    let mut keys = format!("ca_file = \"{}\"\n", pki.device("ca.pem").display());
    if let Some((cert, key)) = identity {
        keys += &format!(
            "client_cert = \"{}\"\nclient_key = \"{}\"\n",
            cert.display(),
            key.display()
        );
    }
    keys
}

/// Runs `apply` with `flags` and asserts it is refused with `message` on stderr, and that
/// nothing in the device's folder, its `$TMPDIR` or beside them changed but the install
/// state recording that error.
fn assert_refused(parent: &TempDir, device: &Device, config: &Path, flags: &[&str], message: &str) {
    let before = tree_state(parent.path());
    let mut args: Vec<&std::ffi::OsStr> = flags.iter().map(|f| f.as_ref()).collect();
    args.extend(["--config".as_ref(), config.as_os_str(), "apply".as_ref()]);
    let run = device.updater(&args);
    // The mirror turned the device down: nothing was refused by the device (exit 3).
    let run = run.fails_with(
        3,
        &format!(
            "refresh could not fetch the metadata: 2.root.json: could not be fetched ({message})"
        ),
    );
    let after = tree_state(parent.path());
    let install = device.install_dir();
    let state = install
        .strip_prefix(parent.path())
        .unwrap()
        .join("state.json");
    assert_eq!(
        changed_paths(&before, &after),
        [state.display().to_string()],
        "{run:#?}"
    );
    let recorded = std::fs::read_to_string(install.join("state.json")).unwrap();
    assert!(recorded.contains(message), "{recorded}");
    assert_eq!(device.running(), None);
}

#[test]
fn a_mirror_that_requires_client_certificates_serves_only_devices_of_its_ca() {
    let r = DemoRepo::with_policy(&policy_for("1.0.0", ""));
    let pki = Pki::new();
    let nginx = pki.nginx(&r, ClientAuth::Required(&pki.device("ca.pem")));
    let url = nginx.url();

    // A device with a certificate from the device CA, in its config: it updates.
    let valid = (pki.device("client.pem"), pki.device("client.key"));
    let keys = repository_keys(&pki, Some((&valid.0, &valid.1)));
    let (_folder, device, config) = device_for(&r, &url, &keys);
    apply(&device, &config).ok();
    assert_eq!(assert_current_complete(&device), "1.0.0");

    // Without a certificate: refused, the mirror named, the settings to add said.
    let (folder, device, config) = device_for(&r, &url, &repository_keys(&pki, None));
    let missing = format!(
        "the mirror {url}/metadata requires a client certificate and this device presented \
         none: set [repository] client_cert and client_key (or --client-cert and --client-key)"
    );
    assert_refused(&folder, &device, &config, &[], &missing);
    assert!(
        nginx
            .error_log()
            .contains("client sent no required SSL certificate"),
        "{}",
        nginx.error_log()
    );

    // A certificate from another CA, given by flags (which override the config): refused.
    let other = (pki.other("client.pem"), pki.other("client.key"));
    let flags = [
        "--client-cert",
        other.0.to_str().unwrap(),
        "--client-key",
        other.1.to_str().unwrap(),
    ];
    let untrusted = format!(
        "the mirror {url}/metadata refused this device's client certificate (not issued by a \
         CA it trusts, or expired or revoked): check [repository] client_cert and client_key"
    );
    let (folder, device, config) = device_for(&r, &url, &keys);
    assert_refused(&folder, &device, &config, &flags, &untrusted);
    assert!(
        nginx
            .error_log()
            .contains("client SSL certificate verify error"),
        "{}",
        nginx.error_log()
    );
}

#[test]
fn a_mirror_that_asks_for_no_certificate_serves_python_tuf_and_devices_without_one() {
    let r = DemoRepo::with_policy(&policy_for("1.0.0", ""));
    let pki = Pki::new();
    let nginx = pki.nginx(&r, ClientAuth::None);
    let url = nginx.url();

    // python-tuf, the reference client, reads the whole repository over this HTTPS, as it
    // reads it over plain HTTP.
    let got = python_tuf_fetch_trusting(&url, &r.root_json(), &pki.device("ca.pem"));
    let plain = StaticServer::start(&r.public());
    assert_eq!(got, python_tuf_fetch(&plain.url(), &r.root_json()));
    let app = "releases/1.0.0/armv7/app.bin";
    let want = updater::hash::Sha512::digest(&std::fs::read(r.artifact(app)).unwrap());
    assert_eq!(got.get(app), Some(&want.to_hex()), "{got:#?}");

    // A device without a certificate updates; so does one configured with one (a mirror
    // that does not ask is never sent it).
    let valid = (pki.device("client.pem"), pki.device("client.key"));
    for identity in [None, Some((valid.0.as_path(), valid.1.as_path()))] {
        let (_folder, device, config) = device_for(&r, &url, &repository_keys(&pki, identity));
        apply(&device, &config).ok();
        assert_eq!(assert_current_complete(&device), "1.0.0");
    }
}

#[test]
fn a_client_key_file_that_holds_no_key_is_named_never_shown() {
    let r = DemoRepo::signed();
    let pki = Pki::new();
    let not_a_key = pki.device_ca.path().join("not-a-key.pem");
    std::fs::write(&not_a_key, "SECRET-KEY-BYTES-1234 (not PEM)\n").unwrap();
    let keys = repository_keys(&pki, Some((&pki.device("client.pem"), &not_a_key)));
    let (_folder, device, config) = device_for(&r, "https://127.0.0.1:9", &keys);
    let run = apply(&device, &config).fails_with(
        1,
        &format!(
            "client key {} holds no private key in PEM",
            not_a_key.display()
        ),
    );
    assert!(!run.stderr.contains("SECRET"), "{run:#?}");
}

/// `openssl s_server` serving `dir` over HTTPS, refusing at the handshake (a TLS alert,
/// not an HTTP page) any client without a certificate from `ca`; killed on drop.
struct HandshakeRefuser(std::process::Child, u16);

impl HandshakeRefuser {
    fn start(dir: &Path, pki: &Pki) -> HandshakeRefuser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = std::process::Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-WWW",
                "-Verify",
                "1",
                "-verify_return_error",
            ])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(pki.device("server.pem"))
            .arg("-key")
            .arg(pki.device("server.key"))
            .arg("-CAfile")
            .arg(pki.device("ca.pem"))
            .current_dir(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("openssl s_server");
        let server = HandshakeRefuser(child, port);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "s_server did not start"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        server
    }
}

impl Drop for HandshakeRefuser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_refusal_at_the_handshake_is_read_from_the_servers_alert() {
    let r = DemoRepo::signed();
    let pki = Pki::new();
    let server = HandshakeRefuser::start(&r.public(), &pki);
    let url = format!("https://127.0.0.1:{}", server.1);
    let (folder, device, config) = device_for(&r, &url, &repository_keys(&pki, None));
    let missing = format!(
        "the mirror {url}/metadata requires a client certificate and this device presented \
         none: set [repository] client_cert and client_key (or --client-cert and --client-key)"
    );
    assert_refused(&folder, &device, &config, &[], &missing);
    let other = (pki.other("client.pem"), pki.other("client.key"));
    let keys = repository_keys(&pki, Some((&other.0, &other.1)));
    let (folder, device, config) = device_for(&r, &url, &keys);
    let untrusted = format!(
        "the mirror {url}/metadata refused this device's client certificate (not issued by a \
         CA it trusts, or expired or revoked): check [repository] client_cert and client_key"
    );
    assert_refused(&folder, &device, &config, &[], &untrusted);
}
