use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use incident::ErrorKind;
use incident::kb::KbOptions;
use incident::kb::autofix::AutofixOptions;

use super::print;
use crate::backend::Remote;
use crate::cli::KbCommand;

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, cmd: KbCommand) -> Result<ExitCode> {
    let KbCommand::Suggest(a) = cmd;
    let m = r.open(db, false)?;
    let inputs = m.kb_inputs()?;
    if inputs.analyzed {
        eprintln!("no stored patterns: running `incident analyze` first");
    }
    let (patterns, types) = (inputs.patterns, inputs.types);
    let opts = KbOptions {
        min_count: a.min_count,
        ..KbOptions::default()
    };
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
