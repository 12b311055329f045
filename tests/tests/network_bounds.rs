//! Slow retrieval and hostile local inputs: a mirror that dribbles bytes or never answers is
//! abandoned within a bound and the next mirror serves; a retry count that would never end
//! is refused; a local mirror cannot hand out a file outside it through a symbolic link;
//! FIFOs and devices given where a file is expected are refused at once.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use e2e_tests::{bin, run_bounded, tree_state, DemoRepo, Device, Run, StaticServer};

const FIRMWARE: &str = "releases/1.0.0/armv7/firmware.img";

/// What the hostile test server does with a request.
#[derive(Clone)]
enum Behaviour {
    /// For paths ending in `suffix`: announce `body`'s length, then send it one byte every
    /// `every`. Anything else: 404.
    Drip {
        suffix: &'static str,
        body: Vec<u8>,
        every: Duration,
    },
    /// Read the request, then never answer.
    Silent,
}

/// A tiny HTTP server on 127.0.0.1 that misbehaves as told; it stops serving on drop.
struct HostileServer {
    port: u16,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
}

impl HostileServer {
    fn start(behaviour: Behaviour) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (stop2, requests2) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (behaviour, stop, requests) =
                    (behaviour.clone(), stop2.clone(), requests2.clone());
                std::thread::spawn(move || serve(stream, &behaviour, &stop, &requests));
            }
        });
        HostileServer {
            port,
            stop,
            requests,
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the stop.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// Sleeps `d` in short steps; false if told to stop meanwhile.
fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    true
}

fn serve(
    mut stream: TcpStream,
    behaviour: &Behaviour,
    stop: &AtomicBool,
    requests: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let path = head.split(' ').nth(1).unwrap_or_default().to_owned();
    requests.lock().unwrap().push(path.clone());
    match behaviour {
        Behaviour::Silent => {
            // Holds the connection open, saying nothing, until the test ends.
            while pause(Duration::from_secs(1), stop) {}
        }
        Behaviour::Drip {
            suffix,
            body,
            every,
        } => {
            if !path.ends_with(suffix) {
                let _ = stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                return;
            }
            let header = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            if stream.write_all(header.as_bytes()).is_err() {
                return;
            }
            for b in body {
                if stream.write_all(&[*b]).is_err() || !pause(*every, stop) {
                    return;
                }
            }
        }
    }
}

/// A signed repository served by a well-behaved server, and a device that trusts it.
struct Scene {
    repo: DemoRepo,
    good: StaticServer,
    device: Device,
}

impl Scene {
    fn new() -> Self {
        let repo = DemoRepo::signed();
        let good = StaticServer::start(&repo.public());
        let device = Device::trusting(&repo.root_json());
        Scene { repo, good, device }
    }
}

fn assert_contains(run: &Run, needles: &[&str]) {
    for needle in needles {
        assert!(run.stderr.contains(needle), "missing {needle:?}: {run:#?}");
    }
}

/// One byte every 3 s, with default settings: timestamp.json is abandoned (within the 90 s
/// the issue allows) with a message naming the mirror and its speed, and the next mirror
/// serves.
#[test]
fn dribbled_metadata_is_abandoned_at_the_default_speed_floor() {
    let s = Scene::new();
    let drip = HostileServer::start(Behaviour::Drip {
        suffix: "/timestamp.json",
        body: std::fs::read(s.repo.metadata("timestamp.json")).unwrap(),
        every: Duration::from_secs(3),
    });
    let started = Instant::now();
    let run = s
        .device
        .updater(&[
            "--metadata-url",
            &format!("{}/metadata", drip.url()),
            "--metadata-url",
            &format!("{}/metadata", s.good.url()),
            "refresh",
        ])
        .ok();
    let took = started.elapsed();
    eprintln!("took {took:?}; stderr:\n{}", run.stderr);
    assert!(took < Duration::from_secs(90), "took {took:?}");
    assert!(run.stdout.contains("up to date"), "{run:#?}");
    let dripped = format!("{}/metadata/timestamp.json: abandoned: ", drip.url());
    assert_contains(
        &run,
        &[
            &dripped,
            "bytes/s), below the floor of 1024 bytes/s over 30 s",
        ],
    );
    // Asked once: a mirror too slow over a whole window is not asked again.
    let asked = drip.requests();
    let timestamps = asked.iter().filter(|p| p.ends_with("timestamp.json"));
    assert_eq!(timestamps.count(), 1, "{asked:?}");
}

/// The same for a target: the dribbling mirror is abandoned, the next one serves the
/// verified file.
#[test]
fn dribbled_target_is_abandoned_at_the_default_speed_floor() {
    let s = Scene::new();
    let firmware = std::fs::read(s.repo.artifact(FIRMWARE)).unwrap();
    let drip = HostileServer::start(Behaviour::Drip {
        suffix: ".firmware.img",
        body: firmware.clone(),
        every: Duration::from_secs(3),
    });
    let started = Instant::now();
    let run = s
        .device
        .updater(&[
            "--metadata-url",
            &format!("{}/metadata", s.good.url()),
            "--target-base-url",
            &format!("{}/targets", drip.url()),
            "--target-base-url",
            &format!("{}/targets", s.good.url()),
            "--target-name",
            FIRMWARE,
            "--target-dir",
            &s.device.target_dir.display().to_string(),
            "download",
        ])
        .ok();
    let took = started.elapsed();
    eprintln!("took {took:?}; stderr:\n{}", run.stderr);
    assert!(took < Duration::from_secs(90), "took {took:?}");
    assert_contains(
        &run,
        &[
            &format!("{}/targets/releases/1.0.0/armv7/", drip.url()),
            ".firmware.img: abandoned: ",
            "bytes/s), below the floor of 1024 bytes/s over 30 s",
        ],
    );
    assert_eq!(s.device.target(FIRMWARE), firmware);
}

/// A smaller floor window, set on the command line, is what the updater uses.
#[test]
fn speed_floor_options_set_the_window() {
    let s = Scene::new();
    let drip = HostileServer::start(Behaviour::Drip {
        suffix: "/timestamp.json",
        body: std::fs::read(s.repo.metadata("timestamp.json")).unwrap(),
        every: Duration::from_millis(500),
    });
    let run = s
        .device
        .updater(&[
            "--speed-limit",
            "100",
            "--speed-time",
            "3",
            "--metadata-url",
            &format!("{}/metadata", drip.url()),
            "--metadata-url",
            &format!("{}/metadata", s.good.url()),
            "refresh",
        ])
        .ok();
    assert_contains(
        &run,
        &["abandoned: ", "below the floor of 100 bytes/s over 3 s"],
    );
}

/// A mirror that accepts and never answers is left after --read-timeout (the reply's first
/// byte included), not after the whole-request timeout; the next mirror serves.
#[test]
fn silent_mirror_is_left_after_the_read_timeout() {
    let s = Scene::new();
    let silent = HostileServer::start(Behaviour::Silent);
    let run = run_bounded(
        Command::new(bin("updater"))
            .arg("--metadata-dir")
            .arg(&s.device.metadata_dir)
            .args(["--read-timeout", "3", "--retries", "0"])
            .args(["--metadata-url", &format!("{}/metadata", silent.url())])
            .args(["--metadata-url", &format!("{}/metadata", s.good.url())])
            .arg("refresh"),
        // Four files, each waited on for 3 s; the old code waited 300 s for the first.
        Duration::from_secs(60),
    )
    .ok();
    assert!(run.stdout.contains("up to date"), "{run:#?}");
    assert_contains(&run, &[&format!("{}/metadata/", silent.url()), "timed out"]);
    assert!(
        silent
            .requests()
            .iter()
            .any(|p| p.ends_with("timestamp.json")),
        "the silent mirror was not asked"
    );
}

/// A retry count without end is refused before anything is asked.
#[test]
fn unbounded_retries_are_refused() {
    let repo = DemoRepo::init();
    let device = Device::trusting(&repo.root_json());
    let before = tree_state(device.tmp.path());
    let run = run_bounded(
        Command::new(bin("updater"))
            .arg("--metadata-dir")
            .arg(&device.metadata_dir)
            .args(["--retries", "4294967295"])
            // Nothing listens there: the old code retried it for ever.
            .args(["--metadata-url", "http://127.0.0.1:1/metadata", "refresh"]),
        Duration::from_secs(20),
    );
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert_contains(
        &run,
        &["invalid value '4294967295' for '--retries <N>': 4294967295 is not in 0..=10"],
    );
    assert_eq!(before, tree_state(device.tmp.path()));
}

/// The served file named `suffix` in the repository's targets folder, both hash names.
fn served_targets(repo: &DemoRepo, suffix: &str) -> Vec<PathBuf> {
    let dir = repo.public().join("targets/releases/1.0.0/armv7");
    let mut found: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    found.sort();
    assert_eq!(found.len(), 2, "{found:?}");
    found
}

fn hex_digest(algorithm: &str, bytes: &[u8]) -> String {
    let out = Command::new("openssl")
        .args(["dgst", &format!("-{algorithm}"), "-r"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child.stdin.take().unwrap().write_all(bytes)?;
            child.wait_with_output()
        })
        .unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

/// Runs `download` of FIRMWARE from the local mirror `public`, bounded.
fn download_from_folder(device: &Device, public: &Path) -> Run {
    run_bounded(
        Command::new(bin("updater"))
            .arg("--metadata-dir")
            .arg(&device.metadata_dir)
            .args(["--retries", "0"])
            .arg("--metadata-url")
            .arg(public.join("metadata"))
            .arg("--target-base-url")
            .arg(public.join("targets"))
            .args(["--target-name", FIRMWARE, "--target-dir"])
            .arg(&device.target_dir)
            .arg("download"),
        Duration::from_secs(30),
    )
}

/// A USB stick whose artifact is a symbolic link to a file outside it (as it could be to
/// /etc/shadow): refused without reading it, and no digest of it is printed.
#[test]
fn local_mirror_symlink_to_outside_is_refused_without_leaking_a_digest() {
    let repo = DemoRepo::signed();
    let device = Device::trusting(&repo.root_json());
    let firmware = std::fs::read(repo.artifact(FIRMWARE)).unwrap();
    // As long as the real file, so that only its hash could tell them apart.
    let secret_bytes: Vec<u8> = (0..firmware.len()).map(|i| (i * 7 % 251) as u8).collect();
    let secret = repo.tmp.path().join("secret");
    std::fs::write(&secret, &secret_bytes).unwrap();
    for served in served_targets(&repo, ".firmware.img") {
        std::fs::remove_file(&served).unwrap();
        std::os::unix::fs::symlink(&secret, &served).unwrap();
    }
    let before = tree_state(&device.target_dir);
    let run = download_from_folder(&device, &repo.public());
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_contains(
        &run,
        &[
            &format!("{FIRMWARE}: could not be fetched ("),
            ".firmware.img: refused: a symbolic link is on its path",
        ],
    );
    for algorithm in ["sha512", "sha256"] {
        let digest = hex_digest(algorithm, &secret_bytes);
        for shown in [&digest[..], &digest[..16], &digest[..8]] {
            assert!(!run.stderr.contains(shown), "{algorithm} leaked: {run:#?}");
            assert!(!run.stdout.contains(shown), "{algorithm} leaked: {run:#?}");
        }
    }
    // Nothing of the secret landed on the device, not even as a partial download.
    assert_eq!(before, tree_state(&device.target_dir));
    assert_eq!(std::fs::read(&secret).unwrap(), secret_bytes);
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success());
}

/// A FIFO planted on a local mirror in place of an artifact is refused at once, not waited on.
#[test]
fn local_mirror_fifo_is_refused_without_hanging() {
    let repo = DemoRepo::signed();
    let device = Device::trusting(&repo.root_json());
    for served in served_targets(&repo, ".firmware.img") {
        std::fs::remove_file(&served).unwrap();
        mkfifo(&served);
    }
    let before = tree_state(&device.target_dir);
    let run = download_from_folder(&device, &repo.public());
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert_contains(&run, &[".firmware.img: refused: a FIFO"]);
    assert_eq!(before, tree_state(&device.target_dir));
}

/// FIFOs, devices and oversized files given where the updater reads a file (the CA file,
/// the device config, the root to trust) are refused at once, never waited on or read on.
#[test]
fn fifo_device_and_huge_file_arguments_are_refused() {
    let device = Device::new();
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    mkfifo(&fifo);
    // A sparse file past the CA file limit (1 MiB): refused before it is read.
    let huge = dir.path().join("huge.pem");
    std::fs::File::create(&huge)
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let fifo_s = fifo.display().to_string();
    let huge_s = huge.display().to_string();
    let url = "https://127.0.0.1:1/metadata";
    let cases: Vec<(Vec<&str>, String)> = vec![
        (
            vec!["--ca-file", &fifo_s, "--metadata-url", url, "refresh"],
            format!("CA file: {fifo_s} is a FIFO, not a regular file: refused"),
        ),
        (
            vec!["--ca-file", "/dev/zero", "--metadata-url", url, "refresh"],
            "CA file: /dev/zero is a character device, not a regular file: refused".into(),
        ),
        (
            vec!["--ca-file", &huge_s, "--metadata-url", url, "refresh"],
            format!("CA file: {huge_s} is larger than its limit of 1048576 bytes"),
        ),
        (
            vec!["--config", &fifo_s, "refresh"],
            format!("{fifo_s} is a FIFO, not a regular file: refused"),
        ),
        (
            vec!["init", &fifo_s],
            format!("{fifo_s} is a FIFO, not a regular file: refused"),
        ),
    ];
    for (args, message) in cases {
        let before = tree_state(device.tmp.path());
        let run = run_bounded(
            Command::new(bin("updater"))
                .arg("--metadata-dir")
                .arg(&device.metadata_dir)
                .args(&args),
            Duration::from_secs(20),
        );
        assert_eq!(run.code, Some(1), "{args:?}: {run:#?}");
        assert_contains(&run, &[&message]);
        assert_eq!(before, tree_state(device.tmp.path()), "{args:?}");
    }
}
