//! The integrated report of `bridge report`: the error history's statistics, then the
//! incident report.

use std::io::Write;

use crate::import::BridgeReport;

/// Writes the integrated report as Markdown: the error statistics, then the incident report.
pub fn render_bridge_markdown(r: &BridgeReport, out: &mut impl Write) -> std::io::Result<()> {
    let e = &r.errors;
    writeln!(out, "# Integrated report: error history and incidents\n")?;
    writeln!(out, "## Error statistics\n")?;
    writeln!(out, "| Metric | Value |\n|---|--:|")?;
    writeln!(out, "| Total errors | {} |", e.total_errors)?;
    writeln!(out, "| Resolved errors | {} |", e.resolved_errors)?;
    writeln!(out, "| Resolution rate | {:.1}% |", e.resolution_rate)?;
    writeln!(out, "| Errors without a pattern | {} |", e.unmatched_errors)?;
    writeln!(out, "| Invalid records | {} |\n", r.invalid_records)?;
    writeln!(out, "### By pattern\n")?;
    writeln!(
        out,
        "| Pattern | Errors | Resolved | Resolution rate |\n|---|--:|--:|--:|"
    )?;
    for p in &e.patterns {
        writeln!(
            out,
            "| {} | {} | {} | {:.1}% |",
            p.pattern_id, p.count, p.resolved, p.resolution_rate
        )?;
    }
    writeln!(out, "\n### By error type\n")?;
    writeln!(out, "| Error type | Errors | Resolved |\n|---|--:|--:|")?;
    for t in e.error_types.iter().take(20) {
        writeln!(
            out,
            "| {} | {} | {} |",
            t.error_type.replace('|', "\\|"),
            t.count,
            t.resolved
        )?;
    }
    writeln!(out)?;
    super::render_markdown(&r.incidents, out)
}
