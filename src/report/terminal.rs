//! The one-screen terminal summary (`incident stats`), aligned by display width so
//! double-width Japanese names line up.

use std::io::{self, Write};

use super::{duration, mean_unresolved, percent, recommendation_text, window_label};
use crate::metrics::{AlertState, Metrics};
use crate::text::{display_width, truncate_to_width};

/// Components and alerts listed.
const TOP: usize = 5;

/// `s` cut to at most `width` columns, then padded to exactly `width`, on the left for
/// numbers.
fn fit(s: &str, width: usize, right: bool) -> String {
    let text = truncate_to_width(s, width);
    let pad = " ".repeat(width.saturating_sub(display_width(&text)));
    if right {
        format!("{pad}{text}")
    } else {
        format!("{text}{pad}")
    }
}

/// One table row: `(text, width, right-aligned)` cells joined by two spaces.
fn row(cells: &[(&str, usize, bool)]) -> String {
    let parts: Vec<String> = cells.iter().map(|&(s, w, r)| fit(s, w, r)).collect();
    parts.join("  ").trim_end().to_string()
}

/// A table row: the first column left-aligned, the others right-aligned.
fn columns<S: AsRef<str>>(texts: &[S], widths: &[usize]) -> String {
    let cells: Vec<(&str, usize, bool)> = texts
        .iter()
        .zip(widths)
        .enumerate()
        .map(|(i, (t, w))| (t.as_ref(), *w, i > 0))
        .collect();
    row(&cells)
}

/// The summary fits this many columns.
const WIDTH: usize = 100;

/// Writes the terminal summary: about 30 lines, plain text.
pub fn render_terminal(m: &Metrics, out: &mut impl Write) -> io::Result<()> {
    let s = &m.summary;
    writeln!(
        out,
        "{} incidents ({}): {} open, {} in progress, {} resolved, {} closed",
        s.incidents,
        window_label(m),
        s.open,
        s.in_progress,
        s.resolved,
        s.closed
    )?;
    let (r, a) = (&s.time_to_resolve, &s.time_to_acknowledge);
    writeln!(
        out,
        "MTTR {} (median {}, p90 {})   MTTA {} (median {}, p90 {})",
        duration(r.mean_seconds),
        duration(r.median_seconds),
        duration(r.p90_seconds),
        duration(a.mean_seconds),
        duration(a.median_seconds),
        duration(a.p90_seconds)
    )?;
    writeln!(
        out,
        "Recurrence {}   SLA met: response {}, resolution {}",
        percent(s.recurrence_rate),
        percent(s.sla_response_compliance),
        percent(s.sla_resolution_compliance),
    )?;
    writeln!(
        out,
        "Open past SLA {}, due within 1 h {}",
        s.sla_open_breaching, s.sla_open_at_risk
    )?;

    writeln!(out)?;
    let widths = [11, 6, 6, 8, 8, 9, 10, 7];
    let header = [
        "Priority",
        "Count",
        "Active",
        "MTTR",
        "MTTA",
        "Response",
        "Resolution",
        "Past",
    ];
    writeln!(out, "{}", columns(&header, &widths))?;
    for p in &m.by_priority {
        let values = [
            p.priority.to_string(),
            p.incidents.to_string(),
            p.active.to_string(),
            duration(p.time_to_resolve.mean_seconds),
            duration(p.time_to_acknowledge.mean_seconds),
            percent(p.sla.response.compliance),
            percent(p.sla.resolution.compliance),
            p.sla.open_breaching.to_string(),
        ];
        writeln!(out, "{}", columns(&values, &widths))?;
    }

    writeln!(out)?;
    let widths = [11, 6, 6, 8, 8];
    let header = ["Category", "Count", "Share", "MTTR", "MTTA"];
    writeln!(out, "{}", columns(&header, &widths))?;
    for c in m.by_category.iter().filter(|c| c.incidents > 0) {
        let values = [
            c.category.to_string(),
            c.incidents.to_string(),
            percent(c.share),
            duration(c.time_to_resolve.mean_seconds),
            duration(c.time_to_acknowledge.mean_seconds),
        ];
        writeln!(out, "{}", columns(&values, &widths))?;
    }

    if !m.components.is_empty() {
        writeln!(out)?;
        let widths = [24, 6, 6, 14, 8, 8];
        let header = [
            "Component",
            "Count",
            "Impact",
            "Avg unresolved",
            "MTTR",
            "MTBF",
        ];
        writeln!(out, "{}", columns(&header, &widths))?;
        for c in m.components.iter().take(TOP) {
            let values = [
                c.component.clone(),
                c.incidents.to_string(),
                c.weighted_impact.to_string(),
                mean_unresolved(c),
                duration(c.time_to_resolve.mean_seconds),
                duration(c.mtbf_seconds),
            ];
            writeln!(out, "{}", columns(&values, &widths))?;
        }
        if m.components_total > TOP.min(m.components.len()) as u64 {
            writeln!(
                out,
                "({} of {} components; see the report)",
                TOP.min(m.components.len()),
                m.components_total
            )?;
        }
    }

    if !m.sla.attention.is_empty() {
        writeln!(out)?;
        writeln!(out, "Needs attention:")?;
        for a in m.sla.attention.iter().take(TOP) {
            let late = (m.generated_at.micros() - a.deadline.micros()) as f64 / 1e6;
            let state = match a.state {
                AlertState::Breaching => format!("{} overdue {}", a.measure, duration(Some(late))),
                AlertState::AtRisk => format!("{} due in {}", a.measure, duration(Some(-late))),
            };
            writeln!(
                out,
                "  {}",
                row(&[
                    (&a.id.to_string(), 17, false),
                    (a.priority.as_str(), 8, false),
                    (&state, 28, false),
                    (&a.title, 36, false),
                ])
            )?;
        }
    }

    if let Some(e) = m.error_history.as_ref().filter(|e| e.errors > 0) {
        writeln!(
            out,
            "\nMigrated errors (apart from the figures above): {} errors, {} unresolved",
            e.errors, e.unresolved
        )?;
        let widths = [40, 8, 10];
        writeln!(
            out,
            "{}",
            columns(&["Error type", "Errors", "Unresolved"], &widths)
        )?;
        for t in e.by_type.iter().take(5) {
            let values = [
                t.name.clone(),
                t.errors.to_string(),
                t.unresolved.to_string(),
            ];
            writeln!(out, "{}", columns(&values, &widths))?;
        }
    }

    let bad = m.data_issues.invalid_records();
    if bad > 0 {
        writeln!(
            out,
            "\n{bad} record(s) with inconsistent times are left out of some figures (see data issues)."
        )?;
    }
    if let Some(first) = m.recommendations.first() {
        let text = format!("Top recommendation: {}", recommendation_text(first));
        writeln!(out)?;
        for line in textwrap::wrap(&text, textwrap::Options::new(WIDTH).subsequent_indent("  ")) {
            writeln!(out, "{line}")?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use unicode_width::UnicodeWidthChar;

    use super::*;
    use crate::report::test_data::sample;

    #[test]
    fn fit_counts_double_width() {
        assert_eq!(fit("データ", 8, false), "データ  ");
        assert_eq!(fit("データベース", 8, false), "データ… ");
        assert_eq!(fit("42", 5, true), "   42");
        assert_eq!(fit("a\tb", 4, false), "a b ");
        assert_eq!(fit("\u{1b}[31mred", 8, false), " [31mred");
    }

    #[test]
    fn columns_line_up_with_japanese_names() {
        let mut out = Vec::new();
        render_terminal(&sample(), &mut out).expect("write");
        let text = String::from_utf8(out).expect("UTF-8");
        assert!(text.lines().count() <= 40, "{text}");
        let header = text
            .lines()
            .find(|l| l.starts_with("Component"))
            .expect("component table");
        let col = header
            .find("Count")
            .map(|i| display_width(&header[..i]))
            .expect("Count");
        let db = text
            .lines()
            .find(|l| l.starts_with("データベース"))
            .expect("row");
        // The count column ends where the header's does.
        let end = col + "Count".len();
        let prefix: String = {
            let mut w = 0;
            db.chars()
                .take_while(|c| {
                    w += c.width().unwrap_or(0);
                    w <= end
                })
                .collect()
        };
        assert!(prefix.ends_with('3'), "{text}");
    }
}
