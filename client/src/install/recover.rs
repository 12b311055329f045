//! Recovery at start: whatever a crash or power cut interrupted is finished or undone from
//! the journal and the links as they are on disk, then broken links and leftovers repaired.

use std::fs;

use super::*;

impl Installer {
    /// Finishes or undoes whatever a crash or power cut interrupted, repairs links that name
    /// missing folders and unreadable state, and removes leftovers. Returns what it did, in
    /// words, one line each.
    pub fn recover(&self) -> Result<Vec<String>, InstallError> {
        let mut done = Vec::new();
        let (_, repaired) = self.state_repairing()?;
        done.extend(repaired);
        match Journal::read(&self.journal_path()) {
            Ok(None) => {}
            Ok(Some(Journal::Install(journal))) => done.push(self.recover_install(journal)?),
            Ok(Some(Journal::Rollback(journal))) => done.push(self.recover_rollback(journal)?),
            Err(journal::JournalError::Io(e)) => return Err(io_err("journal.json", e)),
            Err(e @ journal::JournalError::Unreadable(_)) => {
                done.push(self.recover_without_journal(&e.to_string())?)
            }
        }
        done.extend(self.repair_links()?);
        let _ = fs::remove_dir_all(self.root.join(".staging"));
        self.prune()?;
        if !done.is_empty() {
            let summary = done.join("; ");
            self.update_state(|s| s.last_result = Some(summary))?;
        }
        Ok(done)
    }

    fn recover_install(&self, mut journal: InstallJournal) -> Result<String, InstallError> {
        let release = journal.release.clone();
        let switched = self.link("current")?.as_ref() == Some(&release);
        match journal.step {
            InstallStep::Staging | InstallStep::Switching | InstallStep::Trial if !switched => {
                // Never switched to: the running release was never touched.
                self.end_journal()?;
                Ok(format!(
                    "undid the interrupted install of {release} (it was not yet switched to)"
                ))
            }
            InstallStep::Staging | InstallStep::Switching | InstallStep::Trial => {
                // Switched, health never confirmed: judge it again, or give up on it.
                let outcome = if journal.trials >= MAX_TRIALS {
                    let reason = format!(
                        "interrupted {} times during its post-install scripts or health check \
                         (the device restarted or the updater was killed)",
                        journal.trials
                    );
                    self.revert(&mut journal, reason)
                } else {
                    self.trial(&mut journal)
                };
                match outcome {
                    Ok(()) => Ok(format!(
                        "finished the interrupted install of {release}: its health check passed \
                         (trial {})",
                        journal.trials
                    )),
                    Err(e @ InstallError::RolledBack { .. }) => Ok(e.to_string()),
                    Err(e) => Err(e),
                }
            }
            InstallStep::Committing => {
                if switched {
                    self.commit(&journal)?;
                } else {
                    self.end_journal()?;
                }
                Ok(format!("finished the interrupted install of {release}"))
            }
            InstallStep::Reverting => {
                let reason = journal
                    .reason
                    .clone()
                    .unwrap_or_else(|| "its trial failed".into());
                match self.revert(&mut journal, reason) {
                    Err(e @ InstallError::RolledBack { .. }) => Ok(e.to_string()),
                    Err(e) => Err(e),
                    Ok(()) => Ok(format!("rolled back {release}")),
                }
            }
        }
    }

    fn recover_rollback(&self, journal: RollbackJournal) -> Result<String, InstallError> {
        if self.link("current")?.as_ref() == Some(&journal.to) {
            self.point("previous", Some(&journal.from))?;
            self.end_journal()?;
            Ok(format!(
                "finished the interrupted rollback to {} (previous: {})",
                journal.to, journal.from
            ))
        } else {
            self.end_journal()?;
            Ok(format!(
                "the interrupted rollback to {} had not switched; still on {}",
                journal.to, journal.from
            ))
        }
    }

    /// An unreadable journal: keep it for inspection, and go back to the release `state.json`
    /// last recorded as running if `current` moved since (its health was never confirmed).
    fn recover_without_journal(&self, why: &str) -> Result<String, InstallError> {
        let aside = self.root.join("journal.json.corrupt");
        fs::rename(self.journal_path(), &aside).map_err(|e| io_err("journal.json", e))?;
        sync_dir(&self.root).map_err(|e| io_err("install folder", e))?;
        let current = self.link("current")?;
        let (state, _) = self.state_repairing()?;
        let back = state
            .running
            .filter(|r| Some(r) != current.as_ref() && self.has_release(r));
        let done = match back {
            Some(r) => {
                self.point("current", Some(&r))?;
                format!("went back to {r}, the last release known to have run")
            }
            None => format!(
                "left current on {}",
                current.map_or("nothing".into(), |r| r.to_string())
            ),
        };
        Ok(format!("{why}; kept it as {}; {done}", aside.display()))
    }

    /// Makes `current` and `previous` name existing folders, or nothing.
    fn repair_links(&self) -> Result<Vec<String>, InstallError> {
        let mut done = Vec::new();
        let previous = self.link("previous")?;
        if let Some(p) = previous.as_ref().filter(|p| !self.has_release(p)) {
            self.point("previous", None)?;
            done.push(format!(
                "previous named {p}, whose folder is missing: removed the link"
            ));
        }
        let previous = self.link("previous")?;
        if let Some(c) = self.link("current")?.filter(|c| !self.has_release(c)) {
            match previous {
                Some(p) => {
                    self.point("current", Some(&p))?;
                    done.push(format!(
                        "current named {c}, whose folder is missing: back on {p}"
                    ));
                }
                None => {
                    self.point("current", None)?;
                    done.push(format!(
                        "current named {c}, whose folder is missing: removed the link; \
                         the next apply installs afresh"
                    ));
                }
            }
        }
        Ok(done)
    }
}
