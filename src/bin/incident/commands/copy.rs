//! copy: a whole database into an empty one, between backends.

use std::process::ExitCode;

use anyhow::{Context, Result};
use incident::db::Location;

use super::{print, print_json, progress_bar};
use crate::cli::{CopyArgs, OutFormat};
use crate::config;

pub(crate) fn run(a: CopyArgs) -> Result<ExitCode> {
    let (from, to) = (
        Location::parse(a.from.as_os_str()),
        Location::parse(a.to.as_os_str()),
    );
    if from == to {
        anyhow::bail!("--from and --to are the same database ({from})");
    }
    if let Location::File(p) = &from
        && !p.is_file()
    {
        anyhow::bail!("--from: database {} does not exist", p.display());
    }
    let source = config::open_at(&from).with_context(|| format!("--from {from}"))?;
    let dest = config::open_at(&to).with_context(|| format!("--to {to}"))?;
    let bar = progress_bar(
        0,
        "copying {bar:30} {pos}/{len} incidents ({per_sec}, eta {eta})",
        a.quiet,
    );
    let result = incident::db::copy(&source, &dest, &|done, total| {
        bar.set_length(total);
        bar.set_position(done);
    });
    bar.finish_and_clear();
    let s = result.with_context(|| format!("copy from {from} to {to}"))?;
    match a.format {
        OutFormat::Json => print_json(&s)?,
        OutFormat::Text => print(&format!(
            "copied {} incidents, {} patterns ({} memberships), {} fingerprints, {} day counters \
             from {from} to {to}\n",
            s.incidents, s.patterns, s.pattern_members, s.fingerprints, s.day_counters
        ))?,
    }
    Ok(ExitCode::SUCCESS)
}
