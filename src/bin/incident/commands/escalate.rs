//! escalate (and its dry run), metrics.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use std::sync::Arc;

use incident::escalation::{self, Firing, TickReport};
use incident::notify::{Background, Hooks, NotifyConfig};
use incident::observe::Exposition;
use incident::report::format_table;
use incident::{IncidentManager, Timestamp};

use super::{print, print_json};
use crate::cli::{EscalateArgs, MetricsArgs, OutFormat};
use crate::config;

fn firing_table(firings: &[Firing]) -> String {
    let rows: Vec<Vec<String>> = firings
        .iter()
        .map(|f| {
            vec![
                f.at.to_string(),
                f.id.to_string(),
                f.step.clone(),
                f.details.clone(),
            ]
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    format_table(&["AT", "INCIDENT", "STEP", "WHAT"], &rows)
}

pub(crate) fn run(db: &Option<PathBuf>, a: EscalateArgs) -> Result<ExitCode> {
    let cfg = config::notify_config(&a.config)?;
    let m = config::open_existing(db)?;
    if a.dry_run {
        let since = config::time("since", a.since.as_deref())?;
        let until = config::time("until", a.until.as_deref())?.unwrap_or_else(Timestamp::now);
        let firings = escalation::replay(&m, &cfg.escalation, since, until)?;
        match a.format {
            OutFormat::Json => print_json(&firings)?,
            OutFormat::Text => {
                let incidents: std::collections::HashSet<_> =
                    firings.iter().map(|f| f.id).collect();
                print(&format!(
                    "{}{} step(s) would have fired for {} incident(s)\n",
                    firing_table(&firings),
                    firings.len(),
                    incidents.len()
                ))?
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let at = config::time("at", a.at.as_deref())?;
    if a.every == 0 {
        anyhow::bail!("--every must be at least 1 second");
    }
    let render = move |report: &TickReport, now: Timestamp| -> Result<()> {
        match a.format {
            OutFormat::Json => print_json(report),
            OutFormat::Text => print(&format!(
                "{}{} fired ({} active incident(s) at {now})\n",
                firing_table(&report.fired),
                report.fired.len(),
                report.examined
            )),
        }
    };
    if a.once || at.is_some() {
        let now = at.unwrap_or_else(Timestamp::now);
        render(&escalation::tick(&m, &cfg.escalation, &cfg.sla, now)?, now)?;
        return Ok(ExitCode::SUCCESS);
    }
    drop(m);
    let path = config::db_path(db);
    let busy = config::busy_timeout()?;
    let open = move || IncidentManager::open_with_timeout(&path, busy).map(Box::new);
    let cfg = Arc::new(NotifyConfig {
        // Evaluation only: delivery is `incident outbox deliver`'s job.
        targets: Vec::new(),
        ..cfg
    });
    let hooks = Hooks {
        error: Arc::new(|what, e| eprintln!("{what}: {e}")),
        escalated: Arc::new(move |r| {
            let _ = render(r, Timestamp::now());
        }),
        ..Hooks::default()
    };
    Background::start(open, cfg, Some(Duration::from_secs(a.every)), hooks).wait();
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn metrics(db: &Option<PathBuf>, a: MetricsArgs) -> Result<ExitCode> {
    let cfg = config::notify_config(&a.config)?;
    let m = config::open_existing(db)?;
    let now = config::time("at", a.at.as_deref())?.unwrap_or_else(Timestamp::now);
    print(&Exposition::default().render(&m, &cfg.sla, now)?)?;
    Ok(ExitCode::SUCCESS)
}
