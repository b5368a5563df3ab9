//! analyze and patterns.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use incident::Pattern;
use incident::kb::autofix::{AutofixOptions, candidate};
use incident::patterns::AnalyzeOptions;

use super::{print, print_json, progress_bar};
use crate::backend::Remote;
use crate::cli::{AnalyzeArgs, OutFormat, PatternsArgs};
use crate::config;

/// A duration as the reports write it; `unknown` when no resolution time is known.
fn secs(s: Option<f64>) -> String {
    match s {
        None => "unknown".into(),
        Some(_) => incident::report::duration(s),
    }
}

fn pattern_rows(patterns: &[Pattern]) -> String {
    let rows: Vec<Vec<String>> = patterns
        .iter()
        .map(|p| {
            vec![
                p.id.clone(),
                p.count.to_string(),
                p.recurrences.to_string(),
                secs(p.mean_resolve_secs),
                p.last_seen.to_local_string()[..10].to_string(),
                incident::text::truncate_to_width(
                    &p.components
                        .iter()
                        .take(2)
                        .map(|c| c.value.as_str())
                        .collect::<Vec<_>>()
                        .join(","),
                    24,
                ),
                incident::text::truncate_to_width(&p.template, 70),
            ]
        })
        .collect();
    incident::report::format_table(
        &[
            "PATTERN",
            "COUNT",
            "RECUR",
            "MTTR",
            "LAST",
            "COMPONENTS",
            "TEMPLATE",
        ],
        &rows,
    )
}

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, a: AnalyzeArgs) -> Result<ExitCode> {
    let opts = AnalyzeOptions {
        since: config::time("since", a.since.as_deref())?,
        until: config::time("until", a.until.as_deref())?,
        examples: 5,
    };
    let m = r.open(db, false)?;
    let bar = progress_bar(
        m.count()?,
        "reading {bar:30} {pos}/{len} incidents ({per_sec}, eta {eta})",
        a.quiet,
    );
    let mut analysis = m.analyze(&opts, &|n| bar.set_position(n))?;
    bar.finish_and_clear();
    // Only a fix with a shell command in it becomes a script (`kb::autofix::candidate`, what
    // `kb suggest` runs); a configuration or code change is made once, for good.
    for r in &mut analysis.recommendations {
        if r.kind != "same_fix_every_time" {
            continue;
        }
        let scripted = analysis
            .patterns
            .iter()
            .find(|p| Some(&p.id) == r.pattern_id.as_ref())
            .and_then(|p| candidate(p, &AutofixOptions::default()))
            .is_some();
        if scripted {
            r.message
                .push_str(" (`incident kb suggest --write` writes a candidate script)");
        } else if let Some(head) = r.message.strip_suffix(": automate it") {
            r.message = format!(
                "{head}: make the fix permanent (it is not a shell command, so no script is written)"
            );
        }
    }
    match a.format {
        OutFormat::Json => print_json(&analysis)?,
        OutFormat::Text => {
            let mut s = format!(
                "{} incidents, {} patterns ({})\n\n",
                analysis.incidents,
                analysis.patterns.len(),
                if analysis.stored {
                    "stored; `incident list --pattern ID` lists members"
                } else {
                    "of the window only, not stored; run without --since/--until to store"
                }
            );
            let top: Vec<Pattern> = analysis.patterns.iter().take(a.top).cloned().collect();
            s.push_str(&pattern_rows(&top));
            if !analysis.recommendations.is_empty() {
                s.push_str("\nrecommendations:\n");
                for r in &analysis.recommendations {
                    s.push_str(&format!("  - {}\n", r.message));
                }
            }
            print(&s)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn patterns(r: &Remote, db: &Option<PathBuf>, a: PatternsArgs) -> Result<ExitCode> {
    let m = r.open(db, false)?;
    let all = m.patterns()?;
    let Some(id) = a.id.or(a.id_flag) else {
        let top: Vec<Pattern> = all.into_iter().take(a.limit).collect();
        match a.format {
            OutFormat::Json => print_json(&top)?,
            OutFormat::Text if top.is_empty() => {
                eprintln!("no patterns stored; run `incident analyze`")
            }
            OutFormat::Text => print(&pattern_rows(&top))?,
        }
        return Ok(ExitCode::SUCCESS);
    };
    let Some(p) = all.into_iter().find(|p| p.id == id) else {
        bail!("pattern {id} not found (run `incident analyze`, then `incident patterns`)");
    };
    match a.format {
        OutFormat::Json => print_json(&p)?,
        OutFormat::Text => {
            let mut s = format!("{}  {}\n  template      {}\n", p.id, p.name, p.template);
            s.push_str(&format!(
                "  count         {} ({} resolved, {} recurred)\n  seen          {} .. {}\n  MTTR          mean {}, median {}\n",
                p.count,
                p.resolved,
                p.recurrences,
                p.first_seen.to_local_string(),
                p.last_seen.to_local_string(),
                secs(p.mean_resolve_secs),
                secs(p.median_resolve_secs)
            ));
            let list = |name: &str, items: Vec<String>| {
                if items.is_empty() {
                    String::new()
                } else {
                    format!("  {name:<13} {}\n", items.join(", "))
                }
            };
            s.push_str(&list(
                "components",
                p.components
                    .iter()
                    .map(|c| format!("{} ({})", c.value, c.count))
                    .collect(),
            ));
            s.push_str(&list(
                "root causes",
                p.root_causes
                    .iter()
                    .take(5)
                    .map(|c| format!("{} ({})", c.value, c.count))
                    .collect(),
            ));
            s.push_str(&list(
                "actions",
                p.actions
                    .iter()
                    .take(5)
                    .map(|c| format!("{} ({})", c.value, c.count))
                    .collect(),
            ));
            s.push_str(&list(
                "preventive",
                p.preventive_measures
                    .iter()
                    .take(5)
                    .map(|c| format!("{} ({})", c.value, c.count))
                    .collect(),
            ));
            s.push('\n');
            s.push_str(&incident::report::incident_table(
                &m.pattern_members(&p.id, a.limit)?,
                config::output_width(),
            ));
            print(&s)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
