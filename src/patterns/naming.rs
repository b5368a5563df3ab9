//! Reading a mined template: its tokens, its error type, and a title with each `<*>`
//! shown as a named slot (`HTTP <status> from <host> after <n> retries`).
//!
//! A title is the template with slots named, never the template with slots deleted: words
//! that sit together in a title sit together in every message of the pattern.

use crate::text::{Script, cjk_script, display_width, is_cjk};

/// A pattern's readable name: the entry title (slots named, words only as they stand in
/// the messages), led by the error type when the title does not already name it.
pub fn pattern_name(template: &str) -> String {
    let title = self::title(template);
    match error_type(template) {
        Some(ty) if !title.contains(ty) => format!("{ty}: {title}"),
        _ => title,
    }
}

/// A template token. Spaces are kept so that a token list prints back as its template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Tok {
    Var,
    Space,
    Text(String),
}

/// The separator `incident_text` puts between an incident's title and its description.
const DESCRIPTION_SEP: &str = " — ";

/// Longest title, in display columns.
const MAX_TITLE_WIDTH: usize = 80;

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_.-/#@".contains(c) || (c.is_alphanumeric() && !is_cjk(c))
}

/// Splits a template into slots, word runs (identifiers and paths stay whole), runs of
/// Japanese text, single punctuation characters and single spaces.
pub(crate) fn lex(template: &str) -> Vec<Tok> {
    let mut out: Vec<Tok> = Vec::new();
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        if let Some(r) = rest.strip_prefix("<*>") {
            if out.last() != Some(&Tok::Var) {
                out.push(Tok::Var);
            }
            rest = r;
            continue;
        }
        let run = |pred: &dyn Fn(char) -> bool| {
            rest.char_indices()
                .find(|&(_, c)| !pred(c))
                .map_or(rest.len(), |(i, _)| i)
        };
        let len = if c.is_whitespace() {
            run(&|c| c.is_whitespace())
        } else if is_word_char(c) {
            // A word stops before a slot glued to it (`10.0.0.<*>`).
            run(&|c| is_word_char(c)).min(rest.find("<*>").unwrap_or(usize::MAX))
        } else if is_cjk(c) {
            run(&is_cjk).min(rest.find("<*>").unwrap_or(usize::MAX))
        } else {
            c.len_utf8()
        };
        let (head, tail) = rest.split_at(len.max(c.len_utf8()));
        if c.is_whitespace() {
            out.push(Tok::Space);
        } else {
            out.push(Tok::Text(head.to_string()));
        }
        rest = tail;
    }
    out
}

/// The template a token list stands for.
pub(crate) fn unlex(toks: &[Tok]) -> String {
    let mut s = String::new();
    for t in toks {
        match t {
            Tok::Var => s.push_str("<*>"),
            Tok::Space => s.push(' '),
            Tok::Text(t) => s.push_str(t),
        }
    }
    s
}

/// `ValueError`, `psycopg2.OperationalError`, `requests.exceptions.HTTPError`.
pub(crate) fn is_error_type(word: &str) -> bool {
    let last = word.rsplit('.').next().unwrap_or(word);
    word.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
        && last.starts_with(|c: char| c.is_ascii_uppercase())
        && [
            "Error",
            "Exception",
            "Warning",
            "Exit",
            "Interrupt",
            "Fault",
        ]
        .iter()
        .any(|s| last.ends_with(s))
}

fn is_error_type_tok(t: &Tok) -> bool {
    matches!(t, Tok::Text(w) if is_error_type(w))
}

/// True for the error-type position of a migrated error's text (`Type in <file> — …`)
/// or a word that reads as an error type anywhere.
pub(crate) fn is_type_at(toks: &[Tok], i: usize) -> bool {
    let migrated =
        i == 0 && toks.get(1) == Some(&Tok::Space) && toks.get(2) == Some(&Tok::Text("in".into()));
    migrated || toks.get(i).is_some_and(is_error_type_tok)
}

/// `(type, file, message)` of a migrated error's text: `Type in file — message`.
fn split_migrated(template: &str) -> Option<(&str, &str, Option<&str>)> {
    let (title, message) = match template.split_once(DESCRIPTION_SEP) {
        Some((t, m)) => (t, Some(m)),
        None => (template, None),
    };
    let (ty, file) = title.split_once(" in ")?;
    let plain = |s: &str| !s.is_empty() && !s.contains(char::is_whitespace);
    (plain(ty) && plain(file)).then_some((ty, file, message))
}

/// The error type a template names, if any (never a slot).
pub(crate) fn error_type(template: &str) -> Option<&str> {
    if let Some((ty, _, _)) = split_migrated(template) {
        return (ty != "<*>").then_some(ty);
    }
    template
        .split(|c: char| c.is_whitespace() || "():,;'\"[]".contains(c))
        .find(|w| is_error_type(w))
}

#[rustfmt::skip]
const UNITS: &[&str] = &[
    "s", "ms", "sec", "secs", "seconds", "second", "min", "mins", "minutes", "h", "hours",
    "retries", "retry", "times", "attempts", "tries", "bytes", "KB", "kB", "MB", "MiB", "GB",
    "GiB", "%", "％", "x", "items", "rows", "records", "clients", "connections",
];
const CJK_UNITS: &[&str] = &["秒", "分", "時間", "日", "件", "回", "個", "行", "％", "%"];

/// A name for a slot from its neighbours: the unit after it, the key before it, or the
/// noun it follows; `…` when nothing says what it holds.
fn slot_name(toks: &[Tok], i: usize) -> String {
    let next = match toks[i + 1..].iter().find(|t| !matches!(t, Tok::Space)) {
        Some(Tok::Text(s)) => Some(s.as_str()),
        _ => None,
    };
    let next_word = next.map(|w| w.trim_end_matches(['.', ',', ':', ';', ')']));
    // A migrated error's `Type in file`.
    if is_type_at(toks, 0) && toks.get(2) == Some(&Tok::Text("in".into())) {
        match i {
            0 => return "type".into(),
            4 => return "file".into(),
            _ => {}
        }
    }
    if let Some(n) = next
        && (next_word.is_some_and(|w| UNITS.contains(&w))
            || CJK_UNITS.iter().any(|u| n.starts_with(u)))
    {
        return "n".into();
    }
    // Neighbours before the slot, nearest first, spaces skipped.
    let before: Vec<&str> = toks[..i]
        .iter()
        .rev()
        .filter_map(|t| match t {
            Tok::Text(s) => Some(s.as_str()),
            Tok::Var => Some("<*>"),
            Tok::Space => None,
        })
        .take(3)
        .collect();
    let glued = matches!(toks[..i].last(), Some(Tok::Text(_)));
    let key = |w: &str| -> Option<String> {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric() && c != '_');
        // A Japanese key is a noun (`チャンネル`), not the tail of a sentence (`を超えました`).
        let ok = !w.is_empty()
            && !w.starts_with(|c: char| cjk_script(c) == Some(Script::Hiragana))
            && w.chars().count() <= 24
            && !w.chars().all(|c| c.is_ascii_digit())
            && w != "<*>";
        ok.then(|| {
            if w.is_ascii() {
                w.to_lowercase()
            } else {
                w.to_string()
            }
        })
    };
    let noun = |w: &str| -> Option<&'static str> {
        let w = w
            .trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase();
        Some(match w.as_str() {
            "user" | "username" | "ユーザー" => "user",
            "table" | "テーブル" => "table",
            "channel" | "チャンネル" => "channel",
            "queue" | "キュー" => "queue",
            "host" | "server" | "ホスト" => "host",
            "port" => "port",
            "http" | "status" | "code" | "ステータス" => "status",
            "file" | "path" | "ファイル" => "path",
            "module" | "named" => "module",
            "attribute" => "attribute",
            "key" => "key",
            "column" => "column",
            "database" | "db" => "database",
            "process" | "pid" => "pid",
            "transaction" => "transaction",
            "url" => "url",
            "from" | "to" | "at" => "host",
            "version" => "version",
            _ => return None,
        })
    };
    match before.as_slice() {
        // `10.0.0.<*>`, `v<*>`: the tail of a number or name.
        [p, ..] if glued && p.ends_with(|c: char| c.is_ascii_digit() || c == '.') => "n".into(),
        ["=" | ":" | "：", k, ..] if key_stands_alone(toks, i) => {
            key(k).unwrap_or_else(|| "…".into())
        }
        ["=" | ":" | "：", ..] => "…".into(),
        // `from '<*>'` quotes a module or name, not an address.
        ["'" | "\"" | "(" | "#", "from", ..] => "…".into(),
        ["'" | "\"" | "(" | "#", w, ..] => noun(w).map_or_else(|| "…".into(), str::to_string),
        [w, ..] => noun(w).map_or_else(|| "…".into(), str::to_string),
        [] => "…".into(),
    }
}

/// For `key: <*>` / `key=<*>` before slot `i`: the key is a word of its own (`(PID: `,
/// `, url: `), not the tail of a longer name (`RabbitMQ接続エラー: ` names an error).
fn key_stands_alone(toks: &[Tok], i: usize) -> bool {
    let mut j = i;
    // Back over spaces and the separator to the key.
    while j > 0 && matches!(toks[j - 1], Tok::Space) {
        j -= 1;
    }
    j = j.saturating_sub(1);
    while j > 0 && matches!(toks[j - 1], Tok::Space) {
        j -= 1;
    }
    let Some(k) = j.checked_sub(1) else {
        return false;
    };
    !matches!(toks.get(k.wrapping_sub(1)), Some(Tok::Text(w)) if w.chars().any(char::is_alphanumeric))
}

/// `text` with every slot shown by name (`<status>`, `<n>`, `<…>`).
pub(crate) fn named(text: &str) -> String {
    let toks = lex(text);
    let mut s = String::new();
    for (i, t) in toks.iter().enumerate() {
        match t {
            Tok::Var => {
                s.push('<');
                s.push_str(&slot_name(&toks, i));
                s.push('>');
            }
            Tok::Space => s.push(' '),
            Tok::Text(t) => s.push_str(t),
        }
    }
    s
}

/// A title no wider than [`MAX_TITLE_WIDTH`]: the text, else its shortest-dropped tail
/// after a `: ` (a long message's last clause says what failed:
/// `FATAL: password authentication failed for user "<user>"`), else its head cut at a
/// token boundary. Either way the words shown are contiguous in the text.
fn shorten(text: &str) -> String {
    if display_width(text) <= MAX_TITLE_WIDTH {
        return text.to_string();
    }
    let tail = text
        .match_indices(": ")
        .map(|(i, _)| text[i + 2..].trim())
        .find(|t| display_width(t) <= MAX_TITLE_WIDTH && t.split_whitespace().count() >= 3);
    if let Some(t) = tail {
        return t.to_string();
    }
    let mut out = String::new();
    for t in lex(text) {
        let piece = match &t {
            Tok::Var => "<*>".to_string(),
            Tok::Space => " ".to_string(),
            Tok::Text(s) => s.clone(),
        };
        if display_width(&out) + display_width(&piece) > MAX_TITLE_WIDTH - 2 {
            break;
        }
        out.push_str(&piece);
    }
    format!("{} …", out.trim_end())
}

/// A title for an entry: for a migrated error the message with its slots named (the error
/// type is listed in the entry; a bare slot message gets it as a prefix), else the whole
/// template with slots named.
pub(crate) fn title(template: &str) -> String {
    let text = match split_migrated(template) {
        Some((ty, _, Some(msg))) => {
            let has_word = lex(msg)
                .iter()
                .any(|t| matches!(t, Tok::Text(w) if w.chars().any(char::is_alphabetic)));
            let msg = named(msg.trim());
            if has_word {
                msg
            } else {
                let ty = if ty == "<*>" { "<type>" } else { ty };
                format!("{ty}: {msg}")
            }
        }
        Some((ty, _, None)) if ty != "<*>" => ty.to_string(),
        _ => match glued_message(template) {
            Some(rest) => named(&format!("<*> {rest}")),
            None => named(template),
        },
    };
    shorten(&text)
}

/// The message of a migrated error's text whose file slot swallowed the separator and the
/// message's first words (`Type in <*> Server Error for url: <*>`): what follows the slot.
/// `in` is the migration's word, not the message's, so it never reaches a title.
fn glued_message(template: &str) -> Option<&str> {
    if template.contains(DESCRIPTION_SEP) {
        return None;
    }
    let (ty, rest) = template.split_once(" in <*> ")?;
    let typed = ty == "<*>" || is_error_type(ty) || !ty.contains(char::is_whitespace);
    (typed && !rest.trim().is_empty()).then_some(rest.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexes_identifiers_whole_and_round_trips() {
        let t = "psycopg2.OperationalError in libs/db.py — Timeout reading from 10.0.2.<*>:6379 after <*>s";
        let toks = lex(t);
        assert_eq!(unlex(&toks), t);
        assert_eq!(toks[0], Tok::Text("psycopg2.OperationalError".into()));
        assert!(toks.contains(&Tok::Text("10.0.2.".into())));
        assert_eq!(lex("ディスク使用率<*>%").len(), 3);
    }

    #[test]
    fn titles_show_slots_by_name() {
        assert_eq!(
            title("HTTPError in <*> — HTTP <*> from <*> after <*> retries"),
            "HTTP <status> from <host> after <n> retries"
        );
        assert_eq!(title("KeyError in <*> — '<*>'"), "KeyError: '<…>'");
        assert_eq!(
            title("DiskError in a.py — ディスク使用率が<*>%を超えました"),
            "ディスク使用率が<n>%を超えました"
        );
        assert_eq!(
            title("Slack通知に失敗しました (チャンネル: <*>, ステータス: 429)"),
            "Slack通知に失敗しました (チャンネル: <チャンネル>, ステータス: 429)"
        );
        assert_eq!(
            title("TypeError in <*> — unsupported operand type(s) for +: <*> and <*>"),
            "unsupported operand type(s) for +: <…> and <…>"
        );
        assert_eq!(title("ConfigLoadError in <*>"), "ConfigLoadError");
        assert_eq!(
            title("requests.exceptions.HTTPError in <*> Server Error for url: <*>"),
            "<…> Server Error for url: <url>"
        );
        assert_eq!(
            named("message_id=<*> の処理"),
            "message_id=<message_id> の処理"
        );
        let long = format!("Error in x.py — {}", "word ".repeat(40));
        assert!(title(&long).ends_with("word …"));
        assert_eq!(
            title(
                "<*> in <*> — connection to server at \"<*>\", port <*> failed: FATAL:  password authentication failed for user \"<*>\""
            ),
            "FATAL: password authentication failed for user \"<user>\""
        );
    }

    #[test]
    fn finds_error_types() {
        assert_eq!(
            error_type("psycopg2.OperationalError in <*> — x"),
            Some("psycopg2.OperationalError")
        );
        assert_eq!(
            error_type("psycopg2.errors.DeadlockDetected in db.py — x"),
            Some("psycopg2.errors.DeadlockDetected")
        );
        assert_eq!(error_type("<*> in <*> — x"), None);
        assert_eq!(
            error_type("Worker died (MemoryError) on host"),
            Some("MemoryError")
        );
    }

    #[test]
    fn names_read_well() {
        // Words only as they stand next to each other in the messages, slots named.
        assert_eq!(
            pattern_name("ConnectionRefusedError in <*> — [Errno <*>] Connection refused to <*>"),
            "ConnectionRefusedError: [Errno <…>] Connection refused to <host>"
        );
        assert_eq!(
            pattern_name("RabbitMQ接続エラー: <*> への接続が<*>秒でタイムアウトしました"),
            "RabbitMQ接続エラー: <…> への接続が<n>秒でタイムアウトしました"
        );
        assert_eq!(
            pattern_name(
                "psycopg2.OperationalError in <*> — FATAL: password authentication failed for user \"<*>\""
            ),
            "psycopg2.OperationalError: FATAL: password authentication failed for user \"<user>\""
        );
    }
}
