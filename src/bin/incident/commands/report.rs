//! report and stats.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use incident::Timestamp;
use incident::metrics::{Metrics, MetricsOptions, OriginScope, Period, SlaTargets};

use crate::cli::{ReportArgs, ReportFormat, StatsArgs, TrendArg, WindowArgs};
use crate::config;

fn compute(db: &Option<PathBuf>, w: &WindowArgs) -> Result<Metrics> {
    let targets = match &w.config {
        Some(path) => SlaTargets::load(path)?,
        None => SlaTargets::default(),
    };
    let opts = MetricsOptions {
        since: config::time("since", w.since.as_deref())?,
        until: config::time("until", w.until.as_deref())?,
        now: config::time("at", w.at.as_deref())?.unwrap_or_else(Timestamp::now),
        trend: match w.trend {
            TrendArg::Week => Period::Week,
            TrendArg::Month => Period::Month,
        },
        top_n: w.top,
        ..MetricsOptions::default()
    };
    let scope = if w.origin.is_empty() {
        OriginScope::Handled
    } else {
        OriginScope::Only(config::parse_all("origin", &w.origin)?)
    };
    let m = config::open_existing(db)?;
    Ok(incident::metrics::compute_metrics(
        &m, opts, targets, &scope,
    )?)
}

pub(crate) fn run(db: &Option<PathBuf>, a: ReportArgs) -> Result<ExitCode> {
    let metrics = compute(db, &a.window)?;
    if let Some(path) = &a.html {
        incident::write_atomic(path, |f| {
            incident::report::render_html(&metrics, &mut { f }).map_err(anyhow::Error::from)
        })?;
        eprintln!("wrote {}", path.display());
        if !a.summary && a.format.is_none() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let mut out = super::stdout();
    if a.summary {
        incident::report::render_terminal(&metrics, &mut out)?;
    } else {
        match a.format.unwrap_or(ReportFormat::Markdown) {
            ReportFormat::Markdown => incident::report::render_markdown(&metrics, &mut out)?,
            ReportFormat::Json => incident::report::render_json(&metrics, &mut out)?,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn stats(db: &Option<PathBuf>, a: StatsArgs) -> Result<ExitCode> {
    let metrics = compute(db, &a.window)?;
    let mut out = super::stdout();
    incident::report::render_terminal(&metrics, &mut out)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
