//! The catalogue: how the releases of a repository are laid out as targets roles, so that
//! what a device fetches to learn of a new release, and what `repo sign` signs, depends on
//! what changed and not on the history.
//!
//! ```text
//! targets (top level)  delegations only, in this order:
//!   policy             policy.xml
//!   live-NN            one slot per live release: the newest `live_releases` releases (by
//!                      release order), each slot listing exactly one release's files,
//!                      paths exactly `releases/<R>/*[/*...]`, terminating
//!   history            last: every older release; paths `releases/*/*[/*...]`, terminating
//!     volume-<NNNNN>   the files of many older releases, up to `volume_bytes` each; paths
//!                      exactly those releases' folders, terminating
//! ```
//!
//! Why this shape: in TUF 1.0 a snapshot lists every targets role, a device reads the whole
//! snapshot and the whole top-level targets on every update, and a role once listed must
//! stay listed (a client refuses a snapshot that drops one, specification 5.5.5). A role
//! named after each release would make the snapshot grow with the history for ever
//! (10,000 releases: 2.5 MB), so the newest releases sit in a fixed set of slots, each
//! re-signed for the next release when its release folds into a volume; volumes fill up
//! to `volume_bytes` and are then never signed again. The snapshot lists `live_releases`
//! slots + one entry per volume (a 4 MiB volume holds ~15,000 artifacts), the top-level
//! targets `live_releases` small delegations, and a device that wants a new release
//! fetches that release's slot only: the slot's delegation covers every depth the history
//! reaches, so listing the release never visits the history. A device that wants an old
//! release fetches `history` (one pattern line per old release) and the one volume
//! holding it.
//!
//! Every role is signed by the targets keys of root (the keys the delegation names are
//! those of the signing time, so a later key rotation re-signs only what changes). Release
//! roles and volumes use the `releases` expiry, long by default: the snapshot pins each
//! role's version, length and hashes, so an old role cannot be replayed or frozen, and
//! re-signing the history every few months would make signing cost grow with it.
//!
//! What has been published is recorded in `catalogue.json` (beside `repo.toml`, never
//! served): each catalogue role's version, length and hashes as the next snapshot lists it,
//! written in the same publication as the roles, so that signing never reads the history.

mod arrange;
pub(crate) use names::SLOT_PREFIX;
mod names;
mod record;
mod retire;
mod split;
mod staged;

pub(crate) use arrange::{arrange, Signers};
pub(crate) use record::{Place, Published, Record};
pub use retire::retire;
pub(crate) use retire::{retire_path, staged_retirements};
pub(crate) use split::split_large;
pub(crate) use staged::{migrate_staged, StagedReleases, TargetMap};
