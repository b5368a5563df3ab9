//! `incident`: an embedded incident-management store on redb.
//!
//! One database file holds every incident with its timeline and resolution, secondary
//! indexes (status, category, priority, component, assignee, creation time, pattern), the
//! patterns mined from past incidents, and the fingerprints of migrated error records.
//! [`IncidentManager`] is the entry point; the `incident` binary is a thin layer over it.
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
//! assert!(incident::check(m.store())?.problems.is_empty());
//! # Ok(())
//! # }
//! ```

mod analysis;
mod autofix;
mod bridge;
mod bridge_ops;
mod copy;
mod error;
mod fsutil;
mod history;
mod kb;
mod manager;
mod metrics;
mod migrate;
mod miner;
mod model;
mod pattern;
mod render;
mod report;
mod reporting;
mod store;
#[doc(hidden)]
pub use store::testing;

pub use analysis::{
    Analysis, AnalyzeOptions, PatternMatch, Recommendation, analyze, incident_text, load_patterns,
    pattern_name,
};
pub use autofix::{
    AutofixOptions, Script, ScriptPlan, ScriptStatus, Step, StepSource, candidate, plan_scripts,
    write_scripts,
};
pub use bridge::{
    ErrorReader, ErrorRecord, ErrorStats, ErrorStatsBuilder, GenerateOptions, MIGRATED_ASSIGNEE,
    MIGRATED_IMPACT, PatternStat, Position, RawBatch, RawRecord, ReadError, RecordError,
    RecordProblem, Shape, TypeCount, WriteBackSummary, fingerprint, generate, generate_with,
    parse_paths, priority_for, to_incident, write_back,
};
pub use bridge_ops::{
    BridgeCheck, BridgeError, BridgeReport, Inconsistency, InconsistencyKind, bridge_check,
    error_stats, problem_kinds, render_bridge_markdown,
};
pub use copy::{CopySummary, copy as copy_store};
pub use error::{
    EngineError, Error, FileError, ParseError, Result, StoreError, is_damage, is_store_error,
};
pub use fsutil::{AtomicFile, write_atomic};
pub use history::{
    CSV_HEADER, ExportFormat, ImportError, ImportSummary, csv_row, export, export_readable,
    import_history, import_incidents, read_history,
};
pub use kb::{
    AUTO_FIX_DIR, ErrorTypes, KB_FILE_NAME, KB_TEMPLATE, KbChange, KbError, KbOptions, KbRun,
    KbUpdate, diff as kb_diff, kb_path, load as load_kb, masked_error_types, run as run_kb,
    suggest as suggest_kb, suggest_with_types as suggest_kb_with_types,
};
pub use manager::{IncidentManager, NewIncident, ResolveInput, Update};
pub use metrics::{
    AlertState, CategoryCounts, CategoryMetrics, ComponentImpact, ComponentMetrics, ConfigError,
    DataIssues, DurationStats, ErrorCount, ErrorHistoryBuilder, ErrorHistoryMetrics, GroupKind,
    IssueList, Metrics, MetricsBuilder, MetricsOptions, Period, PeriodMetrics, PriorityMetrics,
    PrioritySla, Recommendation as ReportRecommendation, RecurrenceMetrics, RecurringGroup,
    SlaAlert, SlaCounts, SlaMeasure, SlaSection, SlaTarget, SlaTargets, Summary, Window,
};
pub use migrate::{IdConflict, MigrateError, MigrateOptions, MigrateSummary, Phases, migrate};
pub use miner::{
    Mined, MinedCluster, Miner, MinerConfig, TemplateMatch, TemplateMatcher, mask, render_jsonl,
    render_summary, template_id, tokenize,
};
pub use model::{
    Category, Incident, IncidentId, Origin, PatternRef, Priority, Resolution, Status,
    TimelineEntry, Timestamp, limits,
};
pub use pattern::{Counted, Pattern};
pub use render::{
    Sanitized, display_width, format_table, incident_detail, incident_table, json_terminal_safe,
    pad_to_width, truncate_to_width,
};
pub use report::{
    duration as format_duration, render_html, render_json, render_markdown, render_terminal,
};
pub use reporting::{OriginScope, compute_metrics};
pub use store::{
    CheckReport, DEFAULT_BUSY_TIMEOUT, Filter, Location, Order, Problem, ProblemTable,
    SCHEMA_VERSION, Store, WAIT_NOTICE, check, repair,
};
