//! The TUF workflow on the device: refresh the trusted metadata in the specification's order
//! ([`client::Client`]), find a target through the delegations, and download it with bounded
//! memory, checking its length and hashes as the bytes arrive ([`copy`], [`artifact`]).

pub mod artifact;
pub mod client;
pub mod copy;
