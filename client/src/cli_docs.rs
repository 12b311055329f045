//! Shell completions and man pages for the three programs (`updater`, `repo`, `fleet`),
//! generated from their clap definitions at run time, so that they describe exactly the
//! arguments the installed binary parses (`PROGRAM completions SHELL`, `PROGRAM manpage
//! DIR`; `scripts/install-docs.sh PREFIX` installs both).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

pub use clap_complete::Shell;

/// Writes the completion script of `cmd` for `shell` to `out`.
pub fn write_completions(mut cmd: clap::Command, shell: Shell, out: &mut dyn Write) {
    let name = cmd.get_name().to_owned();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// Writes one man page per command and visible subcommand into `dir` (`repo.1`,
/// `repo-status.1`, `repo-policy-check.1`, ...) and returns their paths, parents first.
pub fn write_manpages(cmd: clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    fn write(cmd: clap::Command, dir: &Path, written: &mut Vec<PathBuf>) -> io::Result<()> {
        let subcommands: Vec<clap::Command> = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .cloned()
            .collect();
        written.push(clap_mangen::Man::new(cmd).generate_to(dir)?);
        for sub in subcommands {
            write(sub, dir, written)?;
        }
        Ok(())
    }
    std::fs::create_dir_all(dir)?;
    // Built, the subcommands carry their full names (`repo-status`) and no `help` command.
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut written = Vec::new();
    write(cmd, dir, &mut written)?;
    Ok(written)
}
