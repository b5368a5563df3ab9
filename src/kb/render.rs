//! Markdown for the tool's blocks. Pattern text is untrusted: it is put on one line
//! (so it can never form a marker line) and escaped, or shown as a code span.

use std::fmt::Write as _;

use crate::kb::autofix::{command_words, resolved_total};
use crate::model::{Counted, Pattern};

use super::KbOptions;
use super::group::Entry;
use crate::patterns::causes::{group_texts, split_history_tags};
use crate::patterns::naming;

/// Longest text taken from a pattern field, in characters.
const MAX_TEXT: usize = 200;

pub(super) const NOTE: &str = "<!-- このブロックは incident kb suggest が生成します。編集する場合はマーカー行ごと削除してください -->";

/// One line, whitespace collapsed, cut at [`MAX_TEXT`] characters.
fn flat(s: &str) -> String {
    let joined = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    match joined.char_indices().nth(MAX_TEXT) {
        Some((i, _)) => format!("{}…", &joined[..i]),
        None => joined,
    }
}

/// Inline markdown text: characters that would start markup are backslash-escaped.
pub(super) fn md(s: &str) -> String {
    let flat = flat(s);
    let mut out = String::with_capacity(flat.len());
    let chars: Vec<char> = flat.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let escape = match c {
            '\\' | '`' | '*' | '[' | ']' | '<' | '>' | '|' => true,
            // Intraword underscores (`channel_not_found`) never start emphasis.
            '_' => {
                let prev = i.checked_sub(1).and_then(|j| chars.get(j));
                let next = chars.get(i + 1);
                !(prev.is_some_and(|p| p.is_alphanumeric())
                    && next.is_some_and(|n| n.is_alphanumeric()))
            }
            _ => false,
        };
        if escape {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A code span whose fence is longer than any backtick run inside it.
pub(super) fn code(s: &str) -> String {
    let flat = flat(s);
    let mut longest = 0;
    let mut run = 0;
    for c in flat.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let pad = if flat.starts_with('`') || flat.ends_with('`') || flat.is_empty() {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{flat}{pad}{fence}")
}

/// An action as a code span when it is a command, else as text.
fn action(s: &str) -> String {
    match command_words(s) {
        Some(_) => code(s.trim().trim_matches('`')),
        None => md(s),
    }
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A duration in Japanese: `45秒`, `12分`, `1時間25分`, `3日4時間`.
pub(super) fn duration_ja(secs: f64) -> String {
    if !secs.is_finite() || secs < 0.0 {
        return "不明".to_string();
    }
    let s = secs.round() as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match () {
        _ if s < 60 => format!("{s}秒"),
        _ if s < 3_600 => format!("{m}分"),
        _ if s < 86_400 && m == 0 => format!("{h}時間"),
        _ if s < 86_400 => format!("{h}時間{m}分"),
        _ if h == 0 => format!("{d}日"),
        _ => format!("{d}日{h}時間"),
    }
}

fn counted_list(items: &[Counted<String>], limit: usize, fmt: fn(&str) -> String) -> String {
    items
        .iter()
        .take(limit)
        .map(|c| format!("{}（{}件）", fmt(&c.value), c.count))
        .collect::<Vec<_>>()
        .join("、")
}

fn occurrences(p: &Pattern) -> String {
    let mut s = format!(
        "{}件（初回: {}、最終: {}",
        p.count,
        p.first_seen.local_date(),
        p.last_seen.local_date()
    );
    if p.recurrences > 0 {
        let _ = write!(s, "、解決後の再発: {}件", p.recurrences);
    }
    s.push('）');
    s
}

fn components(p: &Pattern, opts: &KbOptions) -> String {
    if p.components.is_empty() {
        "記録なし".to_string()
    } else {
        counted_list(&p.components, opts.max_listed, md)
    }
}

/// Time to resolve, from the incidents whose resolution time is known; `不明` when none
/// is (an error history records no resolution times), never a zero.
fn resolve_time(p: &Pattern) -> String {
    let total = resolved_total(p);
    let unknown = total.saturating_sub(p.resolved);
    let basis = if unknown > 0 {
        format!(
            "解決時刻の分かる{}件から算出、ほか{unknown}件は解決時刻不明",
            p.resolved
        )
    } else {
        format!("解決済み: {}件", p.resolved)
    };
    match (p.mean_resolve_secs, p.median_resolve_secs) {
        (Some(mean), Some(median)) => format!(
            "{}（中央値: {}、{basis}）",
            duration_ja(mean),
            duration_ja(median),
        ),
        (Some(mean), None) => format!("{}（{basis}）", duration_ja(mean)),
        _ if total > 0 => format!("不明（解決済み: {total}件、いずれも解決時刻の記録なし）"),
        _ => "不明（解決済みなし）".to_string(),
    }
}

fn related(p: &Pattern, opts: &KbOptions) -> String {
    p.examples
        .iter()
        .take(opts.max_related)
        .map(|id| id.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn push_tail(out: &mut String, p: &Pattern, opts: &KbOptions, script: Option<&str>) {
    let _ = writeln!(out, "- **発生件数**: {}", occurrences(p));
    let _ = writeln!(out, "- **影響コンポーネント**: {}", components(p, opts));
    let _ = writeln!(out, "- **平均解決時間**: {}", resolve_time(p));
    if !p.examples.is_empty() {
        let _ = writeln!(out, "- **関連インシデント**: {}", related(p, opts));
    }
    if let Some(path) = script {
        let path = md(path);
        let _ = writeln!(
            out,
            "- **自動修正スクリプト**: [{path}]({path})（実行前に内容を確認）"
        );
    }
}

fn push_actions(out: &mut String, p: &Pattern, opts: &KbOptions) {
    let actions = group_texts(&p.actions);
    if actions.is_empty() {
        out.push_str("  1. 記録なし\n");
    }
    for (i, a) in actions.iter().take(opts.max_listed).enumerate() {
        let _ = writeln!(out, "  {}. {}（{}件）", i + 1, action(&a.value), a.count);
    }
}

fn push_prevention(out: &mut String, p: &Pattern, opts: &KbOptions) {
    let measures = group_texts(&p.preventive_measures);
    if measures.is_empty() {
        out.push_str("  - 記録なし\n");
    }
    for m in measures.iter().take(opts.max_listed) {
        let _ = writeln!(out, "  - {}（{}件）", md(&m.value), m.count);
    }
}

/// The heading title of a new entry: the merged template with its slots named.
pub(super) fn title(e: &Entry) -> String {
    md(&e.pattern.name)
}

/// The error types, verbatim, each with its count; every one is listed.
fn types(e: &Entry) -> Option<String> {
    (!e.types.is_empty()).then(|| counted_list(&e.types, usize::MAX, code))
}

/// Root causes people wrote, grouped without masking, and apart from them the error
/// history's `pattern_id`s (a migrated error's `Pattern: PATTERN_005`), which classify
/// the error but say nothing of its cause.
fn causes(p: &Pattern) -> (Option<String>, Option<String>) {
    let (written, tags) = split_history_tags(&group_texts(&p.root_causes));
    (
        (!written.is_empty()).then(|| counted_list(&written, 3, md)),
        (!tags.is_empty()).then(|| counted_list(&tags, 3, code)),
    )
}

/// The line that names the error history's `pattern_id`s, if any.
fn push_history_tags(out: &mut String, tags: Option<String>) {
    if let Some(tags) = tags {
        let _ = writeln!(out, "- **エラー履歴の pattern_id**: {tags}");
    }
}

/// A whole entry, markers included; ends with a newline.
pub(super) fn entry(number: u32, e: &Entry, opts: &KbOptions, script: Option<&str>) -> String {
    let p = &e.pattern;
    let mut out = String::new();
    let _ = writeln!(out, "<!-- incident:pattern {} -->", p.id);
    let _ = writeln!(out, "### {}: {}", super::entry_label(number), title(e));
    out.push_str(NOTE);
    out.push('\n');
    let category = p
        .categories
        .first()
        .map(|c| capitalised(c.value.as_str()))
        .unwrap_or_else(|| "不明".to_string());
    let _ = writeln!(out, "- **カテゴリ**: {category}");
    if let Some(types) = types(e) {
        let _ = writeln!(out, "- **エラー型**: {types}");
    }
    let _ = writeln!(out, "- **症状**: {}", code(&naming::named(&p.template)));
    let (written, tags) = causes(p);
    let written = written.unwrap_or_else(|| "記録なし（要調査）".to_string());
    let _ = writeln!(out, "- **原因**: {written}");
    push_history_tags(&mut out, tags);
    out.push_str("- **対応**:\n");
    push_actions(&mut out, p, opts);
    out.push_str("- **予防策**:\n");
    push_prevention(&mut out, p, opts);
    push_tail(&mut out, p, opts, script);
    let _ = writeln!(out, "- **検出パターン**: {}", pattern_ids(e));
    out.push_str("<!-- /incident:pattern -->\n");
    out
}

/// The member pattern ids, the representative first.
fn pattern_ids(e: &Entry) -> String {
    e.members
        .iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Figures added under a person's entry, markers included; ends with a newline.
pub(super) fn enrich(e: &Entry, opts: &KbOptions, script: Option<&str>) -> String {
    let p = &e.pattern;
    let mut out = String::new();
    let _ = writeln!(out, "<!-- incident:enrich {} -->", p.id);
    out.push_str(NOTE);
    out.push('\n');
    let _ = writeln!(
        out,
        "- **検出パターン**: {} {}",
        pattern_ids(e),
        code(&naming::named(&p.template))
    );
    if let Some(types) = types(e) {
        let _ = writeln!(out, "- **エラー型**: {types}");
    }
    push_tail(&mut out, p, opts, script);
    let (written, tags) = causes(p);
    if let Some(written) = written {
        let _ = writeln!(out, "- **記録された原因**: {written}");
    }
    push_history_tags(&mut out, tags);
    if !p.actions.is_empty() {
        out.push_str("- **記録された対応**:\n");
        push_actions(&mut out, p, opts);
    }
    if !p.preventive_measures.is_empty() {
        out.push_str("- **記録された予防策**:\n");
        push_prevention(&mut out, p, opts);
    }
    out.push_str("<!-- /incident:enrich -->\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn untrusted_text_cannot_break_lines_or_markup() {
        let evil = "x\n<!-- /incident:pattern -->\n### INCIDENT_999: [a](b) *c* `d`";
        let out = md(evil);
        assert!(!out.contains('\n'));
        assert_eq!(
            out,
            r"x \<!-- /incident:pattern --\> ### INCIDENT_999: \[a\](b) \*c\* \`d\`"
        );
        assert_eq!(md("channel_not_found"), "channel_not_found");
        assert_eq!(code("a ``b`` c"), "```a ``b`` c```");
        assert_eq!(code("`x"), "`` `x ``");
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_ja(45.0), "45秒");
        assert_eq!(duration_ja(720.0), "12分");
        assert_eq!(duration_ja(5100.0), "1時間25分");
        assert_eq!(duration_ja(7200.0), "2時間");
        assert_eq!(duration_ja(273_600.0), "3日4時間");
        assert_eq!(duration_ja(f64::NAN), "不明");
    }
}
