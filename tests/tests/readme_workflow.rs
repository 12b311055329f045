//! The README's Workflow, run word for word: its `sh` block is turned into a script that
//! checks each command's exit code (0, or the `# exits N` its line announces), and run from
//! the clone's root with the freshly built `repo` and `updater` first on `PATH`. Then every
//! device the Workflow set up must be running release 2.0.0.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use e2e_tests::{bin, run_bounded, workspace_root};

/// The first `sh` block after the `## Workflow` heading, with the line number of its first
/// line in the README.
fn workflow_block(readme: &str) -> (usize, Vec<String>) {
    let lines: Vec<&str> = readme.lines().collect();
    let heading = lines
        .iter()
        .position(|l| *l == "## Workflow")
        .expect("README has a ## Workflow section");
    let open = heading
        + lines[heading..]
            .iter()
            .position(|l| *l == "```sh")
            .expect("the Workflow has an sh block");
    let close = open
        + lines[open..]
            .iter()
            .position(|l| *l == "```")
            .expect("the sh block ends");
    (
        open + 2,
        lines[open + 1..close]
            .iter()
            .map(|l| l.to_string())
            .collect(),
    )
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

/// The block as a bash script that stops at the first command whose exit code is not the
/// one expected, naming its README line.
fn checked_script(first_line: usize, block: &[String]) -> String {
    let mut script = String::from("trap 'kill $(jobs -p) 2>/dev/null' EXIT\n");
    let mut heredoc_end: Option<String> = None;
    let mut command = String::new();
    let mut command_line = 0;
    for (i, line) in block.iter().enumerate() {
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
                command_line = first_line + i;
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
            "__rc=$?; if [ \"$__rc\" != {expected} ]; then echo \"README line {command_line}: exit $__rc, expected {expected}\" >&2; exit 1; fi\n"
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
fn the_readme_workflow_runs_word_for_word() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README");
    let (first_line, block) = workflow_block(&readme);
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = tmp.path().join("workflow.sh");
    std::fs::write(&script, checked_script(first_line, &block)).expect("write script");
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
    assert_eq!(run.code, Some(0), "the Workflow failed: {run:#?}");

    // mktemp -d made exactly one folder: the Workflow's.
    let made: Vec<_> = std::fs::read_dir(&scratch)
        .expect("read scratch")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(made.len(), 1, "{made:?}");
    for device in ["kiosk-1", "kiosk-2", "site-1"] {
        assert_eq!(
            running(&made[0], device),
            Path::new("releases/2.0.0"),
            "{run:#?}"
        );
    }
    // The air-gap export left the served repository's own timestamp as signed.
    assert!(
        run.stdout.contains("devices accept this archive until"),
        "{run:#?}"
    );
}

#[test]
fn the_checked_script_stops_at_an_unexpected_exit() {
    let block: Vec<String> = [
        "true",
        "false   # exits 1",
        "cat <<'X'",
        "exit 7",
        "X",
        "false",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let tmp = tempfile::tempdir().expect("tempdir");
    let script = tmp.path().join("s.sh");
    std::fs::write(&script, checked_script(10, &block)).expect("write");
    let run = run_bounded(Command::new("bash").arg(&script), Duration::from_secs(30));
    assert_eq!(run.code, Some(1), "{run:#?}");
    assert!(
        run.stderr.contains("README line 15: exit 1, expected 0"),
        "{run:#?}"
    );
}
