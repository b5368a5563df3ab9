//! import and export.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use incident::import::ExportFormat;

use super::{print, print_json};
use crate::cli::{ExportArgs, ExportFmt, ImportArgs, OutFormat};
use crate::config;

pub(crate) fn import(db: &Option<PathBuf>, a: ImportArgs) -> Result<ExitCode> {
    let input: Box<dyn Read> = if a.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?)
    };
    let failed = || format!("import of {} failed; nothing was written", a.file.display());
    // The whole input is read before the database is opened: a slow pipe never holds it.
    let incidents = incident::import::read_history(input).with_context(failed)?;
    let m = config::open(db)?;
    let summary = incident::import::import_incidents(&m, incidents).with_context(failed)?;
    match a.format {
        OutFormat::Json => print_json(&summary)?,
        OutFormat::Text => {
            print(&format!(
                "imported {}, already present {}, conflicts {}\n",
                summary.imported,
                summary.already_present,
                summary.conflicts.len()
            ))?;
            for c in &summary.conflicts {
                eprintln!("conflict: {c} exists with different content; kept the stored one");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn export(db: &Option<PathBuf>, a: ExportArgs) -> Result<ExitCode> {
    let format = match a.format {
        ExportFmt::Json => ExportFormat::Json,
        ExportFmt::Jsonl => ExportFormat::Jsonl,
        ExportFmt::Csv => ExportFormat::Csv,
    };
    let m = config::open_existing(db)?;
    match &a.output {
        Some(path) => {
            incident::write_atomic(path, |out| run_export(&m, format, out, a.skip_damaged))?;
        }
        None => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            run_export(&m, format, &mut out, a.skip_damaged)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_export(
    m: &incident::IncidentManager,
    format: ExportFormat,
    out: &mut dyn Write,
    skip_damaged: bool,
) -> Result<()> {
    if !skip_damaged {
        return Ok(incident::import::export(m, format, out)?);
    }
    let skipped = incident::import::export_readable(m, format, out)?;
    for s in &skipped {
        eprintln!("skipped: {s}");
    }
    if !skipped.is_empty() {
        eprintln!("skipped {} damaged record(s)", skipped.len());
    }
    Ok(())
}
