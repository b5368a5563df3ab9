use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use incident::NewIncident;

use super::{print, print_json};
use crate::cli::{CreateArgs, OutFormat};
use crate::config;

pub(crate) fn run(db: &Option<PathBuf>, a: CreateArgs) -> Result<ExitCode> {
    let new = NewIncident {
        category: config::parse("category", &a.category)?,
        priority: config::parse("priority", &a.priority)?,
        title: a.title,
        description: a.description,
        components: a.components,
        impact: a.impact,
        assignee: a.assignee,
        at: config::time("at", a.at.as_deref())?,
    };
    let m = config::open(db)?;
    let inc = m.create_incident(new)?;
    match a.format {
        OutFormat::Json => print_json(&inc)?,
        OutFormat::Text => print(&format!("{}\n", inc.id))?,
    }
    Ok(ExitCode::SUCCESS)
}
