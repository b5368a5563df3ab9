//! `incident._incident`: the native half of the Python package. It exposes one class,
//! `Store`, whose methods take plain values and return JSON text; the Python half
//! (`incident/__init__.py`) turns that into the original tool's dicts and signatures.
//! Long calls (migrate, analyze, report) release the GIL.

#[path = "../../src/bin/incident/hints.rs"]
mod hints;

use std::path::PathBuf;

use incident::import::MigrateOptions;
use incident::metrics::{MetricsOptions, OriginScope, SlaTargets};
use incident::patterns::AnalyzeOptions;
use incident::{
    Category, Filter, IncidentId, IncidentManager, NewIncident, Order, Origin, Priority,
    ResolveInput, Status, Timestamp, Update,
};
use pyo3::create_exception;
use pyo3::exceptions::PyException;
use pyo3::prelude::*;

create_exception!(
    _incident,
    IncidentError,
    PyException,
    "Every error of the incident store."
);
create_exception!(
    _incident,
    NotFoundError,
    IncidentError,
    "No incident has that id."
);
create_exception!(
    _incident,
    InvalidInputError,
    IncidentError,
    "A value was not valid: an unknown category, an empty title, a malformed time..."
);
create_exception!(
    _incident,
    RefusedError,
    IncidentError,
    "The lifecycle refused the change (closing an open incident, resolving a closed one...)."
);
create_exception!(
    _incident,
    StorageError,
    IncidentError,
    "The database could not be opened, read or written (busy, damaged, newer version...)."
);

/// The CLI's message, in the exception that fits its kind.
fn py_err(e: impl Into<anyhow_like::Any>) -> PyErr {
    let e = e.into();
    let msg = e.message();
    match e.kind() {
        Kind::NotFound => NotFoundError::new_err(msg),
        Kind::Invalid => InvalidInputError::new_err(msg),
        Kind::Refused => RefusedError::new_err(msg),
        Kind::Storage => StorageError::new_err(msg),
    }
}

enum Kind {
    NotFound,
    Invalid,
    Refused,
    Storage,
}

/// Errors of the library's layers, classified once.
mod anyhow_like {
    use super::Kind;

    pub(crate) struct Any(pub(crate) String, pub(crate) Kind);

    impl Any {
        pub(crate) fn message(&self) -> String {
            self.0.clone()
        }
        pub(crate) fn kind(&self) -> &Kind {
            &self.1
        }
    }

    use incident::text::error_chain as chain;

    impl From<incident::Error> for Any {
        fn from(e: incident::Error) -> Self {
            let kind = match e.kind() {
                incident::ErrorKind::NotFound => Kind::NotFound,
                incident::ErrorKind::Refused => Kind::Refused,
                incident::ErrorKind::InvalidInput
                | incident::ErrorKind::Parse
                | incident::ErrorKind::InvalidData => Kind::Invalid,
                _ => Kind::Storage,
            };
            Any(chain(&e), kind)
        }
    }

    impl Any {
        /// An error of reading an input file: invalid input unless the database failed.
        pub(super) fn input(e: incident::Error) -> Self {
            let kind = if e.is_database() {
                Kind::Storage
            } else {
                Kind::Invalid
            };
            Any(chain(&e), kind)
        }
    }

    impl From<incident::ParseError> for Any {
        fn from(e: incident::ParseError) -> Self {
            Any(chain(&e), Kind::Invalid)
        }
    }

    impl From<std::io::Error> for Any {
        fn from(e: std::io::Error) -> Self {
            Any(chain(&e), Kind::Storage)
        }
    }

    impl From<serde_json::Error> for Any {
        fn from(e: serde_json::Error) -> Self {
            Any(chain(&e), Kind::Invalid)
        }
    }
}

fn parse<T: std::str::FromStr<Err = incident::ParseError>>(s: &str) -> PyResult<T> {
    s.parse::<T>().map_err(py_err)
}

fn parse_all<T: std::str::FromStr<Err = incident::ParseError>>(v: &[String]) -> PyResult<Vec<T>> {
    v.iter().map(|s| parse(s)).collect()
}

fn time(s: Option<&str>) -> PyResult<Option<Timestamp>> {
    s.map(|t| Timestamp::parse(t).map_err(py_err)).transpose()
}

fn json<T: serde::Serialize>(v: &T) -> PyResult<String> {
    serde_json::to_string(v).map_err(py_err)
}

/// One open incident database. The file stays locked by this process until `close()`.
#[pyclass(module = "incident._incident")]
struct Store {
    inner: Option<IncidentManager>,
    path: PathBuf,
}

impl Store {
    fn m(&self) -> PyResult<&IncidentManager> {
        self.inner
            .as_ref()
            .ok_or_else(|| StorageError::new_err(format!("{} is closed", self.path.display())))
    }
}

#[pymethods]
impl Store {
    #[new]
    fn new(path: PathBuf) -> PyResult<Self> {
        let inner = IncidentManager::open(&path).map_err(py_err)?;
        Ok(Self {
            inner: Some(inner),
            path,
        })
    }

    /// Releases the database file.
    fn close(&mut self) {
        self.inner = None;
    }

    #[getter]
    fn path(&self) -> String {
        self.path.display().to_string()
    }

    #[pyo3(signature = (category, priority, title, description, components, impact, assignee=None, at=None))]
    #[allow(clippy::too_many_arguments)]
    fn create(
        &self,
        category: &str,
        priority: &str,
        title: String,
        description: String,
        components: Vec<String>,
        impact: String,
        assignee: Option<String>,
        at: Option<&str>,
    ) -> PyResult<String> {
        let new = NewIncident {
            by: None,
            category: parse::<Category>(category)?,
            priority: parse::<Priority>(priority)?,
            title,
            description,
            components,
            impact,
            assignee,
            at: time(at)?,
        };
        json(&self.m()?.create_incident(new).map_err(py_err)?)
    }

    /// The incident as JSON, or None when no incident has the id.
    fn get(&self, id: &str) -> PyResult<Option<String>> {
        let id: IncidentId = parse(id)?;
        match self.m()?.get(id) {
            Ok(inc) => json(&inc).map(Some),
            Err(e) if e.kind() == incident::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(py_err(e)),
        }
    }

    #[pyo3(signature = (id, status=None, priority=None, category=None, assignee=None, title=None, description=None, impact=None, add_components=Vec::new(), note=None, at=None))]
    #[allow(clippy::too_many_arguments)]
    fn update(
        &self,
        id: &str,
        status: Option<&str>,
        priority: Option<&str>,
        category: Option<&str>,
        assignee: Option<String>,
        title: Option<String>,
        description: Option<String>,
        impact: Option<String>,
        add_components: Vec<String>,
        note: Option<String>,
        at: Option<&str>,
    ) -> PyResult<String> {
        let u = Update {
            status: status.map(parse::<Status>).transpose()?,
            priority: priority.map(parse::<Priority>).transpose()?,
            category: category.map(parse::<Category>).transpose()?,
            assignee,
            title,
            description,
            impact,
            add_components,
            note,
            at: time(at)?,
            by: None,
        };
        let wanted = u.status;
        match self.m()?.update_incident(parse(id)?, u) {
            Ok(inc) => json(&inc),
            Err(e) => Err(match hints::update_refused(&e, Some(e.kind()), wanted) {
                Some(msg) => RefusedError::new_err(msg),
                None => py_err(e),
            }),
        }
    }

    #[pyo3(signature = (id, actions, root_cause, preventive=Vec::new(), knowledge=Vec::new(), at=None))]
    fn resolve(
        &self,
        id: &str,
        actions: Vec<String>,
        root_cause: String,
        preventive: Vec<String>,
        knowledge: Vec<String>,
        at: Option<&str>,
    ) -> PyResult<String> {
        let r = ResolveInput {
            actions,
            root_cause,
            preventive,
            knowledge,
            at: time(at)?,
            by: None,
        };
        json(&self.m()?.resolve_incident(parse(id)?, r).map_err(py_err)?)
    }

    #[pyo3(signature = (id, at=None))]
    fn close_incident(&self, id: &str, at: Option<&str>) -> PyResult<String> {
        match self.m()?.close_incident(parse(id)?, time(at)?) {
            Ok(inc) => json(&inc),
            Err(e) => Err(match hints::close_refused(&e, e.status()) {
                Some(msg) => RefusedError::new_err(msg),
                None => py_err(e),
            }),
        }
    }

    #[pyo3(signature = (id, note=None, at=None))]
    fn reopen(&self, id: &str, note: Option<&str>, at: Option<&str>) -> PyResult<String> {
        let inc = self.m()?.reopen_incident(parse(id)?, note, time(at)?);
        json(&inc.map_err(py_err)?)
    }

    #[pyo3(signature = (id, text, at=None))]
    fn note(&self, id: &str, text: &str, at: Option<&str>) -> PyResult<String> {
        json(
            &self
                .m()?
                .add_note(parse(id)?, text, time(at)?)
                .map_err(py_err)?,
        )
    }

    /// Incidents matching every given filter (values of one filter are alternatives), as
    /// a JSON list, newest first unless `oldest_first`.
    #[pyo3(signature = (statuses=Vec::new(), categories=Vec::new(), priorities=Vec::new(), components=Vec::new(), assignees=Vec::new(), patterns=Vec::new(), origins=Vec::new(), since=None, until=None, limit=None, oldest_first=false))]
    #[allow(clippy::too_many_arguments)]
    fn query(
        &self,
        py: Python<'_>,
        statuses: Vec<String>,
        categories: Vec<String>,
        priorities: Vec<String>,
        components: Vec<String>,
        assignees: Vec<String>,
        patterns: Vec<String>,
        origins: Vec<String>,
        since: Option<&str>,
        until: Option<&str>,
        limit: Option<usize>,
        oldest_first: bool,
    ) -> PyResult<String> {
        let f = Filter {
            statuses: parse_all::<Status>(&statuses)?,
            categories: parse_all::<Category>(&categories)?,
            priorities: parse_all::<Priority>(&priorities)?,
            components,
            assignees,
            patterns,
            origins: parse_all::<Origin>(&origins)?,
            since: time(since)?,
            until: time(until)?,
            limit,
            order: if oldest_first {
                Order::OldestFirst
            } else {
                Order::NewestFirst
            },
            after: None,
        };
        let m = self.m()?;
        let found = py.allow_threads(|| m.query(&f)).map_err(py_err)?;
        json(&found)
    }

    /// Streams an error_history.json (or JSON Lines) into the store; the summary as JSON.
    #[pyo3(signature = (path, skip_invalid=false))]
    fn migrate(&self, py: Python<'_>, path: PathBuf, skip_invalid: bool) -> PyResult<String> {
        let m = self.m()?;
        let opts = MigrateOptions {
            skip_invalid,
            ..MigrateOptions::default()
        };
        let summary = py
            .allow_threads(|| incident::import::migrate(m, &path, &opts, &|_| {}))
            .map_err(|e| py_err(anyhow_like::Any::input(e)))?;
        json(&summary)
    }

    /// Mines every incident into patterns, stores them, and returns the analysis as JSON.
    fn analyze(&self, py: Python<'_>) -> PyResult<String> {
        let m = self.m()?;
        let opts = AnalyzeOptions {
            examples: 5,
            ..AnalyzeOptions::default()
        };
        let a = py
            .allow_threads(|| incident::patterns::analyze(m, &opts, |_| {}))
            .map_err(py_err)?;
        json(&a)
    }

    /// The metrics report: `markdown` or `json` (the CLI's `report --format json`).
    #[pyo3(signature = (format="markdown"))]
    fn report(&self, py: Python<'_>, format: &str) -> PyResult<String> {
        if format != "markdown" && format != "json" {
            return Err(InvalidInputError::new_err(format!(
                "unknown report format {format:?} (expected one of: markdown, json)"
            )));
        }
        let m = self.m()?;
        let out = py.allow_threads(|| -> Result<Vec<u8>, anyhow_like::Any> {
            let metrics = incident::metrics::compute_metrics(
                m,
                MetricsOptions::default(),
                SlaTargets::default(),
                &OriginScope::default(),
            )?;
            let mut out = Vec::new();
            if format == "json" {
                incident::report::render_json(&metrics, &mut out)?;
            } else {
                incident::report::render_markdown(&metrics, &mut out)?;
            }
            Ok(out)
        });
        String::from_utf8(out.map_err(py_err)?).map_err(|e| StorageError::new_err(e.to_string()))
    }
}

#[pymodule]
fn _incident(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Store>()?;
    let py = m.py();
    m.add("IncidentError", py.get_type::<IncidentError>())?;
    m.add("NotFoundError", py.get_type::<NotFoundError>())?;
    m.add("InvalidInputError", py.get_type::<InvalidInputError>())?;
    m.add("RefusedError", py.get_type::<RefusedError>())?;
    m.add("StorageError", py.get_type::<StorageError>())?;
    Ok(())
}
