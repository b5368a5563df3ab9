use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::{print, print_json};
use crate::cli::{CheckArgs, OutFormat};
use crate::config;

pub(crate) fn run(db: &Option<PathBuf>, a: CheckArgs) -> Result<ExitCode> {
    let m = config::open_existing(db)?;
    let mut report = m.check()?;
    if a.repair && !report.problems.is_empty() {
        m.repair()?;
        let after = m.check()?;
        report.repaired = true;
        if a.format == OutFormat::Text {
            let mut tables: Vec<String> = report
                .problems
                .iter()
                .map(|p| p.table.to_string())
                .collect();
            tables.sort();
            tables.dedup();
            eprintln!(
                "repaired: rebuilt every index, the name tables and the day counters from {} \
                 records; the problems were in {}; {} problem(s) before, {} after",
                report.incidents,
                tables.join(", "),
                report.problems.len(),
                after.problems.len()
            );
        }
        report.problems = after.problems;
    }
    match a.format {
        OutFormat::Json => print_json(&report)?,
        OutFormat::Text => {
            let mut s = String::new();
            for p in &report.problems {
                s.push_str(&format!("{}: {}\n", p.table, p.message));
            }
            s.push_str(&format!(
                "checked {} incidents, {} index entries{}: {} problem(s)\n",
                report.incidents,
                report.index_entries,
                if report.repaired { " after repair" } else { "" },
                report.problems.len()
            ));
            print(&s)?;
        }
    }
    Ok(if report.problems.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(3)
    })
}
