//! The guide (docs/guide.md), run word for word: its `sh` blocks, in order, are turned into
//! one script that checks each command's exit code (0, or the `# exits N` its line
//! announces), and run from the clone's root with the freshly built `repo` and `updater`
//! first on `PATH`. Then every device the guide set up must be running the release it
//! ends on.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e_tests::{bin, run_bounded, workspace_root};

/// Every line of every `sh` block of the guide, in order, with its line number.
fn sh_blocks(guide: &str) -> Vec<(usize, String)> {
    let mut lines = Vec::new();
    let mut inside = false;
    for (i, line) in guide.lines().enumerate() {
        match (inside, line) {
            (false, "```sh") => inside = true,
            (true, "```") => inside = false,
            (true, _) => lines.push((i + 1, line.to_owned())),
            _ => {}
        }
    }
    assert!(!inside, "an sh block of the guide does not end");
    lines
}

/// The exit code a command announces with `# exits N`, else 0.
fn expected_exit(command: &str) -> u8 {
    command
        .split("# exits ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The lines as a bash script that stops at the first command whose exit code is not the
/// one expected, naming its line in the guide.
fn checked_script(block: &[(usize, String)]) -> String {
    let mut script = String::from("trap 'kill $(jobs -p) 2>/dev/null' EXIT\n");
    let mut heredoc_end: Option<String> = None;
    let mut command = String::new();
    let mut command_line = 0;
    for (number, line) in block {
        let line = line.as_str();
        script.push_str(line);
        script.push('\n');
        if let Some(end) = &heredoc_end {
            if line.trim() == end {
                heredoc_end = None;
            } else {
                continue;
            }
        } else {
            let trimmed = line.trim();
            if command.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
                continue;
            }
            if command.is_empty() {
                command_line = *number;
            }
            command.push_str(line);
            command.push('\n');
            if let Some((_, marker)) = line.split_once("<<") {
                let end = marker
                    .trim()
                    .trim_matches('\'')
                    .trim_matches('"')
                    .to_owned();
                heredoc_end = Some(end);
                continue;
            }
            if line.ends_with('\\') {
                continue;
            }
        }
        let expected = expected_exit(&command);
        script.push_str(&format!(
            "__rc=$?; if [ \"$__rc\" != {expected} ]; then echo \"docs/guide.md line {command_line}: exit $__rc, expected {expected}\" >&2; exit 1; fi\n"
        ));
        command.clear();
    }
    script
}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

fn running(dir: &Path, device: &str) -> PathBuf {
    std::fs::read_link(dir.join(device).join("install/current"))
        .unwrap_or_else(|e| panic!("{device} has no current release: {e}"))
}

#[test]
fn the_guide_runs_word_for_word() {
    let guide = std::fs::read_to_string(workspace_root().join("docs/guide.md")).expect("guide");
    let block = sh_blocks(&guide);
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = tmp.path().join("workflow.sh");
    std::fs::write(&script, checked_script(&block)).expect("write script");
    let scratch = tmp.path().join("tmp");
    std::fs::create_dir(&scratch).expect("mkdir");

    let bins = bin("repo").parent().expect("bin dir").to_owned();
    let path = format!(
        "{}:{}",
        bins.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let run = run_bounded(
        Command::new("bash")
            .arg(&script)
            .current_dir(workspace_root())
            .env("PATH", path)
            .env("TMPDIR", &scratch)
            .env("PORT", free_port().to_string()),
        Duration::from_secs(300),
    );
    eprintln!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "the guide failed: {run:#?}");

    // mktemp -d made exactly one folder: the guide's.
    let made: Vec<_> = std::fs::read_dir(&scratch)
        .expect("read scratch")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    // The served devices moved on to 2.1.0 (kiosk-2's encrypted to it); the air-gapped
    // site stays on the archive's 2.0.0.
    for (device, release) in [
        ("kiosk-1", "releases/2.1.0"),
        ("kiosk-2", "releases/2.1.0"),
        ("site-1", "releases/2.0.0"),
    ] {
        assert_eq!(running(&made[0], device), Path::new(release), "{run:#?}");
    }
    assert!(
        run.stdout.contains("encrypted to 1 recipient(s)"),
        "{run:#?}"
    );
    // The air-gap export left the served repository's own timestamp as signed.
    assert!(
        run.stdout.contains("devices accept this archive until"),
        "{run:#?}"
    );
}

#[test]
fn the_checked_script_stops_at_an_unexpected_exit() {
    let block: Vec<(usize, String)> = [
        "true",
        "false   # exits 1",
        "cat <<'X'",
        "exit 7",
        "X",
        "false",
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| (10 + i, s.to_string()))
    .collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = tmp.path().join("s.sh");
    std::fs::write(&script, checked_script(&block)).expect("write");
    let run = run_bounded(Command::new("bash").arg(&script), Duration::from_secs(30));
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stderr
            .contains("docs/guide.md line 15: exit 1, expected 0"),
        "{run:#?}"
    );
}
