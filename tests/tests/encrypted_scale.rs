//! Encrypted artifacts at scale: a 1 GiB release file encrypted to one device downloads,
//! decrypts and installs on it with the updater's peak resident memory at most 32 MiB (the
//! issue's bound), and the installed file is the plaintext, byte for byte.
//!
//! Everything lives on the temporary folder's disk, which must be a real disk, not a tmpfs
//! (about 4 GiB at the peak: the served ciphertext, and on the device its ciphertext, its
//! verified plaintext and the installed copy; the plaintext the repository encrypted is
//! removed once added), and goes away with the test's temporary folders.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use e2e_tests::{
    add_release, bin, publish_release, recipients_file, run_measured, DemoRepo, KeyedDevice,
    StaticServer,
};
use updater::hash::{Sha512, Sha512Hasher, StreamHash};

const GIB: u64 = 1 << 30;

/// The bound on the updater's peak RSS while it installs the 1 GiB artifact.
const MAX_APPLY_RSS_KIB: u64 = 32 * 1024;

/// Free space the test needs where its temporary folders are: the files above, with room.
const NEEDED_BYTES: u64 = 5 * GIB;

/// The buffer that bounds the test's own memory while it writes and hashes the file.
const CHUNK: usize = 1 << 20;

/// Writes `length` random bytes (from the kernel) to `path`, a chunk at a time, and
/// returns their SHA-512.
fn write_random(path: &Path, length: u64) -> Sha512 {
    let mut random = File::open("/dev/urandom").unwrap().take(length);
    let mut out = File::create(path).unwrap();
    let mut hash = Sha512Hasher::default();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = random.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        out.write_all(&buf[..n]).unwrap();
    }
    assert_eq!(out.metadata().unwrap().len(), length);
    hash.finish()
}

/// SHA-512 of the file at `path`, read a chunk at a time.
fn sha512_of(path: &Path) -> Sha512 {
    let mut file = File::open(path).unwrap();
    let mut hash = Sha512Hasher::default();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
    }
    hash.finish()
}

#[test]
fn a_1_gib_encrypted_artifact_installs_with_peak_rss_at_most_32_mib() {
    let started = Instant::now();
    let work = tempfile::tempdir().unwrap();
    let free = updater::install::free_bytes(work.path()).unwrap();
    assert!(
        free >= NEEDED_BYTES,
        "this test needs {NEEDED_BYTES} bytes free under {} (it has {free})",
        work.path().display()
    );
    let release = work.path().join("release");
    std::fs::create_dir(&release).unwrap();
    let plaintext = write_random(&release.join("disk.img"), GIB);

    let r = DemoRepo::init();
    let server = StaticServer::start(&r.public());
    let device = KeyedDevice::new(&r.root_json(), &server.url(), "dev-big");
    let list = recipients_file(work.path(), &[("dev-big", &device.recipient)]);
    let added = add_release(&r.path, &release, &["--encrypt-to", list.to_str().unwrap()]).ok();
    assert!(
        added.stdout.contains("encrypted to 1 recipient(s)"),
        "{added:#?}"
    );
    // The repository holds the ciphertext now; the plaintext is only needed as its hash.
    std::fs::remove_dir_all(&release).unwrap();
    publish_release(&r);
    let listed = r.listed_targets();
    let encrypted = &listed["releases/2.0.0/armv7/disk.img"]["custom"]["encrypted"];
    assert_eq!(encrypted["length"], GIB);
    assert_eq!(encrypted["sha512"], plaintext.to_hex());
    let prepared = started.elapsed();

    let mut apply = Command::new(bin("updater"));
    apply
        .arg("--metadata-dir")
        .arg(&device.device.metadata_dir)
        .arg("--config")
        .arg(&device.config)
        .arg("apply");
    let applying = Instant::now();
    let (run, rss_kib) = run_measured(apply);
    let applied = applying.elapsed();
    eprintln!(
        "1 GiB encrypted apply: peak RSS {rss_kib} KiB (bound {MAX_APPLY_RSS_KIB} KiB), \
         apply {applied:.1?}, setup {prepared:.1?}"
    );
    assert!(run.stdout.contains("installed 2.0.0"), "{run:#?}");
    drop(server);
    drop(r);

    assert_eq!(device.device.running().as_deref(), Some("2.0.0"));
    let installed = device.device.install_dir().join("current/disk.img");
    assert_eq!(std::fs::metadata(&installed).unwrap().len(), GIB);
    assert_eq!(sha512_of(&installed), plaintext);
    assert!(
        rss_kib <= MAX_APPLY_RSS_KIB,
        "updater apply of a 1 GiB encrypted artifact: peak RSS {rss_kib} KiB, more than \
         {MAX_APPLY_RSS_KIB} KiB"
    );
    eprintln!("whole test: {:.1?}", started.elapsed());
}
