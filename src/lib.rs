//! `incident`: an embedded incident-management store on redb.

mod check;
mod codec;
mod error;
mod history;
mod manager;
mod model;
mod pattern;
mod render;
mod schema;
mod store;
#[doc(hidden)]
pub mod testing;

pub use check::{CheckReport, Problem, check, repair};
pub use error::{Error, ParseError, Result, StoreError};
pub use history::{
    CSV_HEADER, ExportFormat, ImportError, ImportSummary, csv_row, export, import_history,
};
pub use manager::{IncidentManager, NewIncident, ResolveInput, Update};
pub use model::{
    Category, Incident, IncidentId, PatternRef, Priority, Resolution, Status, TimelineEntry,
    Timestamp,
};
pub use pattern::{Counted, Pattern};
pub use render::{
    display_width, format_table, incident_detail, incident_table, pad_to_width, truncate_to_width,
};
pub use store::{DEFAULT_BUSY_TIMEOUT, Filter, Order, SCHEMA_VERSION, Store};
