//! escalate (and its dry run), metrics.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use incident::escalation::{self, Firing};
use incident::observe::Exposition;
use incident::{Timestamp, format_table};

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
    drop(m);
    loop {
        let m = config::open_existing(db)?;
        let now = at.unwrap_or_else(Timestamp::now);
        let report = escalation::tick(&m, &cfg.escalation, &cfg.sla, now)?;
        drop(m);
        match a.format {
            OutFormat::Json => print_json(&report)?,
            OutFormat::Text => print(&format!(
                "{}{} fired ({} active incident(s) at {now})\n",
                firing_table(&report.fired),
                report.fired.len(),
                report.examined
            ))?,
        }
        if a.once || at.is_some() {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(a.every));
    }
}

pub(crate) fn metrics(db: &Option<PathBuf>, a: MetricsArgs) -> Result<ExitCode> {
    let cfg = config::notify_config(&a.config)?;
    let m = config::open_existing(db)?;
    let now = config::time("at", a.at.as_deref())?.unwrap_or_else(Timestamp::now);
    print(&Exposition::default().render(&m, &cfg.sla, now)?)?;
    Ok(ExitCode::SUCCESS)
}
