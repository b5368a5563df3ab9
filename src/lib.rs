//! `incident`: an embedded incident-management store on redb.
//!
//! One database file holds every incident with its timeline and resolution, secondary
//! indexes (status, category, priority, component, assignee, creation time, pattern), the
//! patterns mined from past incidents, and the fingerprints of migrated error records.
//! [`IncidentManager`] is the entry point; the `incident` binary is a thin layer over it.
//!
//! The root holds the manager, the data model and the error type. Each area is a module:
//! [`import`] (the original tool's history, the error history, migration), [`patterns`]
//! (mining and analysis), [`metrics`] (figures over the store), [`report`] (renderers),
//! [`kb`] (the knowledge base and auto-fix scripts), [`text`] (display width, terminal
//! safety), [`db`] (the database file: schema version, consistency check),
//! [`notify`] (the outbox every change writes to, and its delivery), [`escalation`]
//! (policy steps and SLA events), [`observe`] (Prometheus metrics).
//!
//! One calling convention: the manager's methods are the incident lifecycle, reading,
//! and maintenance of the file; every area operation is a free function in its module
//! that takes `&IncidentManager` (`incident::import::migrate(&m, ...)`,
//! `incident::patterns::analyze(&m, ...)`).
//!
//! ```
//! use incident::{Category, Filter, IncidentManager, NewIncident, Priority, ResolveInput, Status, Update};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let m = IncidentManager::open(dir.path().join("incidents.redb"))?;
//! let inc = m.create_incident(NewIncident {
//!     category: Category::Failure,
//!     priority: Priority::High,
//!     title: "RabbitMQ接続断".into(),
//!     description: "Connection refused to 10.0.0.3:5672".into(),
//!     components: vec!["rabbitmq".into(), "pm_worker".into()],
//!     impact: "通知処理の停止".into(),
//!     assignee: None,
//!     at: None,
//!     by: Some("tanaka".into()),
//! })?;
//! m.update_incident(inc.id, Update { status: Some(Status::InProgress), ..Update::default() })?;
//!
//! // Index-driven: only incidents of the component that are open or in progress are read.
//! let active = m.query(&Filter {
//!     components: vec!["rabbitmq".into()],
//!     statuses: vec![Status::Open, Status::InProgress],
//!     ..Filter::default()
//! })?;
//! assert_eq!(active.len(), 1);
//!
//! let done = m.resolve_incident(inc.id, ResolveInput {
//!     actions: vec!["systemctl restart rabbitmq-server".into()],
//!     root_cause: "RabbitMQ停止".into(),
//!     ..ResolveInput::default()
//! })?;
//! assert_eq!(done.status, Status::Resolved);
//! assert!(m.check()?.problems.is_empty());
//! # Ok(())
//! # }
//! ```

pub mod auth;
mod copy;
mod error;
pub mod escalation;
mod fsutil;
pub mod import;
pub mod kb;
mod manager;
pub mod metrics;
mod model;
pub mod notify;
pub mod observe;
pub mod patterns;
pub mod report;
pub mod server;
mod store;
pub mod text;

/// Helpers that damage a database file on purpose, for this crate's integration tests.
/// Only with the `testing` feature; never in the shipped library.
#[cfg(feature = "testing")]
pub use store::testing;

pub use error::{Error, ErrorKind, ParseError, Result};
pub use fsutil::write_atomic;
pub use manager::{Applied, IncidentManager, NewIncident, Op, ResolveInput, Update};
pub use model::{
    Category, Counted, Incident, IncidentId, Origin, Pattern, PatternRef, Priority, Resolution,
    Status, TimelineEntry, Timestamp, limits,
};
pub use store::{Filter, Order};

/// The database file: its schema version, how long opening waits for a busy file, and
/// what the consistency check ([`IncidentManager::check`]) reports.
pub mod db {
    pub use crate::copy::{CopySummary, copy};
    pub use crate::store::{
        CheckReport, DEFAULT_BUSY_TIMEOUT, Location, Problem, ProblemTable, SCHEMA_VERSION,
        WAIT_NOTICE,
    };
}
