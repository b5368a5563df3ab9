//! update, resolve, close, reopen, note.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Result, bail};
use incident::{Incident, ResolveInput, Update};

use super::{print, print_json};
use crate::cli::{CloseArgs, NoteArgs, OutFormat, ReopenArgs, ResolveArgs, UpdateArgs};
use crate::{config, hints};

fn done(inc: &Incident, format: OutFormat) -> Result<ExitCode> {
    match format {
        OutFormat::Json => print_json(inc)?,
        OutFormat::Text => print(&format!("{} {}\n", inc.id, inc.status))?,
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn update(db: &Option<PathBuf>, a: UpdateArgs) -> Result<ExitCode> {
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
    };
    let m = config::open_existing(db)?;
    let wanted = u.status;
    match m.update_incident(id, u) {
        Err(e) => match hints::update_refused(&e, wanted) {
            Some(msg) => bail!(msg),
            None => Err(e.into()),
        },
        Ok(inc) => done(&inc, a.format),
    }
}

pub(crate) fn resolve(db: &Option<PathBuf>, a: ResolveArgs) -> Result<ExitCode> {
    let id = config::id(a.id.get())?;
    let r = ResolveInput {
        actions: a.actions,
        root_cause: a.root_cause,
        preventive: a.preventive,
        knowledge: a.knowledge,
        at: config::time("at", a.at.as_deref())?,
    };
    let m = config::open_existing(db)?;
    done(&m.resolve_incident(id, r)?, a.format)
}

pub(crate) fn close(db: &Option<PathBuf>, a: CloseArgs) -> Result<ExitCode> {
    let id = config::id(a.id.get())?;
    let at = config::time("at", a.at.as_deref())?;
    let m = config::open_existing(db)?;
    match m.close_incident(id, at) {
        Err(e) => match hints::close_refused(&e) {
            Some(msg) => bail!(msg),
            None => Err(e.into()),
        },
        Ok(inc) => done(&inc, OutFormat::Text),
    }
}

pub(crate) fn reopen(db: &Option<PathBuf>, a: ReopenArgs) -> Result<ExitCode> {
    let id = config::id(a.id.get())?;
    let at = config::time("at", a.at.as_deref())?;
    let m = config::open_existing(db)?;
    done(
        &m.reopen_incident(id, a.note.as_deref(), at)?,
        OutFormat::Text,
    )
}

pub(crate) fn note(db: &Option<PathBuf>, a: NoteArgs) -> Result<ExitCode> {
    let (id, text) = a.id_and_text().map_err(anyhow::Error::msg)?;
    let id = config::id(id)?;
    let at = config::time("at", a.at.as_deref())?;
    let m = config::open_existing(db)?;
    done(&m.add_note(id, text, at)?, OutFormat::Text)
}
