//! Man pages and shell completions, generated from the programs' own argument definitions
//! and installed by `scripts/install-docs.sh PREFIX`: `man -l` renders a page for every
//! command and subcommand each program's `--help` lists (and the program's page names them
//! all), and the bash completion script loads.

use std::path::Path;
use std::process::Command;

use e2e_tests::{bin, workspace_root};

/// The subcommands `PROGRAM [PATH...] --help` lists (its "Commands:" section), `help` aside.
fn subcommands(program: &str, path: &[&str]) -> Vec<String> {
    let out = Command::new(bin(program))
        .args(path)
        .arg("--help")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let help = String::from_utf8(out.stdout).unwrap();
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_owned)
        .collect()
}

/// A man page rendered by `man -l`, as plain text on a wide page (no hyphenation breaks).
fn render(page: &Path) -> String {
    let out = Command::new("man")
        .arg("-l")
        .arg(page)
        .env("MANWIDTH", "300")
        .env("MANPAGER", "cat")
        .env("PAGER", "cat")
        .output()
        .expect("man (Debian's man-db; scripts/install-deps.sh installs it)");
    assert!(out.status.success(), "man -l {}: {out:?}", page.display());
    String::from_utf8(out.stdout).unwrap()
}

/// Checks the page of `name` (`repo`, `repo-policy`, ...) and, recursively, of each of
/// its subcommands; returns how many pages were checked.
fn check_pages(man: &Path, program: &str, path: &[&str]) -> usize {
    let name = std::iter::once(program)
        .chain(path.iter().copied())
        .collect::<Vec<_>>()
        .join("-");
    let text = render(&man.join(format!("{name}.1")));
    assert!(text.contains("NAME"), "{name}: {text}");
    assert!(
        text.contains(&format!("{name} - ")),
        "{name}.1 lacks its NAME line: {text}"
    );
    let mut checked = 1;
    for sub in subcommands(program, path) {
        assert!(
            text.contains(&format!("{name}-{sub}(1)")),
            "{name}.1 does not name {sub}: {text}"
        );
        let mut deeper = path.to_vec();
        deeper.push(&sub);
        checked += check_pages(man, program, &deeper);
    }
    checked
}

#[test]
fn man_pages_and_completions_install_and_load() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    let bin_dir = bin("repo").parent().unwrap().to_owned();
    let out = Command::new("bash")
        .arg(workspace_root().join("scripts/install-docs.sh"))
        .arg(&prefix)
        .arg(&bin_dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "install-docs.sh: {out:?}");

    let man = prefix.join("share/man/man1");
    let mut pages = 0;
    for program in ["updater", "repo", "fleet"] {
        pages += check_pages(&man, program, &[]);

        let script = prefix
            .join("share/bash-completion/completions")
            .join(program);
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "source '{}' && complete -p {program}",
                script.display()
            ))
            .output()
            .unwrap();
        assert!(out.status.success(), "{program}: {out:?}");
        let line = String::from_utf8(out.stdout).unwrap();
        assert!(
            line.trim_end()
                .ends_with(&format!("-F _{program} {program}")),
            "{line}"
        );
        let zsh =
            std::fs::read_to_string(prefix.join(format!("share/zsh/site-functions/_{program}")))
                .unwrap();
        assert!(zsh.starts_with(&format!("#compdef {program}")), "{zsh}");
        let fish = prefix.join(format!("share/fish/vendor_completions.d/{program}.fish"));
        assert!(std::fs::read_to_string(fish)
            .unwrap()
            .contains(&format!("complete -c {program}")));
    }
    // One page per (sub)command, and nothing else in the folder.
    let files = std::fs::read_dir(&man).unwrap().count();
    assert_eq!(files, pages);
    // Bash completes a subcommand of `repo` from its definitions.
    let script = prefix.join("share/bash-completion/completions/repo");
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source '{}'; COMP_WORDS=(repo sta); COMP_CWORD=1; COMP_LINE='repo sta'; COMP_POINT=8; _repo repo sta repo; echo \"${{COMPREPLY[@]}}\"",
            script.display()
        ))
        .output()
        .unwrap();
    let completed = String::from_utf8_lossy(&out.stdout);
    assert_eq!(completed.trim(), "status", "{out:?}");
}
