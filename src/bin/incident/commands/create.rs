use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use incident::NewIncident;

use super::{print, print_json};
use crate::backend::Remote;
use crate::cli::{CreateArgs, OutFormat};
use crate::config;

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, a: CreateArgs) -> Result<ExitCode> {
    let new = NewIncident {
        category: config::parse("category", &a.category)?,
        priority: config::parse("priority", &a.priority)?,
        title: a.title,
        description: a.description,
        components: a.components,
        impact: a.impact,
        assignee: a.assignee,
        at: config::time("at", a.at.as_deref())?,
        by: None,
    };
    let m = r.open(db, true)?;
    let (inc, found) = m.create(new)?;
    match a.format {
        OutFormat::Json => {
            let mut v = serde_json::to_value(&inc)?;
            if let Some(obj) = v.as_object_mut() {
                obj.insert("pattern_match".into(), serde_json::to_value(&found)?);
            }
            print_json(&v)?
        }
        OutFormat::Text => {
            print(&format!("{}\n", inc.id))?;
            if let Some(p) = &found {
                eprintln!(
                    "seen before: pattern {} \"{}\", {} incidents, last {}",
                    p.pattern_id,
                    p.name,
                    p.count,
                    p.last_seen.to_local_string()
                );
                if !p.last_fix.is_empty() {
                    eprintln!("  last fix: {}", p.last_fix.join("; "));
                }
                let script =
                    std::path::Path::new("kb/auto_fix").join(format!("{}.sh", p.pattern_id));
                if script.exists() {
                    eprintln!(
                        "  auto-fix script: {} (review, then run with --apply)",
                        script.display()
                    );
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
