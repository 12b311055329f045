//! Rollout: the signed policy's model and parser ([`policy`]), durations and install windows
//! ([`period`]), and the pure decision of whether and when this device moves ([`decide`]), and
//! the moves a policy asks for that devices cannot make ([`stranded`]).
//! No I/O: the same inputs give the same answer on every device and in `repo policy check`.

pub mod decide;
pub mod period;
pub mod policy;
pub mod stranded;
