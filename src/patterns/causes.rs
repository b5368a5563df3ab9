//! Grouping short human text (root causes, actions, measures) without masking anything:
//! texts group when they are equal once case, spacing and punctuation are set aside, so
//! `Pattern: PATTERN_005` and `pattern PATTERN_005.` are one cause and `PATTERN_006` is
//! another.

use std::collections::BTreeMap;

use crate::model::Counted;

/// The grouping key: lower case, full-width ASCII narrowed, whitespace and punctuation
/// dropped. Characters that belong to identifiers (`_`, `-`, `.` inside a word, `/`) stay.
fn key(text: &str) -> String {
    let chars: Vec<char> = text
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            c => c,
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    for (i, &c) in chars.iter().enumerate() {
        let inner = |c: char| c.is_alphanumeric();
        let keep = match c {
            c if c.is_alphanumeric() => true,
            '_' | '-' | '/' => true,
            '.' => i > 0 && inner(chars[i - 1]) && chars.get(i + 1).is_some_and(|&n| inner(n)),
            _ => false,
        };
        if keep {
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Groups equal and near-equal texts, summing counts; each group is shown as its most
/// frequent spelling. Sorted by count, descending, then text.
pub(crate) fn group_texts(items: &[Counted<String>]) -> Vec<Counted<String>> {
    // key -> (total, spelling -> count)
    let mut groups: BTreeMap<String, (u64, BTreeMap<&str, u64>)> = BTreeMap::new();
    for c in items {
        let text = c.value.trim();
        if text.is_empty() {
            continue;
        }
        let k = key(text);
        let k = if k.is_empty() { text.to_string() } else { k };
        let g = groups.entry(k).or_default();
        g.0 += c.count;
        *g.1.entry(text).or_insert(0) += c.count;
    }
    let mut out: Vec<Counted<String>> = groups
        .into_values()
        .map(|(count, spellings)| {
            let best = spellings
                .iter()
                .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
                .map(|(s, _)| s.to_string())
                .unwrap_or_default();
            Counted { value: best, count }
        })
        .collect();
    out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    out
}

/// The root cause a migrated error carries, `Pattern: <pattern_id>` (as the original tool's
/// migration writes it): the id of `error_history.json`, a classification, not a cause.
/// Returns the id.
pub(crate) fn history_tag(cause: &str) -> Option<&str> {
    let rest = cause.trim().strip_prefix("Pattern:")?.trim();
    (!rest.is_empty() && !rest.contains(char::is_whitespace)).then_some(rest)
}

/// Splits grouped root causes into causes people wrote and the error history's pattern
/// ids ([`history_tag`]), keeping counts and order.
pub(crate) fn split_history_tags(
    causes: &[Counted<String>],
) -> (Vec<Counted<String>>, Vec<Counted<String>>) {
    let mut written = Vec::new();
    let mut tags = Vec::new();
    for c in causes {
        match history_tag(&c.value) {
            Some(id) => tags.push(Counted {
                value: id.to_string(),
                count: c.count,
            }),
            None => written.push(c.clone()),
        }
    }
    (written, tags)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(value: &str, count: u64) -> Counted<String> {
        Counted {
            value: value.to_string(),
            count,
        }
    }

    #[test]
    fn groups_near_identical_text_and_keeps_identifiers() {
        let got = group_texts(&[
            c("Pattern: PATTERN_005", 9),
            c("pattern PATTERN_005.", 1),
            c("Pattern: PATTERN_006", 4),
            c("RabbitMQ停止", 2),
            c("RabbitMQ 停止。", 1),
            c("  ", 3),
        ]);
        assert_eq!(
            got,
            vec![
                c("Pattern: PATTERN_005", 10),
                c("Pattern: PATTERN_006", 4),
                c("RabbitMQ停止", 3),
            ]
        );
        assert_ne!(key("restart v1.2"), key("restart v12"));
    }

    #[test]
    fn history_pattern_ids_are_told_from_causes() {
        let (written, tags) = split_history_tags(&[
            c("Pattern: PATTERN_005", 9),
            c("RabbitMQ停止", 3),
            c("Pattern: the disk filled up", 1),
        ]);
        assert_eq!(tags, vec![c("PATTERN_005", 9)]);
        assert_eq!(
            written,
            vec![c("RabbitMQ停止", 3), c("Pattern: the disk filled up", 1)]
        );
    }
}
