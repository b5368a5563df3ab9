use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, anyhow};

use super::{print, print_json};
use crate::cli::{OutFormat, ShowArgs};
use crate::config;

pub(crate) fn run(db: &Option<PathBuf>, a: ShowArgs) -> Result<ExitCode> {
    let raw =
        a.id.or(a.id_flag)
            .ok_or_else(|| anyhow!("an incident id is required"))?;
    let id = config::id(&raw)?;
    let m = config::open_existing(db)?;
    let inc = m.get(id)?;
    match a.format {
        OutFormat::Json => print_json(&inc)?,
        OutFormat::Text => print(&incident::incident_detail(&inc))?,
    }
    Ok(ExitCode::SUCCESS)
}
