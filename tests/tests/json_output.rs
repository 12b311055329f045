//! `repo status --json`, `repo verify --json` and `repo policy check --json` (docs/json.md):
//! one JSON object on stdout, each field checked against the repository's real state (its
//! metadata files, its fixture releases), and the same exit codes as without `--json`.
//! Also `--nagios` on `status` and `verify`: each of its four codes and its line.

use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

use e2e_tests::{
    fixture_release, listed_file, read_json, reference_policy, repo, write_json, DemoRepo, Run,
};
use serde_json::Value;

/// The one JSON object `run` printed on stdout.
fn one_object(run: &Run) -> Value {
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one line of JSON expected: {run:#?}");
    let value: Value = serde_json::from_str(lines[0]).expect("valid JSON");
    assert!(value.is_object(), "{value}");
    value
}

/// `repo ARGS` on `r`'s folder: `repo CMD PATH ARGS...`.
fn repo_on(r: &DemoRepo, cmd: &str, args: &[&str]) -> Run {
    let mut all: Vec<&OsStr> = vec![OsStr::new(cmd), r.path.as_os_str()];
    all.extend(args.iter().map(OsStr::new));
    repo(all)
}

/// Files and bytes of a fixture release folder.
fn fixture_files(release: &str, platform: &str) -> usize {
    walkdir::WalkDir::new(fixture_release(release, platform))
        .into_iter()
        .filter(|e| e.as_ref().unwrap().file_type().is_file())
        .count()
}

/// Two fresh age recipients, from the `age-keygen` command (Debian's age).
fn two_recipients(dir: &Path) -> std::path::PathBuf {
    let mut text = String::new();
    for name in ["lab-1", "lab-2"] {
        let out = Command::new("age-keygen")
            .output()
            .expect("age-keygen (scripts/install-deps.sh installs age)");
        let stderr = String::from_utf8(out.stderr).unwrap();
        let recipient = stderr
            .split_whitespace()
            .find(|w| w.starts_with("age1"))
            .expect("age-keygen prints the public key");
        text.push_str(&format!("# {name}\n{recipient}\n"));
    }
    let path = dir.join("recipients.txt");
    std::fs::write(&path, text).unwrap();
    path
}

/// The current file of each top-level role: (role, file).
fn role_files(r: &DemoRepo) -> Vec<(&'static str, Value)> {
    let metadata = r.public().join("metadata");
    vec![
        ("root", read_json(&r.metadata("1.root.json"))),
        ("targets", read_json(&listed_file(&metadata, "targets"))),
        ("snapshot", read_json(&listed_file(&metadata, "snapshot"))),
        ("timestamp", read_json(&r.metadata("timestamp.json"))),
    ]
}

/// Each role of `repo status --json` is the repository's file: version, expiry, threshold,
/// and the keys root names for it, by the names `repo init` gave them.
fn assert_roles_are_the_files(r: &DemoRepo, status: &Value) {
    let root = read_json(&r.metadata("1.root.json"));
    let roles = status["roles"].as_array().unwrap();
    let names: Vec<&str> = roles.iter().map(|r| r["role"].as_str().unwrap()).collect();
    assert_eq!(names, ["root", "targets", "snapshot", "timestamp"]);
    for (role, file) in role_files(r) {
        let got = roles.iter().find(|r| r["role"] == role).unwrap();
        assert_eq!(got["version"], file["signed"]["version"], "{role}");
        assert_eq!(got["expires"], file["signed"]["expires"], "{role}");
        assert_eq!(got["expiry"], "valid", "{role}");
        assert_eq!(got["threshold"], root["signed"]["roles"][role]["threshold"]);
        assert_eq!(got["missing"], 0);
        assert_eq!(got["problems"], serde_json::json!([]));
        let keyids: Vec<&Value> = got["signed_by"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| &s["keyid"])
            .collect();
        let expected: Vec<&Value> = root["signed"]["roles"][role]["keyids"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        assert_eq!(keyids, expected, "{role}");
        // The admin's name for the key: its file's stem, as `repo init` was given it.
        assert_eq!(got["signed_by"][0]["name"], role, "{role}");
    }
}

#[test]
fn status_json_is_the_repositorys_state() {
    let r = DemoRepo::signed();
    // Staged: 2.0.0 for armv7, encrypted to two recipients, and a policy.
    let recipients = two_recipients(r.tmp.path());
    let added = repo([
        OsStr::new("add"),
        r.path.as_os_str(),
        fixture_release("2.0.0", "armv7").as_os_str(),
        OsStr::new("--release"),
        OsStr::new("2.0.0"),
        OsStr::new("--platform"),
        OsStr::new("armv7"),
        OsStr::new("--encrypt-to"),
        recipients.as_os_str(),
    ]);
    added.ok();
    r.set_policy(&e2e_tests::policy_for("1.0.0", "")).ok();

    let text = repo_on(&r, "status", &[]).ok();
    let run = repo_on(&r, "status", &["--json"]).ok();
    let status = one_object(&run);

    assert_roles_are_the_files(&r, &status);
    assert_eq!(status["staged_root"], Value::Null);
    assert_eq!(status["warn_days"], 0);
    assert_eq!(status["policy_staged"], true);
    assert!(text
        .stdout
        .contains("a staged policy.xml is not yet signed"));

    let releases = status["releases"].as_array().unwrap();
    let row = |release: &str, platform: &str| {
        releases
            .iter()
            .find(|r| r["release"] == release && r["platform"] == platform)
            .unwrap_or_else(|| panic!("no {release} {platform}: {status}"))
    };
    assert_eq!(releases.len(), 3, "{status}");
    for platform in ["armv7", "x86_64"] {
        let live = row("1.0.0", platform);
        assert_eq!(live["staged"], false);
        assert_eq!(live["files"], fixture_files("1.0.0", platform));
        assert_eq!(live["recipients"], Value::Null);
    }
    let staged = row("2.0.0", "armv7");
    assert_eq!(staged["staged"], true);
    assert_eq!(staged["files"], fixture_files("2.0.0", "armv7"));
    assert_eq!(staged["recipients"], 2);
    assert_eq!(status["staged_changes"], fixture_files("2.0.0", "armv7"));
    assert!(text.stdout.contains(&format!(
        "{} staged change(s)",
        fixture_files("2.0.0", "armv7")
    )));

    // Timestamps live a day by default: a two-day window makes it "expiring", and the exit
    // code is the one without --json.
    let run = repo_on(&r, "status", &["--json", "--warn-days", "2"]);
    assert_eq!(run.code, Some(3), "{run:#?}");
    let status = one_object(&run);
    assert_eq!(status["warn_days"], 2);
    for role in status["roles"].as_array().unwrap() {
        let expected = if role["role"] == "timestamp" {
            "expiring"
        } else {
            "valid"
        };
        assert_eq!(role["expiry"], expected, "{role}");
    }
    assert!(run.stderr.contains("warning: timestamp expires at"));
}

#[test]
fn status_json_shows_a_staged_roots_progress() {
    let r = DemoRepo::signed();
    // Root 2 staged, signed by nobody yet: it needs the current root key and its own.
    repo([
        OsStr::new("root"),
        OsStr::new("edit"),
        r.path.as_os_str(),
        OsStr::new("--expires"),
        OsStr::new("365d"),
    ])
    .ok();
    let status = one_object(&repo_on(&r, "status", &["--json"]).ok());
    let staged = &status["staged_root"];
    assert_eq!(staged["version"], 2, "{status}");
    assert_eq!(staged["signed_by"], serde_json::json!([]));
    assert_eq!(staged["missing_from_current_keys"], 1);
    assert_eq!(staged["missing_from_new_keys"], 1);
}

#[test]
fn verify_json_is_what_verified() {
    let r = DemoRepo::signed();
    let run = r.verify(&["--json"]).ok();
    let report = one_object(&run);
    assert_eq!(report["trusted"], true);
    assert_eq!(report["error"], Value::Null);
    assert_eq!(report["served"], r.public().display().to_string());
    let listed = r.listed_targets();
    assert_eq!(report["artifacts"], listed.len());
    let bytes: u64 = listed.values().map(|t| t["length"].as_u64().unwrap()).sum();
    assert_eq!(report["bytes"], bytes);
    assert_eq!(report["bad_artifacts"], serde_json::json!([]));
    let roles = report["roles"].as_array().unwrap();
    for (role, file) in role_files(&r) {
        let got = roles
            .iter()
            .find(|r| r["role"] == role)
            .unwrap_or_else(|| panic!("no {role}: {report}"));
        assert_eq!(got["version"], file["signed"]["version"], "{role}");
        assert_eq!(got["expires"], file["signed"]["expires"], "{role}");
        assert_eq!(got["expiry"], "valid");
    }
    let run = r.verify(&["--json", "--warn-days", "2"]);
    assert_eq!(run.code, Some(3), "{run:#?}");
    assert_eq!(one_object(&run)["trusted"], true);

    // An artifact changed on the server: listed, exit 1 as without --json.
    let name = listed.keys().find(|n| n.ends_with("app.bin")).unwrap();
    std::fs::write(r.artifact(name), b"tampered").unwrap();
    let run = r.verify(&["--json"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    let report = one_object(&run);
    assert_eq!(report["trusted"], false);
    let bad = report["bad_artifacts"].as_array().unwrap();
    assert_eq!(bad.len(), 1, "{report}");
    assert!(bad[0].as_str().unwrap().contains(name.as_str()), "{report}");

    // Metadata that does not verify: the reason, no roles, exit 1.
    let timestamp = r.metadata("timestamp.json");
    let mut body = read_json(&timestamp);
    body["signed"]["version"] = serde_json::json!(99);
    write_json(&timestamp, &body);
    let run = r.verify(&["--json"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    let report = one_object(&run);
    assert_eq!(report["trusted"], false);
    assert_eq!(report["roles"], serde_json::json!([]));
    let error = report["error"].as_str().unwrap();
    assert!(error.contains("timestamp"), "{error}");
    assert!(run.stderr.contains(error), "{run:#?}");
}

#[test]
fn policy_check_json_is_the_checked_policy() {
    let r = DemoRepo::init();
    r.add("1.0.0", "armv7").ok();
    r.add("2.0.0", "armv7").ok();
    let file = r.tmp.path().join("policy.xml");
    std::fs::write(&file, reference_policy("")).unwrap();
    let path = file.to_str().unwrap();

    let text = repo(["policy", "check", r.path.to_str().unwrap(), path]).ok();
    assert!(text.stdout.contains("policy is valid"), "{text:#?}");
    let run = repo(["policy", "check", r.path.to_str().unwrap(), path, "--json"]).ok();
    let checked = one_object(&run);
    assert_eq!(checked["valid"], true);
    assert_eq!(checked["error"], Value::Null);
    let policy = &checked["policy"];
    assert_eq!(policy["check_every"], "6h", "{policy}");
    assert_eq!(policy["check_jitter"], "30m");
    assert_eq!(
        policy["window"],
        serde_json::json!({"days": ["Mon", "Tue", "Wed", "Thu", "Fri"], "from": "02:00", "to": "04:00"})
    );
    let channels = policy["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 1);
    let stable = &channels[0];
    assert_eq!(stable["name"], "stable");
    assert_eq!(stable["halted"], false);
    assert_eq!(stable["stepping_stones"], serde_json::json!([]));
    assert_eq!(stable["revoked"], serde_json::json!([]));
    let target = &stable["target"];
    assert_eq!(target["release"], "2.0.0");
    assert_eq!(target["platforms"], serde_json::json!(["armv7"]));
    assert_eq!(target["downgrade"], false);
    assert_eq!(target["restart"], Value::Null);
    assert_eq!(
        target["waves"],
        serde_json::json!([
            {"start": "2026-11-23T00:00:00Z", "share_basis_points": 1000},
            {"start": "2026-11-24T00:00:00Z", "share_basis_points": 5000},
            {"start": "2026-11-26T00:00:00Z", "share_basis_points": 10000},
        ])
    );

    // A target the index does not have: refused, exit 1, the refusal as without --json.
    std::fs::write(&file, reference_policy("").replace("2.0.0", "9.9.9")).unwrap();
    let text = repo(["policy", "check", r.path.to_str().unwrap(), path]);
    assert_eq!(text.code, Some(1), "{text:#?}");
    let run = repo(["policy", "check", r.path.to_str().unwrap(), path, "--json"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    let checked = one_object(&run);
    assert_eq!(checked["valid"], false);
    assert_eq!(checked["policy"], Value::Null);
    let error = checked["error"].as_str().unwrap();
    assert!(error.contains("9.9.9"), "{error}");
    assert_eq!(text.stderr.trim(), format!("error: {error}"));
}

/// `--nagios`: its one line on stdout, and its code.
fn nagios(run: Run, code: i32, start: &str) -> String {
    assert_eq!(run.code, Some(code), "{run:#?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{run:#?}");
    assert!(lines[0].starts_with(start), "{run:#?}");
    lines[0].to_owned()
}

#[test]
fn nagios_codes_are_ok_warning_critical_unknown() {
    let r = DemoRepo::signed();
    let root = r.root_json();
    let root = root.to_str().unwrap();

    // OK: every role valid beyond the window; the next to expire is named.
    let line = nagios(
        repo_on(&r, "status", &["--nagios"]),
        0,
        "REPO OK - 4 role(s)",
    );
    assert!(line.contains("next to expire: timestamp in "), "{line}");
    // `verify` counts every role that verified, the catalogue's among them.
    let line = nagios(
        repo_on(&r, "verify", &["--root", root, "--nagios"]),
        0,
        "REPO OK - ",
    );
    assert!(line.contains("next to expire: timestamp in "), "{line}");

    // WARNING: the timestamp (a day's life) expires within two days.
    let line = nagios(
        repo_on(&r, "status", &["--nagios", "--warn-days", "2"]),
        1,
        "REPO WARNING - timestamp expires in ",
    );
    let expires = read_json(&r.metadata("timestamp.json"))["signed"]["expires"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(line.ends_with(&format!(" at {expires}")), "{line}");
    nagios(
        repo_on(
            &r,
            "verify",
            &["--root", root, "--nagios", "--warn-days", "2"],
        ),
        1,
        "REPO WARNING - timestamp expires in ",
    );

    // UNKNOWN: no repository there, or no trusted root to verify with.
    let missing = r.tmp.path().join("nothing-here");
    nagios(
        repo(["status", missing.to_str().unwrap(), "--nagios"]),
        3,
        "REPO UNKNOWN - could not read the repository: ",
    );
    nagios(
        repo_on(
            &r,
            "verify",
            &["--root", missing.to_str().unwrap(), "--nagios"],
        ),
        3,
        "REPO UNKNOWN - could not read the trusted root ",
    );
}

#[test]
fn nagios_is_critical_for_an_expired_role_and_default_codes_stay() {
    // CRITICAL: a timestamp that expired (devices refuse it).
    let r = DemoRepo::init_with(&["--expires", "timestamp=2s"]);
    r.add("1.0.0", "armv7").ok();
    r.sign().ok();
    let expires = read_json(&r.metadata("timestamp.json"))["signed"]["expires"]
        .as_str()
        .unwrap()
        .to_owned();
    std::thread::sleep(std::time::Duration::from_secs(3));
    nagios(
        repo_on(&r, "status", &["--nagios"]),
        2,
        &format!("REPO CRITICAL - timestamp expired at {expires}"),
    );
    let root = r.root_json();
    nagios(
        repo_on(
            &r,
            "verify",
            &["--root", root.to_str().unwrap(), "--nagios"],
        ),
        2,
        "REPO CRITICAL - repository ",
    );
    // Without --nagios the codes stay as they were: 1 for expired.
    repo_on(&r, "status", &[]).fails_with(1, &format!("error: timestamp expired at {expires}"));
    // And --json keeps that code, with the role judged "expired".
    let run = repo_on(&r, "status", &["--json"]);
    assert_eq!(run.code, Some(1), "{run:#?}");
    let status = one_object(&run);
    let timestamp = status["roles"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["role"] == "timestamp")
        .unwrap();
    assert_eq!(timestamp["expiry"], "expired");
}
