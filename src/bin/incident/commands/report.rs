//! report and stats.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use incident::metrics::SlaTargets;
use incident::server::{ReportFormat as Render, ReportRequest};

use crate::backend::{Incidents, Remote};
use crate::cli::{ReportArgs, ReportFormat, StatsArgs, TrendArg, WindowArgs};
use crate::config;

/// The report `w` asks for, in `format`; the SLA config file is read here, by the client.
fn request(w: &WindowArgs, format: Render) -> Result<ReportRequest> {
    let (sla_config, sla_config_name) = match &w.config {
        Some(path) => {
            // Reports a missing or unreadable file the way a local run always has.
            SlaTargets::load(path)?;
            (
                Some(std::fs::read_to_string(path)?),
                Some(path.display().to_string()),
            )
        }
        None => (None, None),
    };
    Ok(ReportRequest {
        format,
        since: config::time("since", w.since.as_deref())?,
        until: config::time("until", w.until.as_deref())?,
        at: config::time("at", w.at.as_deref())?,
        trend: Some(
            match w.trend {
                TrendArg::Week => "week",
                TrendArg::Month => "month",
            }
            .into(),
        ),
        top: Some(w.top),
        origins: config::parse_all("origin", &w.origin)?,
        sla_config,
        sla_config_name,
        utc_offset_seconds: Some(chrono::Local::now().offset().local_minus_utc()),
    })
}

fn render(m: &dyn Incidents, w: &WindowArgs, format: Render) -> Result<()> {
    let req = request(w, format)?;
    let bytes = m.report(&req)?;
    let mut out = super::stdout();
    out.write_all(&bytes)?;
    out.flush()?;
    Ok(())
}

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, a: ReportArgs) -> Result<ExitCode> {
    // Arguments are checked before the database is opened.
    request(&a.window, Render::Json)?;
    let m = r.open(db, false)?;
    if let Some(path) = &a.html {
        let html = m.report(&request(&a.window, Render::Html)?)?;
        incident::write_atomic(path, |f| f.write_all(&html).map_err(anyhow::Error::from))?;
        eprintln!("wrote {}", path.display());
        if !a.summary && a.format.is_none() {
            return Ok(ExitCode::SUCCESS);
        }
    }
    let format = if a.summary {
        Render::Terminal
    } else {
        match a.format.unwrap_or(ReportFormat::Markdown) {
            ReportFormat::Markdown => Render::Markdown,
            ReportFormat::Json => Render::Json,
        }
    };
    render(&*m, &a.window, format)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn stats(r: &Remote, db: &Option<PathBuf>, a: StatsArgs) -> Result<ExitCode> {
    request(&a.window, Render::Terminal)?;
    let m = r.open(db, false)?;
    render(&*m, &a.window, Render::Terminal)?;
    Ok(ExitCode::SUCCESS)
}
