//! Matching a mined pattern to a hand-written entry by keyword overlap.
//!
//! Text is split at script boundaries (Latin/digits, Han, Katakana, Hiragana), so
//! `RabbitMQ接続断` gives `rabbitmq` and `接続断`. Han runs also give their character
//! bigrams (`接続`, `続断`) because Japanese compounds rarely repeat whole. Hiragana runs
//! are mostly particles and are dropped; so are digits, stop words and `<*>`.
//!
//! The score is the share of the pattern's keywords found in the entry. Camel-case parts
//! (`ModuleNotFoundError` → `module`, `found`) are added on the entry side only, so they
//! can produce hits without inflating the number of pattern keywords.

use std::collections::BTreeSet;

use crate::model::Pattern;
use crate::text::{Script, cjk_script};

#[rustfmt::skip]
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "in", "into", "is", "it",
    "of", "on", "or", "the", "to", "was", "were", "with", "error", "errors", "exception",
    "failed", "failure", "issue", "problem", "no", "not",
];

/// The kind of run a character belongs to when text is split into keywords.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Run {
    Latin,
    Han,
    Katakana,
    Hiragana,
    Other,
}

fn run_kind(c: char) -> Run {
    match cjk_script(c) {
        Some(Script::Han) => Run::Han,
        Some(Script::Katakana) => Run::Katakana,
        Some(Script::Hiragana) => Run::Hiragana,
        // Korean separates its words with spaces, as Latin scripts do.
        Some(Script::Hangul) => Run::Latin,
        None if c.is_alphanumeric() => Run::Latin,
        None => Run::Other,
    }
}

/// Full-width ASCII (`ＲａｂｂｉｔＭＱ`) as ASCII.
fn narrow(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

/// The keyword set of an entry's text (camel-case parts included).
pub(super) fn tokens(text: &str) -> BTreeSet<String> {
    tokenize(text, true)
}

fn tokenize(text: &str, camel: bool) -> BTreeSet<String> {
    let text = text.replace("<*>", " ");
    let mut out = BTreeSet::new();
    let mut run = String::new();
    let mut kind = Run::Other;
    for c in text.chars().map(narrow).chain(std::iter::once(' ')) {
        let k = run_kind(c);
        if k != kind || k == Run::Other {
            flush(&run, kind, camel, &mut out);
            run.clear();
            kind = k;
        }
        if k != Run::Other {
            run.push(c);
        }
    }
    out
}

fn flush(run: &str, kind: Run, camel: bool, out: &mut BTreeSet<String>) {
    match kind {
        Run::Latin => {
            let parts = if camel { camel_parts(run) } else { vec![run] };
            for part in parts {
                let lower = part.to_lowercase();
                let keep = lower.chars().count() >= 2
                    && !lower.chars().all(|c| c.is_ascii_digit())
                    && !STOP_WORDS.contains(&lower.as_str());
                if keep {
                    out.insert(lower);
                }
            }
        }
        Run::Han => {
            let chars: Vec<char> = run.chars().collect();
            if chars.len() >= 2 {
                out.insert(run.to_string());
                if chars.len() > 2 {
                    for pair in chars.windows(2) {
                        out.insert(pair.iter().collect());
                    }
                }
            }
        }
        Run::Katakana => {
            if run.chars().count() >= 2 {
                out.insert(run.to_string());
            }
        }
        Run::Hiragana | Run::Other => {}
    }
}

/// The whole word, and its camel-case parts when there are at least three
/// (`ModuleNotFoundError` → itself, `Module`, `Not`, `Found`, `Error`); two-part names
/// such as `RabbitMQ` stay whole so that they match their lower-case spelling.
fn camel_parts(word: &str) -> Vec<&str> {
    let mut parts = vec![word];
    let mut starts = vec![0];
    let bytes: Vec<(usize, char)> = word.char_indices().collect();
    for w in bytes.windows(2) {
        let ((_, a), (i, b)) = (w[0], w[1]);
        if a.is_lowercase() && b.is_uppercase() {
            starts.push(i);
        }
    }
    if starts.len() > 2 {
        starts.push(word.len());
        parts.extend(starts.windows(2).map(|w| &word[w[0]..w[1]]));
    }
    parts
}

/// What a hand-written entry is matched by.
pub(super) struct HandKeys {
    /// Keywords of the title and symptom.
    pub(super) tokens: BTreeSet<String>,
    /// Keywords of the title.
    pub(super) title: BTreeSet<String>,
    /// Error types named in the title or symptom, and anywhere in the entry.
    types_head: BTreeSet<String>,
    types_body: BTreeSet<String>,
}

/// Error type names in `text`, each also by its last dotted part
/// (`psycopg2.OperationalError` gives `OperationalError` too).
fn type_names(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for w in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.')) {
        let w = w.trim_matches('.');
        if crate::patterns::naming::is_error_type(w) {
            out.insert(w.to_string());
            if let Some(last) = w.rsplit('.').next() {
                out.insert(last.to_string());
            }
        }
    }
    out
}

impl HandKeys {
    pub(super) fn new(title: &str, symptom: &str, body: &str) -> Self {
        let head = format!("{title} {symptom}");
        Self {
            tokens: tokens(&head),
            title: tokens(title),
            types_head: type_names(&head),
            types_body: type_names(body),
        }
    }

    /// 2 when the title or symptom names one of `types`, 1 when the entry does elsewhere.
    /// Generic types (`Exception`, `Error`) never count.
    pub(super) fn names_type(&self, types: &[&str]) -> Option<u8> {
        let names = type_names(&types.join(" "));
        let specific = |t: &&String| !matches!(t.as_str(), "Exception" | "Error" | "Warning");
        if names.intersection(&self.types_head).any(|t| specific(&t)) {
            Some(2)
        } else if names.intersection(&self.types_body).any(|t| specific(&t)) {
            Some(1)
        } else {
            None
        }
    }
}

/// The keywords of a pattern: its template, name and main component. Only the most
/// frequent component counts: a pattern seen on many components would otherwise bury its
/// own words under component names and match nothing.
pub(super) fn pattern_tokens(p: &Pattern) -> BTreeSet<String> {
    let mut text = format!("{} {}", p.template, p.name);
    if let Some(c) = p.components.first() {
        text.push(' ');
        text.push_str(&c.value);
    }
    tokenize(&text, false)
}

/// Equal, or two Latin words of five or more letters where one extends the other by at
/// most three (`connect`/`connection`, `notification`/`notifications`).
fn same_word(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.len() >= 5
        && long.len() - short.len() <= 3
        && short.is_ascii()
        && long.is_ascii()
        && long.starts_with(short)
}

/// How many of the pattern's keywords the entry has, and that as a share of them.
pub(super) fn score(entry: &BTreeSet<String>, pattern: &BTreeSet<String>) -> (usize, f64) {
    if pattern.is_empty() {
        return (0, 0.0);
    }
    let hits = pattern
        .iter()
        .filter(|t| entry.iter().any(|e| same_word(e, t)))
        .count();
    (hits, hits as f64 / pattern.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(words: &[&str]) -> BTreeSet<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn splits_at_script_boundaries() {
        assert_eq!(
            tokens("RabbitMQ接続断"),
            set(&["rabbitmq", "接続断", "接続", "続断"])
        );
        assert_eq!(
            tokens("ワーカーの起動に失敗"),
            set(&["ワーカー", "起動", "失敗"])
        );
        assert_eq!(
            tokens("ModuleNotFoundError: No module named <*> (42)"),
            set(&["modulenotfounderror", "module", "found", "named"])
        );
        assert_eq!(tokens("ＳＬＡＣＫ通知"), set(&["slack", "通知"]));
    }

    #[test]
    fn scores_by_share_of_pattern_words() {
        let entry = tokens("RabbitMQ接続断 Connection refused to RabbitMQ");
        let pat = tokens("Connection refused to rabbitmq at <*> worker");
        assert_eq!(score(&entry, &pat), (3, 0.75));
        assert!(same_word("connect", "connection"));
        assert!(!same_word("conn", "connection"));
    }
}
