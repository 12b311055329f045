//! The common mistakes of a first hour, as one table: each row sets a mistake up, runs the
//! command a person would run, and asserts the exit code and that the message names the
//! thing at fault (the URL, file, role, key, release or line) and the next step. A mistake
//! changes nothing: the folder each row watches is compared whole before and after.
//!
//! Rows `bad_input.rs` and `refusals.rs` already assert (a key root does not list for the
//! role, a key file that is not a key, re-adding a release with other bytes, `updater init`
//! over a newer root, partial publishes) are not repeated here.
//!
//! The device's exit codes: 1 refused (or any other failure), 3 could not fetch with
//! nothing refused (`apply`, `plan`, `targets`; `init`, `refresh` and `download` keep the
//! TUF client protocol's 1 for every failure); `offline_and_refused_exit_differently` holds
//! the two side by side.
//!
//! The rows are in `updater_rows.rs` and `repo_rows.rs`, one function per area; what they
//! share (`MistakeWorld`, `MistakeRow`) is in the tests library's `mistakes_world.rs`.

mod repo_rows;
mod updater_rows;

use std::ffi::OsString;

use e2e_tests::{
    bin, closed_port, run_bounded, tree_state, MistakeRow as Row, MistakeWorld as World, Run,
};

/// Every row, in the order they run.
fn rows(w: &World) -> Vec<Row> {
    [
        updater_rows::metadata_url_rows(w),
        updater_rows::targets_url_rows(w),
        updater_rows::unreachable_mirror_rows(w),
        updater_rows::blank_device_rows(w),
        updater_rows::device_config_rows(w),
        repo_rows::root_file_rows(w),
        repo_rows::policy_rows(w),
        repo_rows::repo_init_rows(w),
        repo_rows::repo_command_rows(w),
    ]
    .into_iter()
    .flatten()
    .collect()
}

#[test]
fn each_common_mistake_names_what_is_at_fault() {
    let w = World::new();
    let rows = rows(&w);
    assert!(rows.len() >= 20, "{} rows", rows.len());
    let mut failed = Vec::new();
    for row in rows {
        if row.name.starts_with("device trusting another") {
            // The blank device is given a root of another repository (other keys).
            let other_keys = tempfile::tempdir().unwrap();
            let mut args = vec![
                "init".into(),
                other_keys.path().join("r").display().to_string(),
            ];
            for role in ["root", "targets", "snapshot", "timestamp", "policy"] {
                e2e_tests::repo(["keygen".as_ref(), other_keys.path().join(role).as_os_str()]).ok();
                args.extend([
                    "--key".into(),
                    format!(
                        "{role}={}",
                        other_keys.path().join(format!("{role}.pub")).display()
                    ),
                ]);
            }
            args.extend([
                "--sign".into(),
                other_keys.path().join("root.pem").display().to_string(),
            ]);
            e2e_tests::repo(&args).ok();
            let root = other_keys.path().join("r/public/metadata/1.root.json");
            let device = &row.unchanged;
            run(
                "updater",
                &[
                    "--metadata-dir".into(),
                    device.into(),
                    "init".into(),
                    root.into(),
                ],
            )
            .ok();
        }
        let before = tree_state(&row.unchanged);
        let result = run(row.program, &row.args);
        let missing: Vec<&String> = row
            .says
            .iter()
            .filter(|s| !result.stderr.contains(*s))
            .collect();
        if result.code != Some(row.code) || !missing.is_empty() {
            failed.push(format!(
                "{}: exit {:?} (want {}), missing {missing:?}\n  stderr: {}",
                row.name, result.code, row.code, result.stderr
            ));
        }
        if tree_state(&row.unchanged) != before {
            failed.push(format!("{}: {} changed", row.name, row.unchanged.display()));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

/// Runs `program` (`repo` or `updater`) with `args`, bounded.
fn run(program: &str, args: &[OsString]) -> Run {
    run_bounded(
        std::process::Command::new(bin(program)).args(args),
        std::time::Duration::from_secs(120),
    )
}

#[test]
fn offline_and_refused_exit_differently() {
    let w = World::new();
    // Offline: the metadata mirror is a closed port. Nothing was refused: `apply` exits 3,
    // in one line naming the URL and its attempts.
    let offline = format!("http://127.0.0.1:{}", closed_port());
    let offline_config = w.device.configure("02:00:00:00:00:01", &offline, None, "");
    let run = e2e_tests::apply(&w.device, &offline_config).fails_with(
        3,
        &format!(
            "updater: refresh could not fetch the metadata: 2.root.json: could not be fetched \
             ({offline}/metadata/2.root.json: "
        ),
    );
    assert!(run.stderr.contains("(3 attempts)"), "{run:#?}");
    assert!(
        run.stderr
            .contains("no mirror could be reached; nothing was refused"),
        "{run:#?}"
    );
    assert_eq!(run.stderr.lines().count(), 1, "one line: {run:#?}");
    assert_eq!(w.device.running(), None);

    // Refused: the served timestamp is tampered with (one character of its signature).
    // `apply` exits 1, and installs nothing.
    let timestamp = w.repo.metadata("timestamp.json");
    let mut json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&timestamp).unwrap()).unwrap();
    let sig = json["signatures"][0]["sig"].as_str().unwrap().to_owned();
    let flipped = if sig.starts_with('0') { "1" } else { "0" };
    json["signatures"][0]["sig"] = format!("{flipped}{}", &sig[1..]).into();
    std::fs::write(&timestamp, serde_json::to_vec(&json).unwrap()).unwrap();
    let served = w.server.url();
    let config = w.device.configure("02:00:00:00:00:01", &served, None, "");
    let metadata_before = tree_state(&w.device.metadata_dir);
    e2e_tests::apply(&w.device, &config).fails_with(
        1,
        "updater: refresh refused: timestamp: 0 of 1 required signatures are valid",
    );
    assert_eq!(metadata_before, tree_state(&w.device.metadata_dir));
    assert_eq!(w.device.running(), None);

    // A mirror down and another serving the tampered file: the refusal is what counts.
    let both = w.tmp_config(&[&offline, &served]);
    e2e_tests::apply(&w.device, &both).fails_with(1, "updater: refresh refused: timestamp: ");

    // `refresh` keeps the TUF client protocol's exit 1 for either, its words still apart.
    w.device
        .refresh(&[&offline])
        .fails_with(1, "refresh could not fetch the metadata: ");
}
