//! serve: the database shared over HTTP.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use incident::notify::NotifyConfig;
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
    // Every config error (SLA, notify, escalation) names its field before anything binds.
    let notify = Arc::new(NotifyConfig {
        kb_dir: Some(a.kb_dir.clone()),
        ..config::notify_config(&a.config)?
    });
    let sla = notify.sla;
    if a.escalate_every == 0 {
        anyhow::bail!("--escalate-every must be at least 1 second");
    }
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
        notify,
        escalate_every: Duration::from_secs(a.escalate_every),
    };
    let location = config::location(db);
    incident::server::serve(m, opts, |bound, _| {
        // Tests and scripts read the address (port 0 picks a free one) from this line.
        eprintln!("incident: serving {location} on http://{bound} (dashboard at http://{bound}/)");
    })?;
    Ok(ExitCode::SUCCESS)
}
