use super::*;
use crate::fetch::http::HttpTransport;
use crate::fetch::{for_location, HttpOptions, LocalTransport};
use rustix::fs::Mode;
use std::fs::File;

#[test]
fn limit_is_enforced_while_reading() {
    let body = Body {
        reader: Box::new(io::repeat(7)),
        announced_length: None,
        start: 0,
    };
    assert_eq!(
        body.read_limited(1000),
        Err(FetchError::TooLarge { limit: 1000 })
    );
    let body = Body {
        reader: Box::new(&b"abc"[..]),
        announced_length: Some(10_000),
        start: 0,
    };
    assert_eq!(
        body.read_limited(1000),
        Err(FetchError::TooLarge { limit: 1000 })
    );
}

#[test]
fn local_mirror_stays_in_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("m")).unwrap();
    std::fs::write(dir.path().join("secret"), b"x").unwrap();
    std::fs::write(dir.path().join("m/a b.json"), b"ok").unwrap();
    let mirror = LocalTransport::new(&dir.path().join("m"));
    for path in ["../secret", "%2E%2E/secret", "%2E%2E%2Fsecret", "/secret"] {
        assert_eq!(
            mirror.open(path).err(),
            Some(FetchError::NotFound),
            "{path}"
        );
    }
    let body = mirror.open(&percent_encode("a b.json", true)).unwrap();
    assert_eq!(body.read_limited(10).unwrap(), b"ok");
}

#[test]
fn local_mirror_refuses_links_and_fifos_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("m");
    std::fs::create_dir_all(root.join("d")).unwrap();
    std::fs::write(dir.path().join("secret"), b"x").unwrap();
    std::os::unix::fs::symlink(dir.path().join("secret"), root.join("abs")).unwrap();
    std::os::unix::fs::symlink("../secret", root.join("rel")).unwrap();
    std::os::unix::fs::symlink("d", root.join("link-dir")).unwrap();
    std::fs::write(root.join("d/f"), b"ok").unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        root.join("fifo"),
        rustix::fs::FileType::Fifo,
        Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let mirror = LocalTransport::new(&root);
    for (path, reason) in [
        ("abs", "a symbolic link is on its path"),
        ("rel", "a symbolic link is on its path"),
        ("link-dir/f", "a symbolic link is on its path"),
        ("fifo", "a FIFO"),
        ("d", "a directory"),
    ] {
        match mirror.open(path).err() {
            Some(FetchError::Unsafe { reason: r, .. }) => assert_eq!(r, reason, "{path}"),
            other => panic!("{path}: {other:?}"),
        }
    }
    assert_eq!(mirror.open("d/f").unwrap().read_limited(10).unwrap(), b"ok");
    assert_eq!(mirror.open("d/g").err(), Some(FetchError::NotFound));
}

/// An HTTP server on a free local port that answers each request, in turn, with the
/// next of `statuses` and an empty body.
fn http_server(statuses: &'static [u16]) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for status in statuses {
            let (stream, _) = listener.accept().unwrap();
            let mut request = BufReader::new(stream);
            let mut line = String::new();
            while request.read_line(&mut line).unwrap() > 2 {
                line.clear();
            }
            write!(
                request.get_mut(),
                "HTTP/1.1 {status} Whatever\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
        }
    });
    format!("http://{address}")
}

#[test]
fn a_404_a_missing_file_and_a_missing_member_are_not_found_and_a_500_is_not() {
    let base = http_server(&[404, 403, 500, 503]);
    let http = HttpTransport::new(&base, &HttpOptions::default()).unwrap();
    assert_eq!(http.open("1.root.json").err(), Some(FetchError::NotFound));
    assert_eq!(http.open("1.root.json").err(), Some(FetchError::NotFound));
    assert_eq!(
        http.open("1.root.json").err(),
        Some(FetchError::Status(500))
    );
    let unavailable = http.open_at("t.bin", 5).err();
    assert_eq!(unavailable, Some(FetchError::Status(503)));
    assert!(unavailable.is_some_and(|e| e.is_transient()));

    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("metadata")).unwrap();
    std::fs::write(dir.path().join("metadata/1.root.json"), b"{}").unwrap();
    let local = for_location(
        &dir.path().join("metadata").display().to_string(),
        &HttpOptions::default(),
    )
    .unwrap();
    assert_eq!(local.open("2.root.json").err(), Some(FetchError::NotFound));
    assert_eq!(
        local.open("a/2.root.json").err(),
        Some(FetchError::NotFound)
    );
    let gone = for_location(
        &dir.path().join("gone").display().to_string(),
        &HttpOptions::default(),
    )
    .unwrap();
    assert_eq!(gone.open("1.root.json").err(), Some(FetchError::NotFound));

    let tar_path = dir.path().join("repo.tar");
    let mut tar = tar::Builder::new(File::create(&tar_path).unwrap());
    let mut header = tar::Header::new_gnu();
    header.set_size(2);
    header.set_mode(0o644);
    tar.append_data(&mut header, "metadata/1.root.json", &b"{}"[..])
        .unwrap();
    tar.into_inner().unwrap();
    let archive = for_location(
        &tar_path.join("metadata").display().to_string(),
        &HttpOptions::default(),
    )
    .unwrap();
    assert!(archive.open("1.root.json").is_ok());
    assert_eq!(
        archive.open("2.root.json").err(),
        Some(FetchError::NotFound)
    );
}

/// A reader that gives one byte per call, after a pause.
#[test]
fn quoting_matches_python_tuf() {
    assert_eq!(
        percent_encode("../delegated role?#", false),
        "..%2Fdelegated%20role%3F%23"
    );
    assert_eq!(percent_encode("a/b c", true), "a/b%20c");
    assert_eq!(percent_decode("..%2Fx").as_deref(), Some("../x"));
}

#[test]
fn only_well_formed_escapes_of_utf_8_are_decoded() {
    for (text, decoded) in [
        ("a%20b/%D0%9F%d0%bf", Some("a b/Пп")),
        ("plain", Some("plain")),
        ("", Some("")),
        ("%2B1", Some("+1")),
        // Not two hexadecimal digits: `from_str_radix` once read `+1` as 1.
        ("%+1", None),
        ("a%+1b", None),
        ("%-1", None),
        ("%1", None),
        ("%", None),
        ("x%", None),
        ("%zz", None),
        ("%%41", None),
        ("%41%", None),
        ("% 1", None),
        // Well formed, but not UTF-8.
        ("%C3%28", None),
        ("%FF", None),
    ] {
        assert_eq!(percent_decode(text).as_deref(), decoded, "{text:?}");
    }
}

#[test]
fn decoding_reverses_encoding() {
    for text in [
        "releases/2.4.1/app.bin",
        "Прошивка 固件 %41 +1 ~",
        "a/b?c#d",
    ] {
        for keep_slash in [true, false] {
            let encoded = percent_encode(text, keep_slash);
            assert_eq!(percent_decode(&encoded).as_deref(), Some(text));
        }
    }
}
