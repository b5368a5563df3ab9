//! update, resolve, close, reopen, note.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use incident::{Incident, ResolveInput, Update};

use super::{print, print_json};
use crate::backend::{Remote, error_kind, error_status};
use crate::cli::{CloseArgs, NoteArgs, OutFormat, ReopenArgs, ResolveArgs, UpdateArgs};
use crate::{config, hints};

fn done(inc: &Incident, format: OutFormat) -> Result<ExitCode> {
    match format {
        OutFormat::Json => print_json(inc)?,
        OutFormat::Text => print(&format!("{} {}\n", inc.id, inc.status))?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn update(r: &Remote, db: &Option<PathBuf>, a: UpdateArgs) -> Result<ExitCode> {
    let id = config::id(a.id.get())?;
    let u = Update {
        status: a
            .status
            .as_deref()
            .map(|s| config::parse("status", s))
            .transpose()?,
        priority: a
            .priority
            .as_deref()
            .map(|s| config::parse("priority", s))
            .transpose()?,
        category: a
            .category
            .as_deref()
            .map(|s| config::parse("category", s))
            .transpose()?,
        assignee: a.assignee,
        title: a.title,
        description: a.description,
        impact: a.impact,
        add_components: a.add_component,
        note: a.note,
        at: config::time("at", a.at.as_deref())?,
        by: None,
    };
    let m = r.open(db, false)?;
    let wanted = u.status;
    match m.update(id, u) {
        Err(e) => match hints::update_refused(&e, error_kind(&e), wanted) {
            Some(msg) => bail!(msg),
            None => Err(e),
        },
        Ok(inc) => done(&inc, a.format),
    }
}

pub(crate) fn resolve(r: &Remote, db: &Option<PathBuf>, a: ResolveArgs) -> Result<ExitCode> {
    let id = config::id(a.id.get())?;
    let input = ResolveInput {
        actions: a.actions,
        root_cause: a.root_cause,
        preventive: a.preventive,
        knowledge: a.knowledge,
        at: config::time("at", a.at.as_deref())?,
        by: None,
    };
    let m = r.open(db, false)?;
    done(&m.resolve(id, input)?, a.format)
}

pub(crate) fn close(r: &Remote, db: &Option<PathBuf>, a: CloseArgs) -> Result<ExitCode> {
    let id = config::id(a.id.get())?;
    let at = config::time("at", a.at.as_deref())?;
    let m = r.open(db, false)?;
    match m.close(id, at) {
        Err(e) => match hints::close_refused(&e, error_status(&e)) {
            Some(msg) => bail!(msg),
            None => Err(e),
        },
        Ok(inc) => done(&inc, OutFormat::Text),
    }
}

pub(crate) fn reopen(r: &Remote, db: &Option<PathBuf>, a: ReopenArgs) -> Result<ExitCode> {
    let id = config::id(a.id.get())?;
    let at = config::time("at", a.at.as_deref())?;
    let m = r.open(db, false)?;
    done(&m.reopen(id, a.note.as_deref(), at)?, OutFormat::Text)
}

pub(crate) fn note(r: &Remote, db: &Option<PathBuf>, a: NoteArgs) -> Result<ExitCode> {
    let (id, text) = a.id_and_text().map_err(anyhow::Error::msg)?;
    let id = config::id(id)?;
    let at = config::time("at", a.at.as_deref())?;
    let m = r.open(db, false)?;
    done(&m.note(id, text, at)?, OutFormat::Text)
}
