use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;

use super::{print, print_json};
use crate::backend::Remote;
use crate::cli::{ListArgs, ListFormat};
use crate::config;

pub(crate) fn run(r: &Remote, db: &Option<PathBuf>, a: ListArgs) -> Result<ExitCode> {
    let filter = config::filter(&a)?;
    let m = r.open(db, false)?;
    let incidents = m.query(&filter)?;
    match a.format {
        ListFormat::Json => print_json(&incidents)?,
        ListFormat::Csv => {
            let mut w = csv::Writer::from_writer(std::io::stdout().lock());
            w.write_record(incident::import::CSV_HEADER)?;
            for i in &incidents {
                w.write_record(incident::import::csv_row(i))?;
            }
            w.flush()?;
        }
        ListFormat::Table => {
            if incidents.is_empty() {
                eprintln!("no incidents match");
            } else {
                print(&incident::report::incident_table(
                    &incidents,
                    config::output_width(),
                ))?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
