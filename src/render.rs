//! Text renderings of incidents for terminals: aligned tables that respect the display
//! width of Japanese (double-width) text, and the detail view of `show`.

use std::fmt::Write as _;

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

use crate::model::Incident;

/// Display width of `s` in terminal columns (CJK characters count two).
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` with control characters (newlines, tabs, ESC, CR, BEL) as spaces, so that text
/// from an incident stays on its line and cannot drive the terminal.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A writer for text meant for a terminal: every control character except newline and
/// tab (ESC, CR, BEL, backspace, DEL, and the C1 controls U+0080-U+009F) becomes a space,
/// so text stored in an incident can never move the cursor, recolour, retitle or ring
/// the terminal. Every text renderer's output goes through it (the binary wraps stdout);
/// within one line, [`sanitize`] also turns newlines and tabs into spaces.
pub struct Sanitized<W: std::io::Write> {
    inner: W,
    /// A 0xC2 byte held back: with a following 0x80-0x9F it is a C1 control.
    pending: bool,
    buf: Vec<u8>,
}

impl<W: std::io::Write> Sanitized<W> {
    pub fn new(inner: W) -> Self {
        Sanitized {
            inner,
            pending: false,
            buf: Vec::new(),
        }
    }
}

impl<W: std::io::Write> std::io::Write for Sanitized<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.clear();
        for &b in data {
            if std::mem::take(&mut self.pending) {
                if (0x80..=0x9f).contains(&b) {
                    self.buf.push(b' ');
                    continue;
                }
                self.buf.push(0xc2);
            }
            match b {
                b'\n' | b'\t' => self.buf.push(b),
                0x00..=0x1f | 0x7f => self.buf.push(b' '),
                0xc2 => self.pending = true,
                _ => self.buf.push(b),
            }
        }
        self.inner.write_all(&self.buf)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for Sanitized<W> {
    fn drop(&mut self) {
        if self.pending {
            // Not followed by anything: not a C1 control, so it is passed on.
            let _ = self.inner.write_all(&[0xc2]);
            let _ = self.inner.flush();
        }
    }
}

/// JSON text as serde wrote it, with DEL and the C1 controls escaped too (serde escapes
/// only C0): the same data, and nothing in it a terminal acts on.
pub fn json_terminal_safe(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            s.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            s.push(c);
        }
    }
    s
}

/// Cuts `s` to at most `max` columns, ending in `…` when cut. Control characters
/// become spaces (see [`sanitize`]).
pub fn truncate_to_width(s: &str, max: usize) -> String {
    let clean = sanitize(s);
    if display_width(&clean) <= max {
        return clean;
    }
    let mut out = String::new();
    let mut w = 0;
    for c in clean.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// Pads `s` with spaces to `width` columns.
pub fn pad_to_width(s: &str, width: usize) -> String {
    let w = display_width(s);
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

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
    fn japanese_is_two_columns_wide() {
        assert_eq!(display_width("接続エラー"), 10);
        assert_eq!(display_width("abc"), 3);
        assert_eq!(pad_to_width("接続", 6), "接続  ");
        let t = truncate_to_width("RabbitMQ接続エラーが発生しました", 14);
        assert!(display_width(&t) <= 14, "{t}");
        assert!(t.ends_with('…'));
    }

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
