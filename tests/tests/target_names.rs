//! The target-name budget: every name `repo add` accepts downloads with the `updater`
//! (`download` and `apply`) and with python-tuf over HTTP; a name outside it is refused by
//! `repo add` with the file named, and the repository is left byte for byte as it was.

use std::collections::BTreeMap;
use std::path::Path;

use e2e_tests::{python_tuf_fetch, tree_state, DemoRepo, Device, StaticServer};
use updater::hash::Sha512;
use updater::names::percent_encode;

const PREFIX: &str = "releases/1.0.0/armv7/";

/// A 40-character Cyrillic file name: 84 bytes, 244 once percent-encoded.
fn cyrillic() -> String {
    format!("{}.bin", "обновление_прошивки_устройства_версии_10")
}

/// 42 CJK characters: 126 bytes, the longest basename that fits.
fn cjk() -> String {
    "设备固件更新文件包含全部组件".repeat(3)
}

/// A deep path whose whole target name is exactly `encoded` bytes once percent-encoded.
fn deep(encoded: usize) -> String {
    let folder = "каталог_с_длинным_названием_для_проверки";
    let dirs = format!("{folder}/").repeat(4);
    let head = format!("{PREFIX}{dirs}{}", &cyrillic()[..40]);
    let fill = encoded - percent_encode(&head, true).len();
    let relative = format!("{dirs}{}{}", &cyrillic()[..40], "x".repeat(fill));
    assert_eq!(
        percent_encode(&format!("{PREFIX}{relative}"), true).len(),
        encoded
    );
    relative
}

/// Punctuation that HTTP clients either escape or pass through as path characters.
const PUNCTUATION: &str = "odd ! $&'()*+,;=@[]^`{|}~ name.txt";

/// Writes `files` (path in the folder, bytes) under `dir`.
fn write_release(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    for (relative, bytes) in files {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }
}

fn policy_for(release: &str) -> String {
    format!(
        r#"<policy>
  <channel name="stable">
    <target release="{release}"><wave start="2026-01-01T00:00:00Z" percent="100"/></target>
  </channel>
</policy>
"#
    )
}

#[test]
fn names_at_the_budget_download_with_the_updater_and_python_tuf() {
    let files: BTreeMap<String, Vec<u8>> = [cyrillic(), cjk(), deep(1024), PUNCTUATION.into()]
        .into_iter()
        .enumerate()
        .map(|(i, name)| (name, format!("file {i}\n").repeat(1000 + i).into_bytes()))
        .collect();
    assert_eq!(cjk().len(), 126);
    let r = DemoRepo::init();
    let dir = r.tmp.path().join("release");
    write_release(&dir, &files);
    r.add_dir(&dir, "1.0.0", "armv7").ok();
    r.set_policy(&policy_for("1.0.0")).ok();
    r.sign_all().ok();
    r.verify(&[]).ok();
    let server = StaticServer::start(&r.public());
    let names: Vec<String> = files.keys().map(|f| format!("{PREFIX}{f}")).collect();

    // The updater's `download`.
    let device = Device::trusting(&r.root_json());
    let names_ref: Vec<&str> = names.iter().map(String::as_str).collect();
    device.download(&[&server.url()], &names_ref, &[]).ok();
    for (relative, bytes) in &files {
        assert_eq!(
            &device.target(&format!("{PREFIX}{relative}")),
            bytes,
            "{relative}"
        );
    }

    // The updater's `apply`: downloaded, verified and installed under the same paths.
    let device = Device::trusting(&r.root_json());
    let config = device.configure("02:00:00:00:00:01", &server.url(), None, "");
    device
        .updater(&["--config".as_ref(), config.as_os_str(), "apply".as_ref()])
        .ok();
    assert_eq!(device.running().as_deref(), Some("1.0.0"));
    for (relative, bytes) in &files {
        let installed = device.install_dir().join("current").join(relative);
        assert_eq!(&std::fs::read(installed).unwrap(), bytes, "{relative}");
    }

    // python-tuf, an independent client, over HTTP.
    let mut got = python_tuf_fetch(&server.url(), &r.root_json());
    got.remove("policy.xml");
    let expected: BTreeMap<String, String> = files
        .iter()
        .map(|(f, bytes)| (format!("{PREFIX}{f}"), Sha512::digest(bytes).to_hex()))
        .collect();
    assert_eq!(got, expected);
}

/// `repo add` of a folder holding a good file and `bad` is refused with exactly `reason`
/// about `bad`, and changes nothing in the repository.
fn refused(bad: &str, reason: &str) {
    let r = DemoRepo::signed();
    r.add("2.0.0", "armv7").ok();
    let before = tree_state(&r.path);
    let dir = r.tmp.path().join("release");
    let files = BTreeMap::from([
        ("app.bin".to_owned(), b"app".to_vec()),
        (bad.to_owned(), b"bad".to_vec()),
    ]);
    write_release(&dir, &files);
    let run = r.add_dir(&dir, "3.0.0", "armv7");
    let expected = format!(
        "error: {}: its target name \"releases/3.0.0/armv7/{bad}\" {reason}; rename it (or its \
         folders) and add the release again\n",
        dir.join(bad).display()
    );
    assert_eq!(run.code, Some(2), "{run:#?}");
    assert_eq!(run.stderr, expected);
    assert_eq!(tree_state(&r.path), before, "the repository changed");
}

#[test]
fn a_name_one_byte_over_the_budget_is_refused() {
    // The same shape as the longest name that downloads, with "3.0.0" for "1.0.0".
    let over = deep(1025);
    refused(
        &over,
        "is 1025 bytes once percent-encoded for a URL; at most 1024 fit",
    );
}

#[test]
fn names_with_url_syntax_are_refused() {
    let why = |c: &str| {
        format!(
            "contains '{c}', which python-tuf and tough put into URLs unescaped (where it starts \
             an escape, a query or a fragment), so they could not fetch it"
        )
    };
    refused("app%41.bin", &why("%"));
    refused("what?.bin", &why("?"));
    refused("sub/no#1.bin", &why("#"));
}

#[test]
fn a_basename_too_long_for_the_hash_prefix_is_refused() {
    let long = format!("{}.bin", "a".repeat(123));
    assert_eq!(long.len(), 127);
    refused(
        &long,
        "has a file name of 127 bytes; at most 126 fit, because servers store it as \
         <sha512>.<name> and a file name holds at most 255 bytes",
    );
}
