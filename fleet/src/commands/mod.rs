//! One module per `fleet` command.

pub mod ask;
pub mod enroll;
pub mod import;
pub mod serve;
