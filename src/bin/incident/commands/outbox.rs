//! outbox: list, retry, discard, deliver.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Result;
use incident::IncidentManager;
use incident::notify::{self, Background, DeliveryCounters, Hooks, NotifyConfig, PassReport};
use incident::report::format_table;

use super::{print, print_json};
use crate::backend::Remote;
use crate::cli::{DeliverArgs, OutFormat, OutboxArgs, OutboxCommand};
use crate::config;

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, a: OutboxArgs) -> Result<ExitCode> {
    if let Some(OutboxCommand::Deliver(d)) = a.command {
        r.local_only("outbox deliver")?;
        return deliver(db, d);
    }
    if let Some(seq) = a.discard {
        r.local_only("outbox --discard")?;
        let m = config::open_existing(db)?;
        if !notify::discard(&m, seq)? {
            anyhow::bail!("--discard {seq}: the outbox has no entry {seq} (see `incident outbox`)");
        }
        print(&format!("outbox entry {seq} removed\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let m = r.open(db, false)?;
    if let Some(id) = &a.retry {
        let n = m.outbox_retry(id)?;
        if n == 0 {
            anyhow::bail!("--retry {id}: no dead letter matches (see `incident outbox --failed`)");
        }
        print(&format!("{n} dead letter(s) queued again\n"))?;
        return Ok(ExitCode::SUCCESS);
    }
    let view = m.outbox(a.failed)?;
    if a.format == OutFormat::Json {
        print_json(&view)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = view
        .rows
        .iter()
        .map(|row| {
            vec![
                row.id.clone(),
                row.state.clone(),
                row.attempts.to_string(),
                row.event.clone(),
                row.incident.clone(),
                row.event_id.clone(),
                match (&row.last_error, row.state.as_str()) {
                    (Some(e), _) => e.clone(),
                    (None, "pending") => {
                        row.next_at.map(|t| format!("due {t}")).unwrap_or_default()
                    }
                    _ => String::new(),
                },
            ]
        })
        .collect();
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str(&format_table(
            &[
                "ID",
                "STATE",
                "ATTEMPTS",
                "EVENT",
                "INCIDENT",
                "EVENT ID",
                "LAST ERROR / NEXT",
            ],
            &rows,
        ));
    }
    out.push_str(&format!(
        "{} pending ({} failing), {} dead, {} not yet routed",
        view.pending, view.failing, view.dead, view.unrouted
    ));
    if view.damaged > 0 {
        out.push_str(&format!(
            ", {} damaged (never sent; `incident check` names them)",
            view.damaged
        ));
    }
    out.push('\n');
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn deliver(db: &Option<PathBuf>, a: DeliverArgs) -> Result<ExitCode> {
    let cfg = Arc::new(NotifyConfig {
        kb_dir: Some(a.kb_dir.clone()),
        ..config::notify_config(&a.config)?
    });
    if cfg.targets.is_empty() {
        anyhow::bail!(
            "no notification targets: the config file needs a `notify` section (--config or INCIDENT_CONFIG)"
        );
    }
    let path = config::db_path(db);
    // A PostgreSQL URL names a database that exists; a file must.
    if matches!(config::location(db), incident::db::Location::File(_)) && !path.exists() {
        anyhow::bail!("database {} does not exist", path.display());
    }
    let busy = config::busy_timeout()?;
    // The file is opened per step, so other commands can use it while receivers answer.
    let open = move || IncidentManager::open_with_timeout(&path, busy).map(Box::new);
    let log = |r: &PassReport| {
        for f in &r.failures {
            eprintln!("outbox: delivery failed: {f}");
        }
        eprintln!(
            "outbox: {} delivered, {} retrying, {} dead, {} routed, {} without a target",
            r.delivered, r.retrying, r.dead, r.routed, r.discarded
        )
    };
    if a.once {
        let counters = DeliveryCounters::default();
        let mut total = PassReport::default();
        loop {
            let r = notify::pass(&open, &cfg, &counters, 64)?;
            let more = r.claimed > 0;
            total.delivered += r.delivered;
            total.retrying += r.retrying;
            total.dead += r.dead;
            total.routed += r.routed;
            total.discarded += r.discarded;
            total.failures.extend(r.failures);
            if !more {
                break;
            }
        }
        log(&total);
        return Ok(ExitCode::SUCCESS);
    }
    let hooks = Hooks {
        error: Arc::new(|what, e| eprintln!("outbox: {what}: {e}")),
        delivered: Arc::new(log),
        ..Hooks::default()
    };
    Background::start(open, cfg, None, hooks).wait();
    Ok(ExitCode::SUCCESS)
}
