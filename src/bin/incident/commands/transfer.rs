//! import and export.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use incident::import::ExportFormat;

use super::{print, print_json};
use crate::backend::{Incidents, Remote};
use crate::cli::{ExportArgs, ExportFmt, ImportArgs, OutFormat};
use crate::config;

pub(crate) fn import(r: &Remote, db: &Option<PathBuf>, a: ImportArgs) -> Result<ExitCode> {
    let mut input: Box<dyn Read> = if a.file.as_os_str() == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(File::open(&a.file).with_context(|| format!("cannot read {}", a.file.display()))?)
    };
    let failed = || format!("import of {} failed; nothing was written", a.file.display());
    let summary = if r.is_remote() {
        // The server reads the whole upload before it writes anything.
        r.open(db, true)?.import(&mut input).with_context(failed)?
    } else {
        // The whole input is read before the database is opened: a slow pipe never holds it.
        let incidents = incident::import::read_history(input).with_context(failed)?;
        let m = config::open(db)?;
        incident::import::import_incidents(&m, incidents).with_context(failed)?
    };
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

pub(crate) fn export(r: &Remote, db: &Option<PathBuf>, a: ExportArgs) -> Result<ExitCode> {
    let format = match a.format {
        ExportFmt::Json => ExportFormat::Json,
        ExportFmt::Jsonl => ExportFormat::Jsonl,
        ExportFmt::Csv => ExportFormat::Csv,
    };
    let m = r.open(db, false)?;
    match &a.output {
        Some(path) => {
            incident::write_atomic(path, |out| run_export(&*m, format, out, a.skip_damaged))?;
        }
        None => {
            let mut out = BufWriter::new(std::io::stdout().lock());
            run_export(&*m, format, &mut out, a.skip_damaged)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn run_export(
    m: &dyn Incidents,
    format: ExportFormat,
    out: &mut dyn Write,
    skip_damaged: bool,
) -> Result<()> {
    let skipped = m.export(format, out, skip_damaged)?;
    for s in &skipped {
        eprintln!("skipped: {s}");
    }
    if !skipped.is_empty() {
        eprintln!("skipped {} damaged record(s)", skipped.len());
    }
    Ok(())
}
