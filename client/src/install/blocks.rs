//! The two local blocks a device keeps in `state.json`, and the owner's commands over them:
//! a release that failed its trial here (cleared by `updater retry`, so the next apply tries
//! it again), and a hold (`updater hold` / `updater unhold`) that keeps the device where it
//! is. Each change is one atomic rewrite of `state.json`; asking to clear what is not there
//! writes nothing.

use super::*;

impl Installer {
    /// Forgets the failed trial, so the next apply may try that release again; returns what
    /// it forgot (`None`: there was nothing, and nothing was written).
    pub fn clear_failed(&self) -> Result<Option<Failed>, InstallError> {
        let Some(failed) = self.state()?.failed else {
            return Ok(None);
        };
        self.update_state(|s| s.failed = None)?;
        Ok(Some(failed))
    }

    /// Holds the device where it is from `since`, for `reason`; returns the hold it
    /// replaced, if it was held already.
    pub fn hold(
        &self,
        since: UtcTime,
        reason: Option<String>,
    ) -> Result<Option<Held>, InstallError> {
        let before = self.state()?.held;
        self.update_state(|s| s.held = Some(Held { since, reason }))?;
        Ok(before)
    }

    /// Ends the hold; returns it (`None`: the device was not held, and nothing was written).
    pub fn unhold(&self) -> Result<Option<Held>, InstallError> {
        let Some(held) = self.state()?.held else {
            return Ok(None);
        };
        self.update_state(|s| s.held = None)?;
        Ok(Some(held))
    }
}
