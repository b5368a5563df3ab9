//! The Markdown report.

use std::io::{self, Write};

use super::{
    data_issues, duration, duration_secs, group_label, local_time, mean_unresolved, offset_label,
    percent, period_adjective, period_noun, recent_trends, recommendation_text,
    recurrence_sentence, window_label,
};
use crate::metrics::{AlertState, DurationStats, Metrics};
use crate::model::Category;

/// Trend rows shown; the JSON has them all.
const TREND_ROWS: usize = 26;

/// Escapes text for a Markdown table cell or paragraph: Markdown punctuation and `<`/`>`
/// are backslash-escaped, and line breaks become spaces.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '~' | '&' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

fn mttr_cells(d: &DurationStats) -> String {
    format!(
        "{} | {} | {}",
        duration(d.mean_seconds),
        duration(d.median_seconds),
        duration(d.p90_seconds)
    )
}

/// Writes the Markdown report.
pub fn render_markdown(m: &Metrics, out: &mut impl Write) -> io::Result<()> {
    let s = &m.summary;
    writeln!(out, "# Incident report\n")?;
    writeln!(
        out,
        "Generated {} (UTC{}) · {} · {} trends\n",
        local_time(m, m.generated_at),
        offset_label(m),
        window_label(m),
        period_adjective(m.trend_period)
    )?;

    if let Some(scope) = super::scope_sentence(m) {
        writeln!(out, "{scope}\n")?;
    }
    writeln!(out, "## Summary\n")?;
    writeln!(out, "| Metric | Value |\n|---|---|")?;
    writeln!(out, "| Incidents | {} |", s.incidents)?;
    if let (Some(first), Some(last)) = (s.first_created, s.last_created) {
        writeln!(
            out,
            "| Created | {} – {} |",
            local_time(m, first),
            local_time(m, last)
        )?;
    }
    writeln!(
        out,
        "| Open / in progress / resolved / closed | {} / {} / {} / {} |",
        s.open, s.in_progress, s.resolved, s.closed
    )?;
    let d = &s.time_to_resolve;
    writeln!(
        out,
        "| MTTR (median, p90) | {} ({}, {}) over {} resolved |",
        duration(d.mean_seconds),
        duration(d.median_seconds),
        duration(d.p90_seconds),
        d.count
    )?;
    let d = &s.time_to_acknowledge;
    writeln!(
        out,
        "| MTTA (median, p90) | {} ({}, {}) over {} acknowledged |",
        duration(d.mean_seconds),
        duration(d.median_seconds),
        duration(d.p90_seconds),
        d.count
    )?;
    writeln!(
        out,
        "| Recurrence rate | {} ({} recurrent) |",
        percent(s.recurrence_rate),
        s.recurrent
    )?;
    writeln!(
        out,
        "| SLA compliance: response / resolution | {} / {} |",
        percent(s.sla_response_compliance),
        percent(s.sla_resolution_compliance)
    )?;
    writeln!(
        out,
        "| Open incidents breaching SLA / at risk within 1 h | {} / {} |",
        s.sla_open_breaching, s.sla_open_at_risk
    )?;

    writeln!(out, "\n## By category\n")?;
    writeln!(
        out,
        "| Category | Incidents | Share | Active | MTTR | Median | P90 | MTTA |\n|---|--:|--:|--:|--:|--:|--:|--:|"
    )?;
    for c in &m.by_category {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            c.category,
            c.incidents,
            percent(c.share),
            c.active,
            mttr_cells(&c.time_to_resolve),
            duration(c.time_to_acknowledge.mean_seconds)
        )?;
    }

    writeln!(out, "\n## By priority\n")?;
    writeln!(
        out,
        "| Priority | Incidents | Active | MTTR | Median | P90 | MTTA | Response target | Response met | Resolution target | Resolution met | Breaching now | At risk (1 h) |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )?;
    for p in &m.by_priority {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} ({}/{}) | {} | {} ({}/{}) | {} | {} |",
            p.priority,
            p.incidents,
            p.active,
            mttr_cells(&p.time_to_resolve),
            duration(p.time_to_acknowledge.mean_seconds),
            duration_secs(p.sla.response_target_seconds),
            percent(p.sla.response.compliance),
            p.sla.response.met,
            p.sla.response.evaluated,
            duration_secs(p.sla.resolution_target_seconds),
            percent(p.sla.resolution.compliance),
            p.sla.resolution.met,
            p.sla.resolution.evaluated,
            p.sla.open_breaching,
            p.sla.open_at_risk
        )?;
    }

    writeln!(out, "\n## Top components\n")?;
    if m.components.is_empty() {
        writeln!(out, "No incident lists an affected component.")?;
    } else {
        writeln!(
            out,
            "| Component | Incidents | Weighted impact | Mean time unresolved | MTTR | MTTA | MTBF | Recurrence |\n|---|--:|--:|--:|--:|--:|--:|--:|"
        )?;
        for c in &m.components {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                esc(&c.component),
                c.incidents,
                c.weighted_impact,
                mean_unresolved(c),
                duration(c.time_to_resolve.mean_seconds),
                duration(c.time_to_acknowledge.mean_seconds),
                duration(c.mtbf_seconds),
                percent(c.recurrence_rate)
            )?;
        }
        writeln!(
            out,
            "\n{} of {} components, by weighted impact (critical 8, high 4, medium 2, low 1). MTBF: mean time between the starts of failure/error incidents.",
            m.components.len(),
            m.components_total
        )?;
    }

    let r = &m.recurrence;
    writeln!(out, "\n## Recurring issues\n")?;
    writeln!(out, "{}\n", recurrence_sentence(m))?;
    if !r.recurring_groups.is_empty() {
        writeln!(
            out,
            "| Group | Component | Incidents | Recurrent | Rate |\n|---|---|--:|--:|--:|"
        )?;
        for g in &r.recurring_groups {
            writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                esc(&group_label(g)),
                g.component
                    .as_deref()
                    .map(esc)
                    .unwrap_or_else(|| "–".into()),
                g.incidents,
                g.recurrent,
                percent(g.rate)
            )?;
        }
    }

    writeln!(out, "\n## SLA attention\n")?;
    if m.sla.attention.is_empty() {
        writeln!(
            out,
            "No open incident is past its SLA target or due within the hour."
        )?;
    } else {
        writeln!(
            out,
            "| Incident | Priority | Target | Deadline | State | Title |\n|---|---|---|---|---|---|"
        )?;
        for a in &m.sla.attention {
            let late = m.generated_at.micros() - a.deadline.micros();
            let state = match a.state {
                AlertState::Breaching => format!("overdue {}", duration(Some(late as f64 / 1e6))),
                AlertState::AtRisk => format!("due in {}", duration(Some(-late as f64 / 1e6))),
            };
            writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                a.id,
                a.priority,
                a.measure,
                local_time(m, a.deadline),
                state,
                esc(&a.title)
            )?;
        }
        if m.sla.attention_total > m.sla.attention.len() as u64 {
            writeln!(
                out,
                "\n{} of {} shown, most overdue first.",
                m.sla.attention.len(),
                m.sla.attention_total
            )?;
        }
    }

    writeln!(out, "\n## Trends ({})\n", period_adjective(m.trend_period))?;
    let rows = recent_trends(m, TREND_ROWS);
    if rows.is_empty() {
        writeln!(out, "No incidents.")?;
    } else {
        write!(out, "| {} | Incidents |", period_noun(m.trend_period))?;
        for c in Category::ALL {
            write!(out, " {c} |")?;
        }
        writeln!(out, " Resolved | MTTR |")?;
        write!(out, "|---|--:|")?;
        for _ in Category::ALL {
            write!(out, "--:|")?;
        }
        writeln!(out, "--:|--:|")?;
        for t in &rows {
            write!(out, "| {} | {} |", t.period, t.incidents)?;
            for &c in Category::ALL {
                write!(out, " {} |", t.by_category.get(c))?;
            }
            writeln!(
                out,
                " {} | {} |",
                t.resolved,
                duration(t.time_to_resolve.mean_seconds)
            )?;
        }
        if rows.len() < m.trends.len() {
            writeln!(
                out,
                "\nLast {} of {} periods; the JSON output has all of them.",
                rows.len(),
                m.trends.len()
            )?;
        }
    }

    if let Some(e) = m.error_history.as_ref().filter(|e| e.errors > 0) {
        writeln!(out, "\n## Error history (migrated errors)\n")?;
        writeln!(
            out,
            "{} errors, {} still unresolved; {} with a recorded fix time. They are counted \
             here, apart from the MTTR, SLA and recurrence above; a fix without a recorded \
             time has an unknown resolution time.\n",
            e.errors, e.unresolved, e.resolved_with_time
        )?;
        for (title, counts, total) in [
            ("Error type", &e.by_type, e.types_total),
            ("History pattern", &e.by_pattern, e.patterns_total),
        ] {
            writeln!(
                out,
                "| {title} | Errors | Unresolved | First seen | Last seen |\n|---|--:|--:|---|---|"
            )?;
            for r in super::error_count_rows(m, counts) {
                writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    esc(&r[0]),
                    r[1],
                    r[2],
                    r[3],
                    r[4]
                )?;
            }
            if total > counts.len() as u64 {
                writeln!(
                    out,
                    "\n{} of {total}; the JSON output has the counts.",
                    counts.len()
                )?;
            }
            writeln!(out)?;
        }
    }

    writeln!(out, "\n## Data issues\n")?;
    let rows = data_issues(m);
    if rows.is_empty() {
        writeln!(out, "None.")?;
    }
    for (label, count, ids) in rows {
        writeln!(out, "- {label}: {count} ({ids})")?;
    }

    writeln!(out, "\n## Recommendations\n")?;
    if m.recommendations.is_empty() {
        writeln!(out, "None.")?;
    }
    for (n, r) in m.recommendations.iter().enumerate() {
        writeln!(out, "{}. {}", n + 1, esc(&recommendation_text(r)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::render_markdown;
    use crate::report::test_data::rendered;

    #[test]
    fn escapes_markup_and_keeps_japanese() {
        let md = rendered(render_markdown);
        assert!(!md.contains("<script>"), "{md}");
        assert!(md.contains(r"\<script\>"), "{md}");
        assert!(md.contains(r"web\|front"), "{md}");
        assert!(md.contains("| データベース | 3 | 24 |"), "{md}");
    }

    #[test]
    fn has_every_section() {
        let md = rendered(render_markdown);
        for h in [
            "## Summary",
            "## By category",
            "## By priority",
            "## Top components",
            "## Recurring issues",
            "## SLA attention",
            "## Trends (weekly)",
            "## Data issues",
            "## Recommendations",
        ] {
            assert!(md.contains(h), "missing {h}");
        }
        // 2 and 8 were created after 1 was resolved.
        assert!(
            md.contains("データベース接続タイムアウト db-\\<n\\> | データベース | 3 | 2 |"),
            "{md}"
        );
        assert!(
            md.contains("Resolved before created (excluded from durations): 1 (INC-20250707-0007)"),
            "{md}"
        );
    }
}
