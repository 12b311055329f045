//! Rollout: the signed policy's model and parser ([`policy`]), durations and install windows
//! ([`period`]), the releases the verified index offers ([`index`]), the pure decision of
//! whether and when this device moves ([`decide`]), the
//! rule that a failed release is not tried again under the same policy ([`retry`]), the
//! owner's hold that keeps a device where it is ([`hold`]), when
//! `updater run` wakes next ([`wake`]), and the moves a policy asks for that devices cannot
//! make ([`stranded`]).
//! No I/O (the index asks a `TargetsSource` for roles): the same inputs give the same answer on every device and in `repo policy check`.

pub mod decide;
pub mod hold;
pub mod index;
pub mod period;
pub mod policy;
pub mod retry;
pub mod stranded;
pub mod wake;
