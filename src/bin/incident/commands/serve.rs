//! serve: the database shared over HTTP.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use incident::metrics::SlaTargets;
use incident::server::ServeOptions;

use crate::cli::{LogFormat, ServeArgs};
use crate::config;

pub(crate) fn run(db: &Option<PathBuf>, a: ServeArgs) -> Result<ExitCode> {
    let addr: std::net::SocketAddr = a.addr.parse().with_context(|| {
        format!(
            "--addr: {:?} is not an address such as 127.0.0.1:7807",
            a.addr
        )
    })?;
    let sla = match &a.config {
        Some(path) => SlaTargets::load(path)?,
        None => SlaTargets::default(),
    };
    let filter = tracing_subscriber::EnvFilter::try_from_env("INCIDENT_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match a.log_format {
        LogFormat::Json => logs.json().init(),
        LogFormat::Text => logs.with_ansi(false).init(),
    }
    let m = config::open(db)?;
    let opts = ServeOptions {
        addr,
        require_token: a.require_token,
        kb_dir: a.kb_dir,
        sla,
        body_limit: a.body_limit,
    };
    let path = config::db_path(db);
    incident::server::serve(m, opts, |bound, _| {
        // Tests and scripts read the address (port 0 picks a free one) from this line.
        eprintln!(
            "incident: serving {} on http://{bound} (dashboard at http://{bound}/)",
            path.display()
        );
    })?;
    Ok(ExitCode::SUCCESS)
}
