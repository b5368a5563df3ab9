//! Migrated errors, kept apart from the metrics of incidents people handle: an error
//! history holds thousands of automatically raised, automatically "resolved" records with
//! no resolution times, which would drown MTTR, SLA and recurrence.

use serde::Serialize;

use super::FxMap;
use crate::model::{Incident, Timestamp};

/// One error type or history pattern with its counts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ErrorCount {
    pub name: String,
    pub errors: u64,
    pub unresolved: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
}

/// The migrated error history in the report's window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ErrorHistoryMetrics {
    pub errors: u64,
    /// Errors still open: the history never recorded a fix for them.
    pub unresolved: u64,
    /// Errors whose fix was recorded with a time.
    pub resolved_with_time: u64,
    /// Error types, most errors first (the top `top_n`).
    pub by_type: Vec<ErrorCount>,
    pub types_total: u64,
    /// The history's own pattern ids (`PATTERN_001`...), most errors first (the top
    /// `top_n`); errors without one are under `(none)`.
    pub by_pattern: Vec<ErrorCount>,
    pub patterns_total: u64,
}

/// Accumulates [`ErrorHistoryMetrics`] in one pass.
#[derive(Default)]
pub struct ErrorHistoryBuilder {
    m: ErrorHistoryMetrics,
    types: FxMap<String, ErrorCount>,
    patterns: FxMap<String, ErrorCount>,
}

/// A migrated title is `<error type> in <file>`.
fn error_type(title: &str) -> &str {
    title.split_once(" in ").map_or(title, |(t, _)| t).trim()
}

/// The history's pattern id, from the migrated error's creation entry.
fn history_pattern(inc: &Incident) -> &str {
    inc.timeline
        .first()
        .and_then(|e| crate::model::migrated_creation(&e.details).flatten())
        .unwrap_or("(none)")
}

fn bump(map: &mut FxMap<String, ErrorCount>, name: &str, inc: &Incident) {
    let open = u64::from(inc.status.is_active());
    let at = inc.created_at;
    match map.get_mut(name) {
        Some(c) => {
            c.errors += 1;
            c.unresolved += open;
            c.first_seen = c.first_seen.min(at);
            c.last_seen = c.last_seen.max(at);
        }
        None => {
            map.insert(
                name.to_string(),
                ErrorCount {
                    name: name.to_string(),
                    errors: 1,
                    unresolved: open,
                    first_seen: at,
                    last_seen: at,
                },
            );
        }
    }
}

fn ranked(map: FxMap<String, ErrorCount>, top_n: usize) -> (Vec<ErrorCount>, u64) {
    let total = map.len() as u64;
    let mut v: Vec<ErrorCount> = map.into_values().collect();
    v.sort_by(|a, b| b.errors.cmp(&a.errors).then_with(|| a.name.cmp(&b.name)));
    v.truncate(top_n);
    (v, total)
}

impl ErrorHistoryBuilder {
    pub fn add(&mut self, inc: &Incident) {
        self.m.errors += 1;
        if inc.status.is_active() {
            self.m.unresolved += 1;
        } else if inc.resolved_at().is_some() {
            self.m.resolved_with_time += 1;
        }
        bump(&mut self.types, error_type(&inc.title), inc);
        bump(&mut self.patterns, history_pattern(inc), inc);
    }

    pub fn finish(self, top_n: usize) -> ErrorHistoryMetrics {
        let mut m = self.m;
        (m.by_type, m.types_total) = ranked(self.types, top_n);
        (m.by_pattern, m.patterns_total) = ranked(self.patterns, top_n);
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::testing::inc;
    use crate::model::{Category, Priority, Status, TimelineEntry};

    #[test]
    fn counts_per_type_and_history_pattern() {
        let mut b = ErrorHistoryBuilder::default();
        for (n, (title, pattern, open)) in [
            ("KeyError in a.py", Some("PATTERN_001"), false),
            ("KeyError in b.py", Some("PATTERN_001"), true),
            ("psycopg2.OperationalError in db.py", None, true),
        ]
        .into_iter()
        .enumerate()
        {
            let mut i = inc(n as u32 + 1, Category::Error, Priority::Medium, n as i64);
            i.title = title.into();
            i.status = if open { Status::Open } else { Status::Resolved };
            i.timeline = vec![TimelineEntry {
                timestamp: i.created_at,
                action: "created".into(),
                details: match pattern {
                    Some(p) => format!("migrated from error_history (pattern {p})"),
                    None => "migrated from error_history (no pattern)".into(),
                },
                by: None,
            }];
            b.add(&i);
        }
        let m = b.finish(10);
        assert_eq!((m.errors, m.unresolved, m.resolved_with_time), (3, 2, 0));
        assert_eq!(m.by_type[0].name, "KeyError");
        assert_eq!((m.by_type[0].errors, m.by_type[0].unresolved), (2, 1));
        assert_eq!(m.by_type[1].name, "psycopg2.OperationalError");
        assert_eq!(m.by_pattern[0].name, "PATTERN_001");
        assert_eq!(m.by_pattern[1].name, "(none)");
        assert_eq!(m.patterns_total, 2);
    }
}
