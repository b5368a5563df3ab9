//! bridge generate | migrate | report | check.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use incident::IncidentId;
use incident::import::{MigrateOptions, MigrateSummary};
use incident::metrics::{MetricsOptions, SlaTargets};

use super::{print, print_json, progress_bar};
use crate::backend::{MigrateStopped, Remote};
use crate::cli::{
    BridgeCheckArgs, BridgeCommand, BridgeReportArgs, GenerateArgs, MigrateArgs, OutFormat,
    ReportFormat,
};
use crate::config;

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, cmd: BridgeCommand) -> Result<ExitCode> {
    match cmd {
        BridgeCommand::Generate(a) => generate(a),
        BridgeCommand::Migrate(a) => migrate(r, db, a),
        BridgeCommand::Report(a) => {
            r.local_only("bridge report")?;
            report(db, a)
        }
        BridgeCommand::Check(a) => {
            r.local_only("bridge check")?;
            check(db, a)
        }
    }
}

fn generate(a: GenerateArgs) -> Result<ExitCode> {
    if !(0.0..=1.0).contains(&a.migrated_share) {
        bail!(
            "--migrated-share must be between 0 and 1, not {}",
            a.migrated_share
        );
    }
    let opts = incident::import::error_history::GenerateOptions {
        n: a.count,
        seed: a.seed,
        migrated_share: a.migrated_share,
        extended: a.extended,
    };
    let truth = match &a.truth {
        Some(path) => {
            Some(BufWriter::new(File::create(path).with_context(|| {
                format!("cannot write {}", path.display())
            })?))
        }
        None => None,
    };
    incident::write_atomic(&a.output, |w| {
        incident::import::error_history::generate_with(
            &opts,
            BufWriter::with_capacity(1 << 20, w),
            truth,
        )
        .map_err(anyhow::Error::from)
    })?;
    eprintln!("wrote {} errors to {}", a.count, a.output.display());
    Ok(ExitCode::SUCCESS)
}

/// Copies standard input to a file beside the database, removed when dropped.
struct Spool(PathBuf);

impl Drop for Spool {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn spool_stdin(beside: &Path) -> Result<Spool> {
    let dir = beside
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    // A spool left by a killed run (its process gone, so older than any live one's
    // writes) is removed first.
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let name = e.file_name();
            let stale = name
                .to_str()
                .is_some_and(|n| n.starts_with(".incident-stdin-") && n.ends_with(".json"))
                && e.metadata()
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age > std::time::Duration::from_secs(600));
            if stale {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let path = dir.join(format!(".incident-stdin-{}.json", std::process::id()));
    let spool = Spool(path);
    let mut f = BufWriter::new(
        File::create(&spool.0).with_context(|| format!("cannot write {}", spool.0.display()))?,
    );
    std::io::copy(&mut std::io::stdin().lock(), &mut f)?;
    f.flush()?;
    Ok(spool)
}

fn summary_line(s: &MigrateSummary) -> String {
    format!(
        "{} records: migrated {}, already present {}, linked {}, created under carried id {}, \
         carried id conflicts {}, rejected {} ({:.2} s)",
        s.records,
        s.migrated,
        s.already_present,
        s.linked,
        s.created_under_carried_id,
        s.id_conflicts_total,
        s.rejected,
        s.phases.wall
    )
}

fn migrate(r: &Remote, db: &Option<PathBuf>, a: MigrateArgs) -> Result<ExitCode> {
    let stdin = a.file.as_os_str() == "-";
    if stdin && a.write_back {
        bail!("--write-back needs a file, not standard input");
    }
    if r.is_remote() && a.write_back {
        bail!(
            "--write-back rewrites the input with the ids the migration handed out; it needs \
             the database file, not a server (run it without --server)"
        );
    }
    if r.is_remote() && a.rejects.is_some() {
        bail!(
            "--rejects names a file on this machine; through a server the rejected records \
             go to a file beside the server's database (its path is in the summary)"
        );
    }
    // Standard input is spooled before the database is opened: waiting for input never
    // holds it.
    let _spool;
    let path = if stdin {
        let beside = if r.is_remote() {
            std::env::temp_dir().join("spool")
        } else {
            match config::location(db) {
                incident::db::Location::File(p) => p,
                incident::db::Location::Postgres(_) => std::env::temp_dir().join("incident"),
            }
        };
        _spool = spool_stdin(&beside)?;
        _spool.0.clone()
    } else {
        a.file.clone()
    };
    let m = r.open(db, true)?;
    let size = std::fs::metadata(&path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    let rejects = a.skip_invalid.then(|| {
        a.rejects.clone().unwrap_or_else(|| {
            let name = if stdin {
                "stdin".into()
            } else {
                a.file.display().to_string()
            };
            PathBuf::from(format!("{name}.rejects.jsonl"))
        })
    });
    let opts = MigrateOptions {
        batch: a.batch,
        skip_invalid: a.skip_invalid,
        rejects,
        keep_ids: a.write_back,
        // Too large for a Duration: sync only at the end.
        checkpoint: std::time::Duration::try_from_secs_f64(a.checkpoint)
            .unwrap_or(std::time::Duration::MAX),
    };
    let bar = progress_bar(
        size,
        "migrating {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})",
        a.quiet,
    );
    let result = m.migrate(&path, &opts, &|n| bar.set_position(n));
    bar.finish_and_clear();
    let summary = match result? {
        Ok(s) => s,
        Err(MigrateStopped { message, summary }) => {
            if a.format == OutFormat::Json {
                print_json(&summary)?;
            }
            bail!(
                "{message}\n  migration of {} stopped there: {}; nothing at or after it was written \
                 (fix the input and run again to resume)",
                a.file.display(),
                summary_line(&summary)
            );
        }
    };
    let mut written_back = None;
    if a.write_back {
        let ids = &summary.ids;
        let wb = incident::import::error_history::write_back(&path, |i| {
            ids.get(i as usize)
                .copied()
                .filter(|k| *k != 0)
                .map(IncidentId::from_key)
        })?;
        written_back = Some(wb);
    }
    match a.format {
        OutFormat::Json => {
            let mut v = serde_json::to_value(&summary)?;
            if let (Some(obj), Some(wb)) = (v.as_object_mut(), &written_back) {
                obj.insert("written_back".into(), serde_json::to_value(wb)?);
            }
            print_json(&v)?;
        }
        OutFormat::Text => {
            print(&format!("{}\n", summary_line(&summary)))?;
            for c in &summary.id_conflicts {
                eprintln!(
                    "conflict: record {} carries incident_id {}, an incident migrated from another \
                     error; not linked, migrated to {}",
                    c.index, c.carried, c.migrated_to
                );
            }
            if let Some(f) = &summary.rejects_file
                && summary.rejected > 0
            {
                eprintln!("rejected records with reasons: {f}");
            }
            if let Some(wb) = &written_back {
                eprintln!(
                    "wrote incident_id into {} of {} entries of {}",
                    wb.updated,
                    wb.records,
                    a.file.display()
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn report(db: &Option<PathBuf>, a: BridgeReportArgs) -> Result<ExitCode> {
    let m = config::open_existing(db)?;
    let (errors, invalid) = incident::import::error_stats(&a.file)?;
    let incidents = incident::metrics::compute_metrics(
        &m,
        MetricsOptions::default(),
        SlaTargets::default(),
        &incident::metrics::OriginScope::default(),
    )?;
    let r = incident::import::BridgeReport {
        incidents,
        errors,
        invalid_records: invalid,
    };
    let mut out = super::stdout();
    match a.format {
        ReportFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &r)?;
            writeln!(out)?;
        }
        ReportFormat::Markdown => incident::report::render_bridge_markdown(&r, &mut out)?,
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn check(db: &Option<PathBuf>, a: BridgeCheckArgs) -> Result<ExitCode> {
    let m = config::open_existing(db)?;
    let c = incident::import::bridge_check(&m, &a.file)?;
    match a.format {
        OutFormat::Json => print_json(&c)?,
        OutFormat::Text => {
            let mut s = String::new();
            for p in &c.problems {
                s.push_str(&format!("record {}: {}: {}\n", p.index, p.kind, p.message));
            }
            let kinds: Vec<String> = incident::import::problem_kinds(&c)
                .into_iter()
                .map(|(k, n)| format!("{k} {n}"))
                .collect();
            s.push_str(&format!(
                "{} records, {} consistent, {} inconsistencies{}\n",
                c.records,
                c.consistent,
                c.problems_total,
                if kinds.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", kinds.join(", "))
                }
            ));
            print(&s)?;
        }
    }
    Ok(if c.problems_total == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
