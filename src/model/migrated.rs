//! An incident migrated from one error of an error history: the plain data it is built
//! from ([`MigratedError`]), the incident it becomes, and the texts that mark it. The
//! importer fills a `MigratedError` from a record; the store encodes the same incident
//! straight from it (`store/migrated.rs`), and metrics read the marks back.

use super::{
    Category, Incident, IncidentId, Origin, Priority, Resolution, Status, TimelineEntry, Timestamp,
};

/// Impact text for every migrated error, as the original tool wrote it.
pub(crate) const MIGRATED_IMPACT: &str = "システムエラーによる処理中断";
/// Assignee for every migrated error.
pub(crate) const MIGRATED_ASSIGNEE: &str = "error_handler";

/// The creation entry of a migrated error: what it was migrated from, and the history's
/// pattern id when it had one (`... (pattern PATTERN_005)`). Metrics and the codec's
/// upgrade read it back through [`migrated_creation`].
const MIGRATED_FROM: &str = "migrated from error_history";
pub(crate) const MIGRATED_WITH_PATTERN: &str = "migrated from error_history (pattern ";
pub(crate) const MIGRATED_WITHOUT_PATTERN: &str = "migrated from error_history (no pattern)";

/// For a migrated error's creation entry, its history pattern id (`None` inside when it
/// had none); `None` for any other entry.
pub(crate) fn migrated_creation(details: &str) -> Option<Option<&str>> {
    if !details.starts_with(MIGRATED_FROM) {
        return None;
    }
    Some(
        details
            .strip_prefix(MIGRATED_WITH_PATTERN)
            .and_then(|rest| rest.strip_suffix(')')),
    )
}

/// What a migrated incident is built from: one error, borrowed.
#[derive(Clone, Debug)]
pub(crate) struct MigratedError<'a> {
    pub(crate) timestamp: Timestamp,
    pub(crate) error_type: &'a str,
    pub(crate) file: &'a str,
    pub(crate) error_message: &'a str,
    pub(crate) pattern_id: Option<&'a str>,
    pub(crate) fix_applied: Option<&'a str>,
    pub(crate) success: bool,
    pub(crate) resolved_at: Option<Timestamp>,
    pub(crate) priority: Priority,
}

impl MigratedError<'_> {
    /// When it was resolved, if the error was fixed and the history says when (never
    /// before the error).
    pub(crate) fn known_resolved_at(&self) -> Option<Timestamp> {
        self.resolved_at
            .map(|t| t.max(self.timestamp))
            .filter(|_| self.success)
    }

    pub(crate) fn status(&self) -> Status {
        if self.success {
            Status::Resolved
        } else {
            Status::Open
        }
    }

    /// The incident this error becomes.
    ///
    /// Created at the error's time; resolved when `success` is true, at
    /// `resolved_at` if given (never before the error) or else at the error's time,
    /// with the fix as the action taken and `Pattern: <id>` as the root cause.
    /// `matched_pattern` stays empty: the history's `PATTERN_xxx` are not patterns of the
    /// store (`analyze` assigns those).
    pub(crate) fn to_incident(&self, id: IncidentId) -> Incident {
        let created = self.timestamp;
        let pattern = self.pattern_id;
        let mut timeline = vec![TimelineEntry {
            timestamp: created,
            action: "created".to_string(),
            details: match pattern {
                Some(p) => format!("{MIGRATED_WITH_PATTERN}{p})"),
                None => MIGRATED_WITHOUT_PATTERN.to_string(),
            },
            by: None,
        }];
        let (resolution, updated_at) = if self.success {
            // An error history rarely records when a fix landed: then the time is unknown.
            let known = self.known_resolved_at();
            let resolved_at = known.unwrap_or(created);
            let fix = self.fix_applied;
            timeline.push(TimelineEntry {
                timestamp: resolved_at,
                action: "resolved".to_string(),
                details: match fix {
                    Some(f) => format!("fix applied: {f}"),
                    None => "resolved (no fix recorded)".to_string(),
                },
                by: None,
            });
            let resolution = Resolution {
                actions_taken: fix.map(str::to_string).into_iter().collect(),
                root_cause: pattern.map(|p| format!("Pattern: {p}")).unwrap_or_default(),
                resolved_at: known,
                ..Resolution::default()
            };
            (Some(resolution), resolved_at)
        } else {
            (None, created)
        };
        Incident {
            id,
            created_at: created,
            updated_at,
            category: Category::Error,
            priority: self.priority,
            status: self.status(),
            title: format!("{} in {}", self.error_type, self.file),
            description: self.error_message.to_string(),
            affected_components: vec![self.file.to_string()],
            impact: MIGRATED_IMPACT.to_string(),
            assignee: Some(MIGRATED_ASSIGNEE.to_string()),
            timeline,
            resolution,
            acknowledged_at: None,
            // The history's PATTERN_xxx stays in the root cause and the timeline;
            // matched_pattern names only patterns of this store, which `analyze` assigns.
            matched_pattern: None,
            origin: Origin::Migrated,
        }
    }
}
