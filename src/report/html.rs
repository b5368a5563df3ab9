//! The HTML report: one self-contained file, charts as hand-built inline SVG.

use std::fmt::Write as _;
use std::io::{self, Write};

use super::{
    data_issues, duration, duration_secs, group_label, local_time, mean_unresolved, offset_label,
    percent, period_adjective, period_noun, recent_trends, recommendation_text,
    recurrence_sentence, window_label,
};
use crate::metrics::{AlertState, Metrics, SLA_RECOMMEND_BELOW};
use crate::model::Category;

/// Periods drawn in the trend chart and listed in its table.
const TREND_PERIODS: usize = 52;

const CSS: &str = r#"
:root { color-scheme: light; }
body { margin: 0; background: #f5f6f8; color: #1d2330;
  font-family: -apple-system, "Segoe UI", "Noto Sans", "Noto Sans CJK JP", "Hiragino Sans",
    "Hiragino Kaku Gothic ProN", "Yu Gothic", Meiryo, sans-serif; font-size: 14px; line-height: 1.5; }
main { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; }
h2 { margin: 32px 0 12px; font-size: 19px; border-bottom: 1px solid #d8dce3; padding-bottom: 4px; }
.meta { color: #5b6475; margin: 0 0 20px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
.card { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 12px 14px; }
.card .label { color: #5b6475; font-size: 12px; }
.card .value { font-size: 22px; font-weight: 600; }
.card .sub { color: #5b6475; font-size: 12px; }
.card.bad .value { color: #c0392b; }
.chart { background: #fff; border: 1px solid #dde1e8; border-radius: 8px; padding: 12px; margin-bottom: 16px; }
.chart h3 { margin: 0 0 8px; font-size: 15px; }
svg { display: block; width: 100%; height: auto; }
svg text { font-family: inherit; fill: #333a48; }
table { border-collapse: collapse; width: 100%; background: #fff; margin-bottom: 8px; }
th, td { border: 1px solid #dde1e8; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #eef1f5; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.note { color: #5b6475; font-size: 12px; }
.bad { color: #c0392b; }
ol li { margin-bottom: 6px; }
.scroll { overflow-x: auto; }
"#;

fn category_color(c: Category) -> &'static str {
    match c {
        Category::Error => "#e45756",
        Category::Failure => "#f58518",
        Category::Request => "#4c78a8",
        Category::Change => "#72b7b2",
        Category::Security => "#b279a2",
        Category::Performance => "#54a24b",
    }
}

/// Escapes text for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// At most `max` characters, with `…` when cut.
fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// An axis for counts up to `v`: a round step (1, 2 or 5 × 10^k, at least 1) giving at
/// most five intervals, and the axis maximum, a multiple of it.
fn axis(v: f64) -> (f64, f64) {
    if v <= 0.0 || !v.is_finite() {
        return (1.0, 1.0);
    }
    let rough = (v / 5.0).max(1.0);
    let mag = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|f| f * mag)
        .find(|&x| x >= rough)
        .unwrap_or(10.0 * mag);
    (step, step * (v / step).ceil())
}

/// Writes a table; cells are HTML already. Columns from `numeric_from` are right-aligned.
fn table(
    out: &mut String,
    headers: &[&str],
    rows: &[Vec<String>],
    numeric_from: usize,
) -> std::fmt::Result {
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    for (i, h) in headers.iter().enumerate() {
        let class = if i >= numeric_from {
            " class=\"n\""
        } else {
            ""
        };
        write!(out, "<th{class}>{}</th>", esc(h))?;
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for (i, cell) in row.iter().enumerate() {
            let class = if i >= numeric_from {
                " class=\"n\""
            } else {
                ""
            };
            write!(out, "<td{class}>{cell}</td>")?;
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    Ok(())
}

fn card(out: &mut String, label: &str, value: &str, sub: &str, bad: bool) -> std::fmt::Result {
    let class = if bad { "card bad" } else { "card" };
    write!(
        out,
        "<div class=\"{class}\"><div class=\"label\">{}</div><div class=\"value\">{}</div><div class=\"sub\">{}</div></div>",
        esc(label),
        esc(value),
        esc(sub)
    )
}

/// Incidents per period, stacked by category.
/// Draws a chart's x axis from `x1` to `x2` at height `y` and closes its `<svg>`.
fn close_plot(out: &mut String, x1: f64, x2: f64, y: f64) -> std::fmt::Result {
    write!(
        out,
        "<line x1=\"{x1}\" x2=\"{x2}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#8a93a3\"/></svg>"
    )
}

fn trend_chart(out: &mut String, m: &Metrics) -> std::fmt::Result {
    let rows = recent_trends(m, TREND_PERIODS);
    let (w, h) = (1040.0, 300.0);
    let (left, right, top, bottom) = (48.0, 12.0, 34.0, 46.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    let (step, max) = axis(rows.iter().map(|r| r.incidents).max().unwrap_or(0) as f64);
    write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Incidents per {} by category\">",
        period_noun(m.trend_period).to_lowercase()
    )?;
    // Legend.
    let mut x = left;
    for &c in Category::ALL {
        write!(
            out,
            "<rect x=\"{x}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{}\"/><text x=\"{}\" y=\"16\" font-size=\"12\">{c}</text>",
            category_color(c),
            x + 16.0
        )?;
        x += 24.0 + 8.0 * c.as_str().len() as f64 + 12.0;
    }
    // Grid and y labels.
    let ticks = (max / step).round() as u32;
    for i in 0..=ticks {
        let v = step * f64::from(i);
        let y = top + plot_h - plot_h * v / max;
        write!(
            out,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e6eb\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{}</text>",
            w - right,
            left - 6.0,
            y + 4.0,
            v.round()
        )?;
    }
    if rows.is_empty() {
        write!(
            out,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"middle\" font-size=\"13\">No incidents</text>",
            left + plot_w / 2.0,
            top + plot_h / 2.0
        )?;
    }
    let slot = plot_w / rows.len().max(1) as f64;
    let bar = (slot * 0.75).max(1.0);
    let label_every = rows.len().div_ceil(12).max(1);
    for (i, r) in rows.iter().enumerate() {
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let mut y = top + plot_h;
        for &c in Category::ALL {
            let n = r.by_category.get(c);
            if n == 0 {
                continue;
            }
            let bh = plot_h * n as f64 / max;
            y -= bh;
            write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{} {c}: {n}</title></rect>",
                category_color(c),
                esc(&r.period)
            )?;
        }
        if i % label_every == 0 {
            write!(
                out,
                "<text x=\"{:.1}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                x + bar / 2.0,
                top + plot_h + 16.0,
                esc(&r.period)
            )?;
        }
    }
    close_plot(out, left, w - right, top + plot_h)?;
    if rows.len() < m.trends.len() {
        write!(
            out,
            "<p class=\"note\">Last {} of {} periods.</p>",
            rows.len(),
            m.trends.len()
        )?;
    }
    Ok(())
}

/// MTTR per priority against its resolution target; each row has its own scale so a
/// one-week target does not flatten the four-hour one.
fn mttr_chart(out: &mut String, m: &Metrics) -> std::fmt::Result {
    let row_h = 46.0;
    let (w, left, right, top) = (1040.0, 110.0, 170.0, 10.0);
    let h = top + row_h * m.by_priority.len() as f64 + 10.0;
    let plot_w = w - left - right;
    write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"MTTR by priority against target\">"
    )?;
    for (i, p) in m.by_priority.iter().enumerate() {
        let y = top + row_h * i as f64;
        let target = p.sla.resolution_target_seconds as f64;
        let mttr = p.time_to_resolve.mean_seconds;
        let scale = mttr.unwrap_or(0.0).max(target) * 1.15;
        write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\" font-weight=\"600\">{}</text>",
            left - 10.0,
            y + 22.0,
            p.priority
        )?;
        write!(
            out,
            "<rect x=\"{left}\" y=\"{:.1}\" width=\"{plot_w}\" height=\"22\" fill=\"#eef1f5\"/>",
            y + 7.0
        )?;
        let label = match mttr {
            Some(v) => {
                let bw = plot_w * v / scale;
                let color = if v <= target { "#54a24b" } else { "#e45756" };
                write!(
                    out,
                    "<rect x=\"{left}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"22\" fill=\"{color}\"><title>MTTR {} (median {}, p90 {}) over {} resolved</title></rect>",
                    y + 7.0,
                    duration(Some(v)),
                    duration(p.time_to_resolve.median_seconds),
                    duration(p.time_to_resolve.p90_seconds),
                    p.time_to_resolve.count
                )?;
                format!("MTTR {}", duration(Some(v)))
            }
            None => "no resolved incidents".to_string(),
        };
        let tx = left + plot_w * target / scale;
        write!(
            out,
            "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1d2330\" stroke-width=\"2.5\"/>",
            y + 2.0,
            y + 34.0
        )?;
        write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"middle\">target {}</text>",
            tx,
            y + 44.0,
            duration_secs(p.sla.resolution_target_seconds)
        )?;
        write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"13\">{}</text>",
            w - right + 10.0,
            y + 22.0,
            esc(&label)
        )?;
    }
    out.push_str("</svg>");
    Ok(())
}

/// Top components by weighted impact, horizontal bars.
fn components_chart(out: &mut String, m: &Metrics) -> std::fmt::Result {
    let row_h = 28.0;
    let (w, left, right, top) = (1040.0, 230.0, 190.0, 6.0);
    let h = top + row_h * m.components.len().max(1) as f64 + 6.0;
    let plot_w = w - left - right;
    let max = m
        .components
        .iter()
        .map(|c| c.weighted_impact)
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"Top components by weighted impact\">"
    )?;
    if m.components.is_empty() {
        write!(
            out,
            "<text x=\"{}\" y=\"20\" font-size=\"13\">No incident lists an affected component.</text>",
            left
        )?;
    }
    for (i, c) in m.components.iter().enumerate() {
        let y = top + row_h * i as f64;
        let bw = plot_w * c.weighted_impact as f64 / max;
        write!(
            out,
            "<text x=\"{}\" y=\"{:.1}\" font-size=\"13\" text-anchor=\"end\"><title>{}</title>{}</text>",
            left - 10.0,
            y + 18.0,
            esc(&c.component),
            esc(&shorten(&c.component, 22))
        )?;
        write!(
            out,
            "<rect x=\"{left}\" y=\"{:.1}\" width=\"{bw:.1}\" height=\"20\" fill=\"#4c78a8\"><title>{}: impact {}, {} incidents, mean time unresolved {}</title></rect>",
            y + 4.0,
            esc(&c.component),
            c.weighted_impact,
            c.incidents,
            mean_unresolved(c)
        )?;
        write!(
            out,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\">{} · {} incidents</text>",
            left + bw + 8.0,
            y + 18.0,
            c.weighted_impact,
            c.incidents
        )?;
    }
    out.push_str("</svg>");
    Ok(())
}

/// SLA compliance per priority: response and resolution bars with the 90% line.
fn sla_chart(out: &mut String, m: &Metrics) -> std::fmt::Result {
    let (w, h) = (1040.0, 260.0);
    let (left, right, top, bottom) = (48.0, 12.0, 30.0, 40.0);
    let plot_w = w - left - right;
    let plot_h = h - top - bottom;
    write!(
        out,
        "<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"SLA compliance by priority\">"
    )?;
    for (i, (name, color)) in [("response", "#4c78a8"), ("resolution", "#f58518")]
        .into_iter()
        .enumerate()
    {
        let x = left + 110.0 * i as f64;
        write!(
            out,
            "<rect x=\"{x}\" y=\"6\" width=\"12\" height=\"12\" fill=\"{color}\"/><text x=\"{}\" y=\"16\" font-size=\"12\">{name}</text>",
            x + 16.0
        )?;
    }
    for pct in [0, 25, 50, 75, 100] {
        let y = top + plot_h - plot_h * f64::from(pct) / 100.0;
        write!(
            out,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y:.1}\" y2=\"{y:.1}\" stroke=\"#e3e6eb\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\">{pct}%</text>",
            w - right,
            left - 6.0,
            y + 4.0
        )?;
    }
    let slot = plot_w / m.by_priority.len().max(1) as f64;
    let bar = (slot * 0.3).min(90.0);
    for (i, p) in m.by_priority.iter().enumerate() {
        let x0 = left + slot * i as f64 + slot / 2.0 - bar;
        for (j, (counts, color)) in [(&p.sla.response, "#4c78a8"), (&p.sla.resolution, "#f58518")]
            .into_iter()
            .enumerate()
        {
            let x = x0 + bar * j as f64;
            match counts.compliance {
                Some(c) => {
                    let bh = plot_h * c;
                    write!(
                        out,
                        "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{color}\"><title>{} met {} of {}</title></rect><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">{}</text>",
                        top + plot_h - bh,
                        bar - 4.0,
                        p.priority,
                        counts.met,
                        counts.evaluated,
                        x + (bar - 4.0) / 2.0,
                        top + plot_h - bh - 4.0,
                        percent(Some(c))
                    )?;
                }
                None => write!(
                    out,
                    "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\">n/a</text>",
                    x + (bar - 4.0) / 2.0,
                    top + plot_h - 4.0
                )?,
            }
        }
        write!(
            out,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"13\" text-anchor=\"middle\" font-weight=\"600\">{}</text>",
            left + slot * i as f64 + slot / 2.0,
            top + plot_h + 20.0,
            p.priority
        )?;
    }
    let y90 = top + plot_h * (1.0 - SLA_RECOMMEND_BELOW);
    write!(
        out,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{y90:.1}\" y2=\"{y90:.1}\" stroke=\"#c0392b\" stroke-dasharray=\"6 4\" stroke-width=\"1.5\"/><text x=\"{}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"end\" fill=\"#c0392b\" style=\"fill:#c0392b\">90%</text>",
        w - right,
        w - right,
        y90 - 4.0
    )?;
    close_plot(out, left, w - right, top + plot_h)
}

fn body(m: &Metrics) -> Result<String, std::fmt::Error> {
    let mut o = String::with_capacity(64 * 1024);
    let s = &m.summary;
    write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Incident report</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
    )?;
    write!(
        o,
        "<h1>Incident report</h1><p class=\"meta\">Generated {} (UTC{}) · {} · {} trends</p>",
        esc(&local_time(m, m.generated_at)),
        esc(&offset_label(m)),
        esc(&window_label(m)),
        period_adjective(m.trend_period)
    )?;

    if let Some(scope) = super::scope_sentence(m) {
        write!(o, "<p class=\"note\">{}</p>", esc(&scope))?;
    }
    o.push_str("<section><h2>Summary</h2><div class=\"cards\">");
    card(
        &mut o,
        "Incidents",
        &s.incidents.to_string(),
        &format!(
            "open {} · in progress {} · resolved {} · closed {}",
            s.open, s.in_progress, s.resolved, s.closed
        ),
        false,
    )?;
    let d = &s.time_to_resolve;
    card(
        &mut o,
        "MTTR",
        &duration(d.mean_seconds),
        &format!(
            "median {} · p90 {} · {} resolved",
            duration(d.median_seconds),
            duration(d.p90_seconds),
            d.count
        ),
        false,
    )?;
    let d = &s.time_to_acknowledge;
    card(
        &mut o,
        "MTTA",
        &duration(d.mean_seconds),
        &format!(
            "median {} · p90 {} · {} acknowledged",
            duration(d.median_seconds),
            duration(d.p90_seconds),
            d.count
        ),
        false,
    )?;
    card(
        &mut o,
        "Recurrence rate",
        &percent(s.recurrence_rate),
        &format!("{} recurrent incidents", s.recurrent),
        false,
    )?;
    let below = |c: Option<f64>| c.is_some_and(|c| c < SLA_RECOMMEND_BELOW);
    card(
        &mut o,
        "SLA response",
        &percent(s.sla_response_compliance),
        "met within the response target",
        below(s.sla_response_compliance),
    )?;
    card(
        &mut o,
        "SLA resolution",
        &percent(s.sla_resolution_compliance),
        "met within the resolution target",
        below(s.sla_resolution_compliance),
    )?;
    card(
        &mut o,
        "Open past SLA",
        &s.sla_open_breaching.to_string(),
        &format!("{} more due within the hour", s.sla_open_at_risk),
        s.sla_open_breaching > 0,
    )?;
    o.push_str("</div></section>");

    o.push_str("<section><h2>Charts</h2>");
    write!(
        o,
        "<div class=\"chart\"><h3>Incidents per {} by category</h3>",
        period_noun(m.trend_period).to_lowercase()
    )?;
    trend_chart(&mut o, m)?;
    o.push_str(
        "</div><div class=\"chart\"><h3>MTTR by priority against the resolution target</h3>",
    );
    mttr_chart(&mut o, m)?;
    o.push_str("</div><div class=\"chart\"><h3>Top components by weighted impact</h3>");
    components_chart(&mut o, m)?;
    o.push_str("</div><div class=\"chart\"><h3>SLA compliance by priority</h3>");
    sla_chart(&mut o, m)?;
    o.push_str("</div></section>");

    o.push_str("<section><h2>Recommendations</h2>");
    if m.recommendations.is_empty() {
        o.push_str("<p>None.</p>");
    } else {
        o.push_str("<ol>");
        for r in &m.recommendations {
            write!(o, "<li>{}</li>", esc(&recommendation_text(r)))?;
        }
        o.push_str("</ol>");
    }
    o.push_str("</section>");

    o.push_str("<section><h2>By category</h2>");
    let rows: Vec<Vec<String>> = m
        .by_category
        .iter()
        .map(|c| {
            vec![
                c.category.to_string(),
                c.incidents.to_string(),
                percent(c.share),
                c.active.to_string(),
                duration(c.time_to_resolve.mean_seconds),
                duration(c.time_to_resolve.median_seconds),
                duration(c.time_to_resolve.p90_seconds),
                duration(c.time_to_acknowledge.mean_seconds),
            ]
        })
        .collect();
    table(
        &mut o,
        &[
            "Category",
            "Incidents",
            "Share",
            "Active",
            "MTTR",
            "Median",
            "P90",
            "MTTA",
        ],
        &rows,
        1,
    )?;
    o.push_str("</section>");

    o.push_str("<section><h2>By priority</h2><p class=\"note\">Targets: response / resolution. Met: share of evaluated incidents within the target (met/evaluated); open incidents past a target count as breached.</p>");
    let rows: Vec<Vec<String>> = m
        .by_priority
        .iter()
        .map(|p| {
            vec![
                p.priority.to_string(),
                p.incidents.to_string(),
                p.active.to_string(),
                duration(p.time_to_resolve.mean_seconds),
                duration(p.time_to_resolve.median_seconds),
                duration(p.time_to_resolve.p90_seconds),
                duration(p.time_to_acknowledge.mean_seconds),
                format!(
                    "{} / {}",
                    duration_secs(p.sla.response_target_seconds),
                    duration_secs(p.sla.resolution_target_seconds)
                ),
                format!(
                    "{} ({}/{})",
                    percent(p.sla.response.compliance),
                    p.sla.response.met,
                    p.sla.response.evaluated
                ),
                format!(
                    "{} ({}/{})",
                    percent(p.sla.resolution.compliance),
                    p.sla.resolution.met,
                    p.sla.resolution.evaluated
                ),
                p.sla.open_breaching.to_string(),
                p.sla.open_at_risk.to_string(),
            ]
        })
        .collect();
    table(
        &mut o,
        &[
            "Priority",
            "Incidents",
            "Active",
            "MTTR",
            "Median",
            "P90",
            "MTTA",
            "Targets",
            "Response met",
            "Resolution met",
            "Past SLA",
            "Due in 1 h",
        ],
        &rows,
        1,
    )?;
    o.push_str("</section>");

    o.push_str("<section><h2>Top components</h2>");
    let rows: Vec<Vec<String>> = m
        .components
        .iter()
        .map(|c| {
            vec![
                esc(&c.component),
                c.incidents.to_string(),
                c.weighted_impact.to_string(),
                mean_unresolved(c),
                duration(c.time_to_resolve.mean_seconds),
                duration(c.time_to_acknowledge.mean_seconds),
                duration(c.mtbf_seconds),
                percent(c.recurrence_rate),
            ]
        })
        .collect();
    table(
        &mut o,
        &[
            "Component",
            "Incidents",
            "Weighted impact",
            "Mean time unresolved",
            "MTTR",
            "MTTA",
            "MTBF",
            "Recurrence",
        ],
        &rows,
        1,
    )?;
    write!(
        o,
        "<p class=\"note\">{} of {} components. MTBF: mean time between the starts of failure/error incidents.</p></section>",
        m.components.len(),
        m.components_total
    )?;

    let r = &m.recurrence;
    write!(
        o,
        "<section><h2>Recurring issues</h2><p>{}</p>",
        esc(&recurrence_sentence(m))
    )?;
    if !r.recurring_groups.is_empty() {
        let rows: Vec<Vec<String>> = r
            .recurring_groups
            .iter()
            .map(|g| {
                vec![
                    esc(&group_label(g)),
                    g.component
                        .as_deref()
                        .map(esc)
                        .unwrap_or_else(|| "–".into()),
                    g.incidents.to_string(),
                    g.recurrent.to_string(),
                    percent(g.rate),
                ]
            })
            .collect();
        table(
            &mut o,
            &["Group", "Component", "Incidents", "Recurrent", "Rate"],
            &rows,
            2,
        )?;
    }
    o.push_str("</section>");

    o.push_str("<section><h2>SLA attention</h2>");
    if m.sla.attention.is_empty() {
        o.push_str("<p>No open incident is past its SLA target or due within the hour.</p>");
    } else {
        let rows: Vec<Vec<String>> = m
            .sla
            .attention
            .iter()
            .map(|a| {
                let late = (m.generated_at.micros() - a.deadline.micros()) as f64 / 1e6;
                let state = match a.state {
                    AlertState::Breaching => {
                        format!(
                            "<span class=\"bad\">overdue {}</span>",
                            duration(Some(late))
                        )
                    }
                    AlertState::AtRisk => format!("due in {}", duration(Some(-late))),
                };
                vec![
                    a.id.to_string(),
                    a.priority.to_string(),
                    a.measure.to_string(),
                    esc(&local_time(m, a.deadline)),
                    state,
                    esc(&a.title),
                ]
            })
            .collect();
        table(
            &mut o,
            &[
                "Incident", "Priority", "Target", "Deadline", "State", "Title",
            ],
            &rows,
            usize::MAX,
        )?;
        write!(
            o,
            "<p class=\"note\">{} of {} shown, most overdue first.</p>",
            m.sla.attention.len(),
            m.sla.attention_total
        )?;
    }
    o.push_str("</section>");

    write!(
        o,
        "<section><h2>Trends ({})</h2>",
        period_adjective(m.trend_period)
    )?;
    let trend_rows = recent_trends(m, TREND_PERIODS);
    let rows: Vec<Vec<String>> = trend_rows
        .iter()
        .map(|t| {
            let mut row = vec![esc(&t.period), t.incidents.to_string()];
            row.extend(
                Category::ALL
                    .iter()
                    .map(|&c| t.by_category.get(c).to_string()),
            );
            row.push(t.resolved.to_string());
            row.push(duration(t.time_to_resolve.mean_seconds));
            row
        })
        .collect();
    let mut headers = vec![period_noun(m.trend_period), "Incidents"];
    headers.extend(Category::ALL.iter().map(|c| c.as_str()));
    headers.extend(["Resolved", "MTTR"]);
    table(&mut o, &headers, &rows, 1)?;
    o.push_str("</section>");

    if let Some(e) = m.error_history.as_ref().filter(|e| e.errors > 0) {
        write!(
            o,
            "<section><h2>Error history (migrated errors)</h2><p>{} errors, {} still unresolved; {} with a recorded fix time. They are counted here, apart from the MTTR, SLA and recurrence above; a fix without a recorded time has an unknown resolution time.</p>",
            e.errors, e.unresolved, e.resolved_with_time
        )?;
        for (title, counts) in [
            ("Error type", &e.by_type),
            ("History pattern", &e.by_pattern),
        ] {
            let rows: Vec<Vec<String>> = super::error_count_rows(m, counts)
                .into_iter()
                .map(|r| r.iter().map(|c| esc(c)).collect())
                .collect();
            table(
                &mut o,
                &[title, "Errors", "Unresolved", "First seen", "Last seen"],
                &rows,
                1,
            )?;
        }
        o.push_str("</section>");
    }

    o.push_str("<section><h2>Data issues</h2>");
    let issues = data_issues(m);
    if issues.is_empty() {
        o.push_str("<p>None.</p>");
    } else {
        o.push_str("<ul>");
        for (label, count, ids) in issues {
            write!(
                o,
                "<li>{}: {count} <span class=\"note\">({})</span></li>",
                esc(label),
                esc(&ids)
            )?;
        }
        o.push_str("</ul>");
    }
    o.push_str("</section>\n</main>\n</body>\n</html>\n");
    Ok(o)
}

/// Writes the HTML report: one file with inline CSS and SVG, no external resources.
pub fn render_html(m: &Metrics, out: &mut impl Write) -> io::Result<()> {
    let html = body(m).map_err(|_| io::Error::other("formatting the HTML report failed"))?;
    out.write_all(html.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_data::rendered;

    #[test]
    fn escapes_titles_and_is_self_contained() {
        let html = rendered(render_html);
        assert!(!html.contains("<script"), "unescaped script");
        assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
        assert!(!html.contains("src="));
        assert!(!html.contains("href="));
        assert!(!html.contains("@import"));
        assert!(html.contains("Noto Sans CJK JP"));
        assert!(html.contains("データベース"));
        assert_eq!(html.matches("<svg ").count(), 4);
        assert_eq!(
            html.matches("<svg ").count(),
            html.matches("</svg>").count()
        );
    }

    #[test]
    fn axes_are_round() {
        assert_eq!(axis(0.0), (1.0, 1.0));
        assert_eq!(axis(3.0), (1.0, 3.0));
        assert_eq!(axis(10.0), (2.0, 10.0));
        assert_eq!(axis(205.0), (50.0, 250.0));
        assert_eq!(axis(1001.0), (500.0, 1500.0));
    }
}
