//! Incident metrics, computed in one streaming pass.
//!
//! Feed every incident to [`MetricsBuilder::add`] (any order), then call
//! [`MetricsBuilder::finish`]; the result, [`Metrics`], is plain data that the renderers in
//! `report` turn into Markdown, HTML, JSON or a terminal summary. Memory is a few bytes per
//! incident (durations as 4-byte whole seconds, 16 bytes for recurrence) plus per-group
//! state; incidents themselves are never kept.
//!
//! # Definitions
//!
//! - **Window.** An incident is counted when `since <= created_at < until` (each bound
//!   optional; default: everything). Incidents outside the window only serve as earlier
//!   resolutions for recurrence. `now` is the time of the report.
//! - **Durations** are measured in whole seconds (microseconds truncated). For each set:
//!   mean, median (middle value, or the mean of the two middle values for an even count)
//!   and p90 (nearest rank: the value at 1-based rank `ceil(0.9 × n)` in ascending order).
//!   Undefined values (no data) are `null`.
//! - **Time to resolve** (TTR): `resolved_at − created_at`, for resolved or closed
//!   incidents, where `resolved_at` is the current (final) resolution: an incident that
//!   was reopened and resolved again counts once, with its last resolution. MTTR is the
//!   mean; overall, per category, per priority, per component, and per trend period.
//! - **Time to acknowledge** (TTA): `acknowledged_at − created_at`, where
//!   `acknowledged_at` is the first move to `in_progress`; when the record has no
//!   `acknowledged_at`, the first `status_changed` timeline entry ending in
//!   `-> in_progress` is used. Incidents never acknowledged are left out of MTTA.
//! - **MTBF per component**: over the failure and error incidents that list the component,
//!   sorted by `created_at`, the mean gap between consecutive starts, which equals
//!   `(last start − first start) / (n − 1)`. Only starts count: incidents that overlap,
//!   or are still open, count by their `created_at` like any other. A component with
//!   fewer than two such incidents has no MTBF (`null`).
//! - **Recurrence**: incidents are grouped by pattern id when they have one (the one given
//!   to [`MetricsBuilder::add_with_pattern`], or `matched_pattern` for
//!   [`MetricsBuilder::add`]), otherwise by normalised title on the same primary (first
//!   listed) component. The normaliser lowercases (after mapping full-width ASCII to
//!   ASCII), replaces quoted parts (`"…"`, `` `…` ``, `「…」`, `『…』`, `'…'`) with `<q>`,
//!   replaces ASCII words that contain a digit or are 8+ hex digits with `<n>`, and
//!   collapses whitespace. An incident is *recurrent* when another incident of its group
//!   (in the window or not) had been resolved before it was created: that incident's
//!   earliest resolution (its first `resolved` timeline entry, or `resolved_at`; times
//!   before its own `created_at` are ignored) is strictly earlier than this incident's
//!   `created_at`. Arrival order does not matter. Recurrence rate = recurrent ÷
//!   incidents, overall, per group and per component.
//! - **Component impact**: per affected component (names trimmed, blanks ignored, a
//!   component listed twice counts once), the number of incidents, the sum of their
//!   priority weights (critical 8, high 4, medium 2, low 1), and the total time unresolved:
//!   `created_at → resolved_at`, or `→ now` for incidents still open (0 if created after
//!   `now`). Components are ranked by weighted impact, then count, then name.
//! - **SLA**, per priority, with configurable targets (default: critical 15 min / 4 h,
//!   high 30 min / 24 h, medium 4 h / 3 days, low 24 h / 1 week). Response is met when
//!   `acknowledged_at − created_at <= target` (exactly at the target is met); an incident
//!   resolved without ever being acknowledged counts as responded to at `resolved_at`.
//!   Resolution is met when TTR `<=` target, using the final resolution. Open or
//!   in-progress incidents already past a target (`now − created_at > target`) count as
//!   breached; those within it are *pending* and not in the compliance share.
//!   Compliance = met ÷ (met + breached), `null` when nothing was evaluated. An open
//!   incident is *breaching* when it is past its response (if not acknowledged) or
//!   resolution target now, and *at risk* when it is not breaching but one of those
//!   deadlines falls within the next hour (`now <= deadline < now + 1 h`).
//! - **Trends**: incidents by the ISO week (Monday start, `2025-W07`) or calendar month
//!   of their `created_at` in the report's UTC offset: counts per category, resolved
//!   count, and TTR stats of the period's incidents. Empty periods between the first and
//!   the last are included (unless that would be more than 520 periods).
//! - **Data issues** (ids listed up to 20 per kind): `resolved_at` before `created_at`
//!   (left out of TTR, resolution SLA, unresolved time and recurrence),
//!   `acknowledged_at` before `created_at` (left out of TTA and treated as not
//!   acknowledged), resolved or closed without `resolved_at` (left out of resolution
//!   figures), resolved or closed without an acknowledgement time (left out of MTTA),
//!   reopened (counted with their final resolution), and `created_at` after `now`.
//! - **Rates and shares** are fractions between 0 and 1.

mod compute;
mod errors;
mod over_store;
mod recurrence;
mod sla;
mod stats;
#[cfg(test)]
pub(crate) mod testing;
mod trend;

use std::fmt;

use chrono::NaiveDate;
use serde::{Serialize, Serializer, ser::SerializeMap};

use crate::model::{Category, IncidentId, Origin, Priority, Timestamp};

pub(crate) use compute::facts;
pub use compute::{MetricsBuilder, MetricsOptions};
pub use errors::{ErrorCount, ErrorHistoryBuilder, ErrorHistoryMetrics};
pub use over_store::{OriginScope, compute_metrics};
pub use recurrence::GroupKind;
pub(crate) use sla::{ConfigError, json_kind, read_config};
pub use sla::{SlaTarget, SlaTargets};
pub(crate) use sla::{alert_state, open_deadlines};
pub use stats::DurationStats;
pub use trend::Period;

/// Ids kept per kind of data issue.
pub(crate) const ISSUE_ID_CAP: usize = 20;
/// Open incidents kept in [`SlaSection::attention`].
pub(crate) const ATTENTION_CAP: usize = 20;
/// Compliance below this share triggers a recommendation.
pub(crate) const SLA_RECOMMEND_BELOW: f64 = 0.9;

/// Everything the reports show. Field names are the stable JSON schema.
#[derive(Clone, Debug, Serialize)]
pub struct Metrics {
    pub generated_at: Timestamp,
    /// Offset used for trend periods and for local times in reports, in seconds east of UTC.
    pub utc_offset_seconds: i32,
    pub window: Window,
    pub summary: Summary,
    /// Every category, in declaration order.
    pub by_category: Vec<CategoryMetrics>,
    /// Every priority, critical first.
    pub by_priority: Vec<PriorityMetrics>,
    /// Components with at least one incident in the window.
    pub components_total: u64,
    /// The top `top_n` components by weighted impact.
    pub components: Vec<ComponentMetrics>,
    pub recurrence: RecurrenceMetrics,
    pub sla: SlaSection,
    pub trend_period: Period,
    /// One entry per period, oldest first.
    pub trends: Vec<PeriodMetrics>,
    pub data_issues: DataIssues,
    pub recommendations: Vec<Recommendation>,
    /// Where the incidents above came from (empty: every origin).
    pub origins: Vec<Origin>,
    /// Migrated errors, when they are reported apart from the incidents above.
    pub error_history: Option<ErrorHistoryMetrics>,
}

/// The `created_at` window the metrics cover (`null` bound: open).
#[derive(Clone, Debug, Serialize)]
pub struct Window {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Summary {
    /// Incidents in the window.
    pub incidents: u64,
    /// Incidents read, in the window or not.
    pub scanned: u64,
    pub open: u64,
    pub in_progress: u64,
    pub resolved: u64,
    pub closed: u64,
    pub first_created: Option<Timestamp>,
    pub last_created: Option<Timestamp>,
    pub time_to_resolve: DurationStats,
    pub time_to_acknowledge: DurationStats,
    pub recurrent: u64,
    pub recurrence_rate: Option<f64>,
    pub sla_response_compliance: Option<f64>,
    pub sla_resolution_compliance: Option<f64>,
    pub sla_open_breaching: u64,
    pub sla_open_at_risk: u64,
}

#[derive(Clone, Debug, Serialize)]
pub struct CategoryMetrics {
    pub category: Category,
    pub incidents: u64,
    /// Share of the window's incidents.
    pub share: Option<f64>,
    /// Open or in progress.
    pub active: u64,
    pub time_to_resolve: DurationStats,
    pub time_to_acknowledge: DurationStats,
}

#[derive(Clone, Debug, Serialize)]
pub struct PriorityMetrics {
    pub priority: Priority,
    pub incidents: u64,
    pub active: u64,
    pub time_to_resolve: DurationStats,
    pub time_to_acknowledge: DurationStats,
    pub sla: PrioritySla,
}

/// SLA results for one priority.
#[derive(Clone, Debug, Serialize)]
pub struct PrioritySla {
    pub response_target_seconds: u64,
    pub resolution_target_seconds: u64,
    pub response: SlaCounts,
    pub resolution: SlaCounts,
    /// Open incidents past a target now.
    pub open_breaching: u64,
    /// Open incidents not breaching but with a deadline in the next hour.
    pub open_at_risk: u64,
}

/// Outcomes for one SLA measure.
#[derive(Clone, Debug, Default, Serialize)]
pub struct SlaCounts {
    /// `met + breached`.
    pub evaluated: u64,
    pub met: u64,
    /// Including open incidents already past the target.
    pub breached: u64,
    /// Open incidents still within the target.
    pub pending: u64,
    /// `met / evaluated`.
    pub compliance: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct ComponentMetrics {
    pub component: String,
    pub incidents: u64,
    pub active: u64,
    /// Sum of priority weights (critical 8, high 4, medium 2, low 1).
    pub weighted_impact: u64,
    /// Time from creation to resolution (or to now, when open), summed.
    pub unresolved_seconds: u64,
    pub time_to_resolve: DurationStats,
    pub time_to_acknowledge: DurationStats,
    /// Failure and error incidents.
    pub failures: u64,
    pub mtbf_seconds: Option<f64>,
    pub recurrent: u64,
    pub recurrence_rate: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RecurrenceMetrics {
    pub incidents: u64,
    pub recurrent: u64,
    pub rate: Option<f64>,
    /// Groups with an incident in the window.
    pub groups_total: u64,
    /// Groups with at least one recurrent incident.
    pub recurring_groups_total: u64,
    /// The top `top_n` recurring groups, most recurrences first.
    pub recurring_groups: Vec<RecurringGroup>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RecurringGroup {
    pub kind: GroupKind,
    /// The pattern id, or the normalised title.
    pub key: String,
    /// The pattern's name, when known.
    pub name: Option<String>,
    /// For title groups, the primary component; for pattern groups, the component most of
    /// its incidents in the window list (`null` when they list none).
    pub component: Option<String>,
    pub incidents: u64,
    pub recurrent: u64,
    pub rate: Option<f64>,
}

#[derive(Clone, Debug, Serialize)]
pub struct SlaSection {
    pub targets: SlaTargets,
    /// Open incident deadlines that are breached or due within the hour, most overdue
    /// first, at most 20.
    pub attention: Vec<SlaAlert>,
    pub attention_total: u64,
}

/// Which SLA measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlaMeasure {
    Response,
    Resolution,
}

impl fmt::Display for SlaMeasure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SlaMeasure::Response => "response",
            SlaMeasure::Resolution => "resolution",
        })
    }
}

/// Where an open incident stands against a deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Breaching,
    AtRisk,
}

#[derive(Clone, Debug, Serialize)]
pub struct SlaAlert {
    pub id: IncidentId,
    pub title: String,
    pub priority: Priority,
    pub measure: SlaMeasure,
    pub deadline: Timestamp,
    pub state: AlertState,
}

/// Incident counts per category; serializes as `{"error": n, "failure": n, ...}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CategoryCounts([u64; Category::COUNT]);

impl CategoryCounts {
    pub fn get(&self, category: Category) -> u64 {
        self.0
            .get(usize::from(category.code()))
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn add(&mut self, category: Category) {
        if let Some(n) = self.0.get_mut(usize::from(category.code())) {
            *n += 1;
        }
    }
}

impl Serialize for CategoryCounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(Category::ALL.len()))?;
        for &c in Category::ALL {
            map.serialize_entry(c.as_str(), &self.get(c))?;
        }
        map.end()
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct PeriodMetrics {
    /// `2025-W07` or `2025-07`.
    pub period: String,
    /// First day of the period.
    pub start: NaiveDate,
    pub incidents: u64,
    pub by_category: CategoryCounts,
    /// Incidents created in the period that are resolved or closed now.
    pub resolved: u64,
    pub time_to_resolve: DurationStats,
}

/// A count of affected incidents and the first of their ids.
#[derive(Clone, Debug, Default, Serialize)]
pub struct IssueList {
    pub count: u64,
    /// At most 20, in the order incidents were read.
    pub ids: Vec<IncidentId>,
}

impl IssueList {
    pub(crate) fn push(&mut self, id: IncidentId) {
        self.count += 1;
        if self.ids.len() < ISSUE_ID_CAP {
            self.ids.push(id);
        }
    }
}

/// Records that could not be measured as they are; see the module definitions.
#[derive(Clone, Debug, Default, Serialize)]
pub struct DataIssues {
    pub resolved_before_created: IssueList,
    pub acknowledged_before_created: IssueList,
    pub resolved_without_time: IssueList,
    pub resolved_without_acknowledgement: IssueList,
    pub reopened: IssueList,
    pub created_in_future: IssueList,
}

impl DataIssues {
    /// Issues that make a record's times unusable (reopened and unacknowledged are
    /// normal life, not errors).
    pub fn invalid_records(&self) -> u64 {
        self.resolved_before_created.count
            + self.acknowledged_before_created.count
            + self.resolved_without_time.count
            + self.created_in_future.count
    }
}

/// A suggested action, derived from the metrics; renderers word it.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Recommendation {
    /// The category with the most incidents.
    FrequentCategory {
        category: Category,
        incidents: u64,
        share: f64,
    },
    /// The components with the most weighted impact (up to 3).
    HighImpactComponents { components: Vec<ComponentImpact> },
    /// A priority whose compliance for a measure is below 90%.
    SlaBelowTarget {
        priority: Priority,
        measure: SlaMeasure,
        compliance: f64,
        breached: u64,
    },
    /// Open incidents past or near their deadline.
    OpenSlaRisk { breaching: u64, at_risk: u64 },
    /// The groups with the most recurrences (up to 3).
    RecurringIssues {
        recurrent: u64,
        groups: Vec<RecurringGroup>,
    },
    /// Records with unusable times.
    FixData { records: u64 },
}

#[derive(Clone, Debug, Serialize)]
pub struct ComponentImpact {
    pub component: String,
    pub incidents: u64,
    pub weighted_impact: u64,
}

/// Fast hashing for the short keys used here (component names, group keys, dates); the
/// keys come from the local store, so flooding resistance is not needed.
pub(crate) type FxMap<K, V> = rustc_hash::FxHashMap<K, V>;
