//! Getting incidents in and out of the store: the original tool's
//! `incident_history.json` (import, and CSV/JSON export), the error history
//! (`error_history.json`: reading it, migrating it, checking the store against it).

pub mod error_history;
mod history_json;
mod migrate;
mod reconcile;

pub(crate) use history_json::ImportError;
pub use history_json::{
    CSV_HEADER, ExportFormat, ImportSummary, csv_row, export, export_readable, import_history,
    import_incidents, read_history,
};
pub(crate) use migrate::MigrateError;
pub use migrate::{IdConflict, MigrateOptions, MigrateSummary, Phases, migrate};
pub(crate) use reconcile::ReconcileError;
pub use reconcile::{
    BridgeCheck, BridgeReport, Inconsistency, InconsistencyKind, bridge_check, error_stats,
    problem_kinds,
};
