use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use incident::ErrorKind;
use incident::kb::KbOptions;
use incident::kb::autofix::AutofixOptions;
use incident::patterns::AnalyzeOptions;

use super::print;
use crate::cli::KbCommand;
use crate::config;

pub(crate) fn run(db: &Option<PathBuf>, cmd: KbCommand) -> Result<ExitCode> {
    let KbCommand::Suggest(a) = cmd;
    let m = config::open_existing(db)?;
    let mut patterns = m.patterns()?;
    if patterns.is_empty() && m.count()? > 0 {
        eprintln!("no stored patterns: running `incident analyze` first");
        patterns = incident::patterns::analyze(&m, &AnalyzeOptions::default(), |_| {})?.patterns;
    }
    let opts = KbOptions {
        min_count: a.min_count,
        ..KbOptions::default()
    };
    // Types the miner turned into a slot are read back from a sample of each pattern.
    let types = incident::kb::masked_error_types(&m, &patterns, 1000)?;
    let r = match incident::kb::run(
        &a.kb_dir,
        &patterns,
        &types,
        &opts,
        &AutofixOptions::default(),
        a.write,
    ) {
        Err(e) if e.kind() == ErrorKind::MissingDirectory => {
            anyhow::bail!(
                "{e}; create it with `mkdir -p {}` (the shipped template starts the file), or point at one with --kb DIR",
                a.kb_dir.display()
            );
        }
        r => r?,
    };
    if r.old_text.is_none() {
        eprintln!(
            "{} does not exist yet: starting from the shipped template",
            r.kb_path.display()
        );
    }
    for w in &r.update.warnings {
        eprintln!("warning: {w}");
    }
    let u = &r.update;
    let counts = format!(
        "{} new entries, {} updated, {} enriched, {} merged away",
        u.added.len(),
        u.updated.len(),
        u.enriched.len(),
        u.removed.len()
    );
    if a.write {
        for p in &r.written {
            eprintln!("wrote {}", p.display());
        }
        for p in &r.removed {
            eprintln!(
                "removed {} (generated earlier; no longer applies)",
                p.display()
            );
        }
        print(&format!(
            "{counts}; {} file(s) written{}\n",
            r.written.len(),
            if r.written.is_empty() {
                " (nothing changed)"
            } else {
                ""
            }
        ))?;
    } else {
        let diff = r.diff();
        if diff.is_empty() {
            eprintln!("nothing to change");
        } else {
            print(&diff)?;
            eprintln!("{counts}; run with --write to apply");
        }
    }
    Ok(ExitCode::SUCCESS)
}
