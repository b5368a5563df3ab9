//! Request bodies: the event as JSON, or a Slack incoming-webhook message.

use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;
use serde_json::{Value, json};

use super::config::NotifyConfig;
use super::event::{Event, IncidentSnapshot};
use crate::kb::KbEntry;
use crate::metrics::SlaTargets;
use crate::model::Timestamp;
use crate::patterns::matching::PatternMatch;

/// What a message says besides the event: looked up when it is sent.
#[derive(Clone, Debug, Default)]
pub struct Context {
    /// The stored pattern the incident matches, with its last fix.
    pub pattern: Option<PatternMatch>,
    /// The knowledge-base entry about that pattern.
    pub kb_entry: Option<KbEntry>,
}

#[derive(Serialize)]
struct Deadlines {
    response: Timestamp,
    resolution: Timestamp,
}

fn deadlines(sla: &SlaTargets, inc: &IncidentSnapshot) -> Deadlines {
    let t = sla.get(inc.priority);
    let created = inc.created_at.micros();
    Deadlines {
        response: Timestamp::from_micros(created + t.response_micros()),
        resolution: Timestamp::from_micros(created + t.resolution_micros()),
    }
}

fn link(config: &NotifyConfig, inc: &IncidentSnapshot) -> Option<String> {
    config
        .dashboard_url
        .as_ref()
        .map(|base| format!("{base}/incidents/{}", inc.id))
}

/// The `format: json` body. `event_id` is the same on every delivery of the event.
pub fn json_body(config: &NotifyConfig, event: &Event, ctx: &Context) -> Vec<u8> {
    let body = json!({
        "event_id": event.id,
        "event": event.kind.as_str(),
        "at": event.at,
        "incident": event.incident,
        "details": event.details,
        "sla_deadlines": deadlines(&config.sla, &event.incident),
        "dashboard_url": link(config, &event.incident),
        "pattern": ctx.pattern.as_ref().map(|p| json!({
            "id": p.pattern_id, "name": p.name, "template": p.template, "last_fix": p.last_fix,
            "kb_entry": ctx.kb_entry,
        })),
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

/// Slack mrkdwn treats `&`, `<` and `>` as markup.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// At most `max` characters (Slack limits header and field lengths).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// A time Slack shows in each reader's own time zone (`<!date^…>`), with the UTC time as
/// the fallback for clients that cannot.
fn slack_time(t: Timestamp) -> String {
    format!(
        "<!date^{}^{{date_num}} {{time}}|{t}>",
        t.micros().div_euclid(1_000_000)
    )
}

/// An entry's markdown without its heading line.
fn entry_body(markdown: &str) -> &str {
    match markdown.split_once('\n') {
        Some((first, rest)) if first.starts_with('#') => rest,
        Some(_) => markdown,
        None if markdown.starts_with('#') => "",
        None => markdown,
    }
}

static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]\n]+)\]\(([^)\s]+)\)").expect("static regex"));

/// Markdown as Slack mrkdwn: `**bold**` is `*bold*`; a link is `<url|text>`, or its text
/// alone when the url is relative (a path inside the knowledge-base directory). Call before
/// escaping, which must leave the link's `<` and `>` alone: [`esc`] runs on the parts.
fn mrkdwn(markdown: &str) -> String {
    let mut out = String::new();
    let mut last = 0;
    for c in LINK.captures_iter(markdown) {
        let whole = c.get(0).expect("group 0");
        out.push_str(&esc(&markdown[last..whole.start()].replace("**", "*")));
        let (text, url) = (&c[1], &c[2]);
        if url.starts_with("https://") || url.starts_with("http://") {
            out.push_str(&format!("<{}|{}>", esc(url), esc(text)));
        } else {
            out.push_str(&esc(text));
        }
        last = whole.end();
    }
    out.push_str(&esc(&markdown[last..].replace("**", "*")));
    out
}

/// The `format: slack` body: an incoming-webhook message with blocks.
pub fn slack_body(config: &NotifyConfig, event: &Event, ctx: &Context) -> Vec<u8> {
    let inc = &event.incident;
    let d = deadlines(&config.sla, inc);
    let deadline = if matches!(inc.status.as_str(), "open") {
        format!(
            "response {}\nresolution {}",
            slack_time(d.response),
            slack_time(d.resolution)
        )
    } else {
        format!("resolution {}", slack_time(d.resolution))
    };
    let field = |name: &str, value: String| json!({"type": "mrkdwn", "text": cut(&format!("*{name}*\n{value}"), 2000)});
    let mut blocks: Vec<Value> = vec![
        json!({"type": "header", "text": {"type": "plain_text", "emoji": true,
            "text": cut(&format!("[{}] {} {}", inc.priority.as_str().to_uppercase(), inc.id, inc.title), 150)}}),
        json!({"type": "section",
        "text": {"type": "mrkdwn", "text": cut(&format!("*{}*: {}", event.kind, esc(&event.details)), 3000)},
        "fields": [
            field("Priority", inc.priority.to_string()),
            field("Status", inc.status.to_string()),
            field("Components", esc(&inc.components.join(", "))),
            field("SLA deadline", deadline),
        ]}),
    ];
    if let Some(p) = &ctx.pattern {
        let mut text = format!(
            "*Known pattern*: {} (`{}`)",
            esc(&p.name),
            esc(&p.pattern_id)
        );
        if !p.last_fix.is_empty() {
            text.push_str(&format!("\n*Last fix*: {}", esc(&p.last_fix.join("; "))));
        }
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&text, 3000)}}));
    }
    if let Some(e) = &ctx.kb_entry {
        let text = format!(
            "*Knowledge base*: {} {}\n{}",
            esc(&e.entry),
            esc(&e.title),
            mrkdwn(entry_body(&e.markdown))
        );
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&text, 3000)}}));
    }
    if let Some(url) = link(config, inc) {
        blocks.push(json!({"type": "actions", "elements": [{"type": "button",
            "text": {"type": "plain_text", "text": "Open in dashboard"}, "url": url}]}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn",
        "text": format!("event {} · {}", event.id, event.at)}]}));
    let body = json!({
        "text": format!("[{}] {} {}: {}", inc.priority, inc.id, event.kind, inc.title),
        "blocks": blocks,
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_reads_as_slack_mrkdwn() {
        assert_eq!(
            mrkdwn(
                "- **対応**: see [runbook](https://wiki.example.com/a?b=1&c) or [auto_fix/P1.sh](auto_fix/P1.sh) <n>"
            ),
            "- *対応*: see <https://wiki.example.com/a?b=1&amp;c|runbook> or auto_fix/P1.sh &lt;n&gt;"
        );
        assert_eq!(entry_body("### INCIDENT_001: x\n- a"), "- a");
        assert_eq!(entry_body("### INCIDENT_001: x"), "");
    }
}
