use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::{print, print_json};
use crate::backend::Remote;
use crate::cli::{OutFormat, ShowArgs};
use crate::config;

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, a: ShowArgs) -> Result<ExitCode> {
    let id = config::id(a.id.get())?;
    let m = r.open(db, false)?;
    let inc = m.get(id)?;
    match a.format {
        OutFormat::Json => print_json(&inc)?,
        OutFormat::Text => print(&incident::report::incident_detail(&inc))?,
    }
    Ok(ExitCode::SUCCESS)
}
