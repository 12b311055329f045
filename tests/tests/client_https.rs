//! HTTPS mirrors: certificates are always verified; an extra CA (an intranet mirror's) can be
//! trusted with `--ca-file`, and nothing turns verification off.

use std::path::Path;
use std::process::Command;

use e2e_tests::{DemoRepo, Device, StaticServer};

const APP: &str = "releases/1.0.0/armv7/app.bin";

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(out.status.success(), "openssl {args:?}: {out:#?}");
}

/// A CA and a server certificate for 127.0.0.1 signed by it: (ca.pem, server.pem, server.key).
fn make_ca_and_server_cert(dir: &Path, ca_name: &str) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", ca_name,
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

#[test]
fn https_mirror_needs_a_trusted_certificate() {
    let r = DemoRepo::signed();
    let pki = tempfile::tempdir().unwrap();
    make_ca_and_server_cert(pki.path(), "/CN=intranet-ca");
    let other = tempfile::tempdir().unwrap();
    make_ca_and_server_cert(other.path(), "/CN=some-other-ca");

    let cert = pki.path().join("server.pem").display().to_string();
    let key = pki.path().join("server.key").display().to_string();
    let server = StaticServer::start_with(&r.public(), &["--tls", &cert, &key]);
    let url = format!("https://127.0.0.1:{}", server.port);

    // Without the CA the certificate is unknown: refused, nothing kept.
    let device = Device::trusting(&r.root_json());
    let before = device.state();
    let run = device.download(&[&url], &[APP], &["--retries", "0"]);
    let run = run.fails_with(1, "2.root.json: could not be fetched");
    assert!(
        run.stderr.to_lowercase().contains("certificate"),
        "{run:#?}"
    );
    assert_eq!(before, device.state());

    // Another CA does not vouch for this server either.
    let wrong_ca = other.path().join("ca.pem").display().to_string();
    device
        .download(&[&url], &[APP], &["--retries", "0", "--ca-file", &wrong_ca])
        .fails_with(1, "could not be fetched");
    assert_eq!(before, device.state());

    // With the mirror's CA it updates.
    let ca = pki.path().join("ca.pem").display().to_string();
    device.download(&[&url], &[APP], &["--ca-file", &ca]).ok();
    assert_eq!(device.target(APP), std::fs::read(r.artifact(APP)).unwrap());

    // A CA file that holds no certificate is an error, not "no extra CA".
    let empty = pki.path().join("empty.pem");
    std::fs::write(&empty, "").unwrap();
    device
        .download(
            &[&url],
            &[APP],
            &["--ca-file", &empty.display().to_string()],
        )
        .fails_with(1, "holds no certificate");
}
