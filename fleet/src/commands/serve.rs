//! `fleet serve`: the collector's HTTP(S) service.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context, Result};
use clap::Args;
use fleet::collector::Collector;
use fleet::db::Db;
use fleet::http::routes::Routes;
use fleet::http::{server, tls};

use crate::DbArg;

#[derive(Args)]
pub struct ServeArgs {
    #[command(flatten)]
    db: DbArg,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8443")]
    listen: String,
    /// PEM certificate chain (leaf first): serve HTTPS. Without it, plain HTTP, allowed on
    /// a loopback address only (devices post to http:// on their own machine only).
    #[arg(long, requires = "tls_key", value_name = "FILE")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    tls_key: Option<PathBuf>,
    /// Require client certificates issued by this CA (PEM) before a request is read.
    #[arg(long, requires = "tls_cert", value_name = "FILE")]
    client_ca: Option<PathBuf>,
    /// The signed policy.xml, to draw each release's planned ramp on the dashboard.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// A device not done with a release counts as silent after this many seconds without
    /// news.
    #[arg(long, default_value_t = 86_400, value_name = "SECONDS")]
    silent_after: i64,
}

pub fn run(args: &ServeArgs) -> Result<()> {
    let listener =
        TcpListener::bind(&args.listen).with_context(|| format!("listening on {}", args.listen))?;
    let local = listener.local_addr()?;
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(tls::server_config(cert, key, args.client_ca.as_deref())?),
        _ if local.ip().is_loopback() => None,
        _ => bail!("{local} is not a loopback address: give --tls-cert and --tls-key"),
    };
    let policy = match &args.policy {
        Some(path) => {
            let bytes = updater::fs::read_bounded(path, updater::limits::MAX_POLICY_BYTES)?;
            Some(Arc::new(updater::rollout::policy::parse(&bytes)?))
        }
        None => None,
    };
    let routes = Routes {
        collector: Collector::start(&args.db.db)?,
        reader: Mutex::new(Db::open(&args.db.db)?),
        policy,
        silent_after: args.silent_after,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    // One line scripts wait for: the address, with the port the system gave.
    println!("fleet: serving {scheme}://{local}/ (reports: POST {scheme}://{local}/v1/reports)");
    server::serve(listener, tls, Arc::new(routes));
    Ok(())
}
