//! One file per command.

pub(crate) mod apply;
pub(crate) mod download;
pub(crate) mod hold;
pub(crate) mod id;
pub(crate) mod init;
pub(crate) mod keygen;
pub(crate) mod plan;
pub(crate) mod recorder;
pub(crate) mod refresh;
pub(crate) mod report;
pub(crate) mod retry;
pub(crate) mod rollback;
pub(crate) mod run;
pub(crate) mod status;
pub(crate) mod targets;
