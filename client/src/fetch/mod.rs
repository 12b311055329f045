//! Fetching bytes from mirrors: the [`transport::Transport`] trait and its three kinds (HTTP(S),
//! a local folder, an archive file), the failover across mirrors, and the on-disk store of
//! trusted metadata. Nothing here decides whether bytes are trustworthy; the update layer
//! verifies everything this layer returns.

pub mod archive;
pub(crate) mod http;
mod local;
mod location;
pub mod mirrors;
pub mod store;
mod tls;
pub mod transport;

pub use http::{HttpOptions, SpeedFloor};
pub use local::LocalTransport;
pub use location::for_location;
pub(crate) use tls::client_config;
pub use tls::{ClientCertRefusal, ClientIdentity, TlsSetupError};
