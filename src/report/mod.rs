//! Renderers over computed results: the incident report over [`Metrics`] (Markdown,
//! self-contained HTML, JSON and a terminal summary), the integrated bridge report,
//! incident tables and details, and mined clusters.
//!
//! Nothing here computes a metric; wording and formatting shared by the report renderers
//! lives in this file.

mod bridge;
mod cluster;
mod html;
mod markdown;
mod table;
mod terminal;

use std::io::{self, Write};

use chrono::{FixedOffset, Offset, Utc};

use crate::metrics::{GroupKind, Metrics, Period, Recommendation, RecurringGroup};
use crate::model::Timestamp;

pub use bridge::render_bridge_markdown;
pub use cluster::{render_jsonl, render_summary};
pub use html::render_html;
pub use markdown::render_markdown;
pub use table::{format_table, incident_detail, incident_table};
pub use terminal::render_terminal;

/// Writes `metrics` as pretty-printed JSON (the [`Metrics`] schema), with a final newline.
pub fn render_json(metrics: &Metrics, out: &mut impl Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, metrics)?;
    writeln!(out)
}

/// A duration as people write it: the two largest units (`12m 30s`, `3h 12m`, `2d 4h`),
/// whole days past 100 days, years past one; `n/a` when undefined.
pub fn duration(seconds: Option<f64>) -> String {
    let Some(s) = seconds.filter(|s| s.is_finite()) else {
        return "n/a".into();
    };
    let total = s.max(0.0).round() as u64;
    let (d, h, m, sec) = (
        total / 86_400,
        total / 3600 % 24,
        total / 60 % 60,
        total % 60,
    );
    // Past 100 days hours say nothing; past a year, years with one decimal.
    if total >= 365 * 86_400 {
        return format!("{:.1}y", s / (365.25 * 86_400.0));
    }
    if total >= 100 * 86_400 {
        return format!("{d}d");
    }
    // The two largest units, the second left out when zero.
    let (major, minor) = match total {
        0..60 => return format!("{sec}s"),
        60..3600 => ((m, "m"), (sec, "s")),
        3600..86_400 => ((h, "h"), (m, "m")),
        _ => ((d, "d"), (h, "h")),
    };
    if minor.0 == 0 {
        format!("{}{}", major.0, major.1)
    } else {
        format!("{}{} {}{}", major.0, major.1, minor.0, minor.1)
    }
}

pub(crate) fn duration_secs(seconds: u64) -> String {
    duration(Some(seconds as f64))
}

/// Which incidents the figures cover, as a sentence.
pub(crate) fn scope_sentence(m: &Metrics) -> Option<String> {
    if m.origins.is_empty() {
        return None;
    }
    let names: Vec<&str> = m.origins.iter().map(|o| o.as_str()).collect();
    Some(match &m.error_history {
        Some(e) if e.errors == 0 => return None,
        Some(e) => format!(
            "Figures cover {} incidents; the {} migrated errors are counted apart, under Error history.",
            names.join(", "),
            e.errors
        ),
        None => format!("Figures cover {} incidents only.", names.join(", ")),
    })
}

/// Rows of an error-history table: name, errors, unresolved, first and last seen.
pub(crate) fn error_count_rows(
    m: &Metrics,
    counts: &[crate::metrics::ErrorCount],
) -> Vec<[String; 5]> {
    counts
        .iter()
        .map(|c| {
            [
                c.name.clone(),
                c.errors.to_string(),
                c.unresolved.to_string(),
                local_time(m, c.first_seen),
                local_time(m, c.last_seen),
            ]
        })
        .collect()
}

/// A component's time unresolved per incident: how long its incidents stay open, on
/// average, counting open ones up to the report's time. (The sum over thousands of
/// incidents is a number nobody can use.)
pub(crate) fn mean_unresolved(c: &crate::metrics::ComponentMetrics) -> String {
    if c.incidents == 0 {
        return "n/a".into();
    }
    duration(Some(c.unresolved_seconds as f64 / c.incidents as f64))
}

/// `95.0%`; `n/a` when undefined.
pub(crate) fn percent(share: Option<f64>) -> String {
    match share {
        Some(s) if s.is_finite() => format!("{:.1}%", s * 100.0),
        _ => "n/a".into(),
    }
}

pub(crate) fn offset(m: &Metrics) -> FixedOffset {
    FixedOffset::east_opt(m.utc_offset_seconds).unwrap_or_else(|| Utc.fix())
}

/// `2025-07-09 22:20` in the report's offset.
pub(crate) fn local_time(m: &Metrics, ts: Timestamp) -> String {
    ts.to_datetime()
        .with_timezone(&offset(m))
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// `+09:00`.
pub(crate) fn offset_label(m: &Metrics) -> String {
    offset(m).to_string()
}

pub(crate) fn window_label(m: &Metrics) -> String {
    match (m.window.since, m.window.until) {
        (None, None) => "all incidents".into(),
        (Some(s), None) => format!("created since {}", local_time(m, s)),
        (None, Some(u)) => format!("created before {}", local_time(m, u)),
        (Some(s), Some(u)) => format!(
            "created from {} to before {}",
            local_time(m, s),
            local_time(m, u)
        ),
    }
}

pub(crate) fn period_noun(p: Period) -> &'static str {
    match p {
        Period::Week => "Week",
        Period::Month => "Month",
    }
}

pub(crate) fn period_adjective(p: Period) -> &'static str {
    match p {
        Period::Week => "weekly",
        Period::Month => "monthly",
    }
}

/// `Disk full (PAT-1)`, `PAT-1`, or the normalised title for title groups.
pub(crate) fn group_label(g: &RecurringGroup) -> String {
    match (g.kind, &g.name) {
        (GroupKind::Pattern, Some(name)) => format!("{name} ({})", g.key),
        (GroupKind::Pattern, None) => format!("pattern {}", g.key),
        (GroupKind::Title, _) => g.key.clone(),
    }
}

/// A recommendation in plain text (renderers escape it).
pub(crate) fn recommendation_text(r: &Recommendation) -> String {
    match r {
        Recommendation::FrequentCategory {
            category,
            incidents,
            share,
        } => format!(
            "{category} is the most frequent category ({incidents} incidents, {}): review its root causes and preventive measures first.",
            percent(Some(*share))
        ),
        Recommendation::OpenSlaRisk { breaching, at_risk } => format!(
            "{breaching} open incident(s) are past an SLA target and {at_risk} more will be within the hour: triage them now."
        ),
        Recommendation::SlaBelowTarget {
            priority,
            measure,
            compliance,
            breached,
        } => format!(
            "{priority} {measure} SLA compliance is {} ({breached} breached), below 90%: check staffing, escalation and runbooks for {priority} incidents.",
            percent(Some(*compliance))
        ),
        Recommendation::HighImpactComponents { components } => {
            let list: Vec<String> = components
                .iter()
                .map(|c| {
                    format!(
                        "{} (impact {}, {} incidents)",
                        c.component, c.weighted_impact, c.incidents
                    )
                })
                .collect();
            format!(
                "Most weighted impact: {}: prioritise monitoring and hardening there.",
                list.join(", ")
            )
        }
        Recommendation::RecurringIssues { recurrent, groups } => {
            let list: Vec<String> = groups
                .iter()
                .map(|g| {
                    let on = g
                        .component
                        .as_deref()
                        .map(|c| format!(" on {c}"))
                        .unwrap_or_default();
                    format!("\"{}\"{on} ({} times)", group_label(g), g.recurrent)
                })
                .collect();
            format!(
                "{recurrent} incident(s) recurred after an earlier one was resolved; most often {}: revisit their root causes and preventive measures.",
                list.join(", ")
            )
        }
        Recommendation::FixData { records } => format!(
            "{records} record(s) have inconsistent times (see Data issues) and are left out of some figures: correct them."
        ),
    }
}

/// The recurrence figures as a sentence (no markup: every character is plain text).
pub(crate) fn recurrence_sentence(m: &Metrics) -> String {
    let r = &m.recurrence;
    format!(
        "{} of {} incidents ({}) came after an earlier incident of the same group had been resolved; {} of {} groups recurred.",
        r.recurrent,
        r.incidents,
        percent(r.rate),
        r.recurring_groups_total,
        r.groups_total
    )
}

/// The data issues found, in report order: label, count, and the listed ids (`, …` when
/// more were found than listed).
pub(crate) fn data_issues(m: &Metrics) -> Vec<(&'static str, u64, String)> {
    data_issue_rows(m)
        .into_iter()
        .filter(|(_, l)| l.count > 0)
        .map(|(label, list)| {
            let mut ids: Vec<String> = list.ids.iter().map(ToString::to_string).collect();
            if list.count > list.ids.len() as u64 {
                ids.push("…".into());
            }
            (label, list.count, ids.join(", "))
        })
        .collect()
}

/// The data issue kinds with their labels, in report order.
fn data_issue_rows(m: &Metrics) -> [(&'static str, &crate::metrics::IssueList); 6] {
    let d = &m.data_issues;
    [
        (
            "Resolved before created (excluded from durations)",
            &d.resolved_before_created,
        ),
        (
            "Acknowledged before created (excluded from MTTA)",
            &d.acknowledged_before_created,
        ),
        (
            "Resolved/closed without a resolution time",
            &d.resolved_without_time,
        ),
        ("Created after the report time", &d.created_in_future),
        (
            "Resolved without acknowledgement (not in MTTA)",
            &d.resolved_without_acknowledgement,
        ),
        ("Reopened (final resolution counted)", &d.reopened),
    ]
}

/// The trend rows the reports show: the most recent `max`.
/// The periods a chart or table shows: all of them when they fit in `max`; else the most
/// recent `max` periods that hold incidents, so that a quiet year does not push every
/// period with data off the chart.
pub(crate) fn recent_trends(m: &Metrics, max: usize) -> Vec<&crate::metrics::PeriodMetrics> {
    if m.trends.len() <= max {
        return m.trends.iter().collect();
    }
    let mut rows: Vec<_> = m
        .trends
        .iter()
        .rev()
        .filter(|t| t.incidents > 0)
        .take(max)
        .collect();
    rows.reverse();
    rows
}

#[cfg(test)]
pub(crate) mod test_data;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(duration(None), "n/a");
        assert_eq!(duration(Some(45.4)), "45s");
        assert_eq!(duration(Some(720.0)), "12m");
        assert_eq!(duration(Some(750.0)), "12m 30s");
        assert_eq!(duration(Some(3.0 * 3600.0 + 12.0 * 60.0 + 59.0)), "3h 12m");
        assert_eq!(duration(Some(2.0 * 86_400.0 + 4.0 * 3600.0)), "2d 4h");
        assert_eq!(duration(Some(4.0 * 3600.0)), "4h");
        assert_eq!(duration(Some(200.0 * 86_400.0 + 3600.0)), "200d");
        assert_eq!(duration(Some(695.0 * 86_400.0)), "1.9y");
        assert_eq!(duration(Some(86_400.0 + 59.0 * 60.0)), "1d");
        assert_eq!(percent(Some(0.9)), "90.0%");
        assert_eq!(percent(None), "n/a");
    }

    #[test]
    fn json_has_the_documented_shape() {
        let m = test_data::sample();
        let mut out = Vec::new();
        render_json(&m, &mut out).expect("write");
        let v: serde_json::Value = serde_json::from_slice(&out).expect("valid JSON");
        for key in [
            "generated_at",
            "window",
            "summary",
            "by_category",
            "by_priority",
            "components",
            "recurrence",
            "sla",
            "trends",
            "data_issues",
            "recommendations",
        ] {
            assert!(v.get(key).is_some(), "missing {key}");
        }
        assert!(v["summary"]["time_to_resolve"]["mean_seconds"].is_number());
        assert_eq!(v["sla"]["targets"]["critical"]["response_minutes"], 15);
        assert_eq!(v["by_priority"][0]["priority"], "critical");
    }
}
