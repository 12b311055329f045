//! Running the device owner's hooks and a release's signed scripts: in their own process
//! group, killed with everything they started after a timeout, and never outliving the
//! updater that started them.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rustix::process::{Pid, Signal};

use super::InstallError;

/// Runs `argv` in `cwd` with `env`, killing its whole process group after `timeout`.
pub(crate) fn run_hook(
    what: &str,
    argv: &[String],
    env: &[(&str, &str)],
    cwd: &Path,
    timeout: Duration,
) -> Result<(), InstallError> {
    let fail = |reason: String| InstallError::Hook {
        what: what.to_owned(),
        reason,
    };
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| fail("empty command".into()))?;
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().copied())
        .current_dir(cwd)
        .stdin(Stdio::null())
        // Its own process group, so that a timeout ends everything it started.
        .process_group(0);
    die_with_parent(&mut command);
    let mut child = command
        .spawn()
        .map_err(|e| fail(format!("cannot run {program}: {e}")))?;
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) if status.success() => return Ok(()),
            Ok(Some(status)) => return Err(fail(format!("exited with {status}"))),
            Ok(None) if Instant::now() >= deadline => {
                // The group's id is the child's pid (`process_group(0)` above).
                let _ = rustix::process::kill_process_group(Pid::from_child(&child), Signal::KILL);
                let _ = child.kill();
                let _ = child.wait();
                return Err(fail(format!("timed out after {}s", timeout.as_secs())));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(e) => return Err(fail(e.to_string())),
        }
    }
}

/// Makes the kernel kill the hook when the updater dies (killed, or the service stopped), so
/// a hook never runs on against a release the next start is about to judge again.
fn die_with_parent(command: &mut Command) {
    let parent = rustix::process::getpid();
    // SAFETY: the project's one `unsafe`. `pre_exec` runs in the forked child before exec,
    // where only async-signal-safe work is allowed: this closure makes two raw system calls
    // through rustix (prctl and getppid), allocates nothing and takes no lock.
    unsafe {
        command.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(Signal::KILL))?;
            // The updater may have died between fork and prctl: then nobody would kill us.
            if rustix::process::getppid() != Some(parent) {
                return Err(std::io::Error::other("the updater exited"));
            }
            Ok(())
        });
    }
}
