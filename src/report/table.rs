//! Text renderings of incidents for terminals: aligned tables that respect the display
//! width of Japanese (double-width) text, and the detail view of `show`.

use std::fmt::Write as _;

use crate::model::Incident;
use crate::text::{display_width, pad_to_width, sanitize, truncate_to_width};

/// A table whose columns line up by display width. The last column is not padded.
pub fn format_table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| display_width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(display_width(cell));
            }
        }
    }
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = &str>| {
        let cells: Vec<&str> = cells.collect();
        let n = cells.len();
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                s.push_str(c);
            } else {
                s.push_str(&pad_to_width(c, widths[i]));
                s.push_str("  ");
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(&mut out, &mut header.iter().copied());
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(&mut out, &mut rule.iter().map(String::as_str));
    for row in rows {
        line(&mut out, &mut row.iter().map(String::as_str));
    }
    out
}

/// The `list` table. With `max_width`, the table fits in that many display columns:
/// the title, then the components, then the assignee are cut (with `…`) down to a
/// minimum, then the least useful columns are left out; without it, nothing is cut.
pub fn incident_table(incidents: &[Incident], max_width: Option<usize>) -> String {
    const HEADER: [&str; 8] = [
        "ID",
        "CREATED",
        "PRIORITY",
        "STATUS",
        "CATEGORY",
        "COMPONENTS",
        "ASSIGNEE",
        "TITLE",
    ];
    let rows: Vec<[String; 8]> = incidents
        .iter()
        .map(|i| {
            [
                i.id.to_string(),
                i.created_at.to_local_string()[..16].to_string(),
                i.priority.to_string(),
                i.status.to_string(),
                i.category.to_string(),
                sanitize(&i.affected_components.join(",")),
                sanitize(i.assignee.as_deref().unwrap_or("-")),
                sanitize(&i.title),
            ]
        })
        .collect();
    let mut widths: [usize; 8] = std::array::from_fn(|c| {
        rows.iter()
            .map(|r| display_width(&r[c]))
            .chain([display_width(HEADER[c])])
            .max()
            .unwrap_or(0)
    });
    let mut shown = [true; 8];
    if let Some(max) = max_width {
        let total = |w: &[usize; 8], shown: &[bool; 8]| -> usize {
            let cols: Vec<usize> = (0..8).filter(|&c| shown[c]).map(|c| w[c]).collect();
            cols.iter().sum::<usize>() + 2 * cols.len().saturating_sub(1)
        };
        // (column, narrowest it may be cut to) in the order they give way.
        for (col, min) in [(7, 24), (5, 12), (6, 8)] {
            let over = total(&widths, &shown).saturating_sub(max);
            widths[col] -= over.min(widths[col].saturating_sub(min));
        }
        for col in [4, 1, 6] {
            if total(&widths, &shown) > max {
                shown[col] = false;
            }
        }
        for (col, min) in [(7, 10), (5, 6)] {
            let over = total(&widths, &shown).saturating_sub(max);
            widths[col] -= over.min(widths[col].saturating_sub(min));
        }
    }
    let keep: Vec<usize> = (0..8).filter(|&c| shown[c]).collect();
    let header: Vec<&str> = keep.iter().map(|&c| HEADER[c]).collect();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            keep.iter()
                .map(|&c| truncate_to_width(&r[c], widths[c]))
                .collect()
        })
        .collect();
    format_table(&header, &cells)
}

/// The `show` detail view, timeline included.
pub fn incident_detail(i: &Incident) -> String {
    let mut s = String::new();
    // Every value stays on its line; the description keeps its own lines.
    let _ = writeln!(s, "{}  {}", i.id, sanitize(&i.title));
    let field = |s: &mut String, k: &str, v: &str| {
        let _ = writeln!(s, "  {}  {}", pad_to_width(k, 14), sanitize(v));
    };
    field(&mut s, "status", i.status.as_str());
    field(&mut s, "category", i.category.as_str());
    field(&mut s, "priority", i.priority.as_str());
    field(&mut s, "created", &i.created_at.to_local_string());
    field(&mut s, "updated", &i.updated_at.to_local_string());
    if let Some(a) = i.acknowledged_at {
        field(&mut s, "acknowledged", &a.to_local_string());
    }
    field(&mut s, "components", &i.affected_components.join(", "));
    field(&mut s, "assignee", i.assignee.as_deref().unwrap_or("-"));
    if !i.impact.is_empty() {
        field(&mut s, "impact", &i.impact);
    }
    if let Some(p) = &i.matched_pattern {
        field(&mut s, "pattern", &format!("{} {}", p.pattern_id, p.name));
    }
    if !i.description.is_empty() {
        let _ = writeln!(s, "\n  description:");
        for l in i.description.lines() {
            let _ = writeln!(s, "    {}", sanitize(l));
        }
    }
    if let Some(r) = &i.resolution {
        let current = i.resolved_at().is_some();
        let _ = writeln!(
            s,
            "\n  resolution{}:",
            if current { "" } else { " (before reopen)" }
        );
        if let Some(t) = r.resolved_at {
            let _ = writeln!(s, "    resolved at   {}", t.to_local_string());
        }
        let _ = writeln!(s, "    root cause    {}", sanitize(&r.root_cause));
        for (name, list) in [
            ("actions", &r.actions_taken),
            ("preventive", &r.preventive_measures),
            ("knowledge", &r.knowledge_updates),
        ] {
            for (n, a) in list.iter().enumerate() {
                let label = if n == 0 { name } else { "" };
                let _ = writeln!(
                    s,
                    "    {}  {}. {}",
                    pad_to_width(label, 12),
                    n + 1,
                    sanitize(a)
                );
            }
        }
    }
    let _ = writeln!(s, "\n  timeline:");
    for e in &i.timeline {
        let by =
            e.by.as_deref()
                .map(|b| format!("  (by {})", sanitize(b)))
                .unwrap_or_default();
        let _ = writeln!(
            s,
            "    {}  {}  {}{by}",
            e.timestamp.to_local_string(),
            pad_to_width(&sanitize(&e.action), 14),
            sanitize(&e.details)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_line_up_with_wide_text() {
        let rows = vec![
            vec!["接続エラー".to_string(), "x".to_string()],
            vec!["ab".to_string(), "y".to_string()],
        ];
        let t = format_table(&["TITLE", "N"], &rows);
        let cols: Vec<usize> = t
            .lines()
            .map(|l| {
                let idx = l.rfind(' ').unwrap_or(0);
                display_width(&l[..idx])
            })
            .collect();
        assert!(cols.windows(2).all(|w| w[0] == w[1]), "{t}");
    }
}
