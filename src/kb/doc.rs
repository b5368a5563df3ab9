//! Reading the knowledge-base markdown into what the updater needs: the hand-written
//! entries, the tool's own blocks, and where new text may be inserted.
//!
//! Everything outside a well-formed generated block is a person's text; the updater only
//! replaces block ranges and inserts at line boundaries, so those bytes survive as they are.

use std::collections::BTreeSet;
use std::sync::LazyLock;

use regex::Regex;

static OPEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^<!--\s*incident:(pattern|enrich)\s+(\S+)\s*-->$").expect("static regex")
});
static CLOSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^<!--\s*/incident:(pattern|enrich)\s*-->$").expect("static regex")
});
static PIN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^<!--\s*incident:match\s+(\S+)\s*-->$").expect("static regex"));
static HEADING: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(#{1,6})(?:\s|$)").expect("static regex"));
static ENTRY_HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^#{1,6}\s+INCIDENT_(\d+)\s*[:：]?\s*(.*?)\s*#*\s*$").expect("static regex")
});
static SYMPTOM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*(?:[-*+]\s+)?\**症状\**\s*[:：]\s*\**\s*(.*)$").expect("static regex")
});

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BlockKind {
    /// A whole entry the tool wrote.
    Entry,
    /// Figures the tool added under a person's entry.
    Enrich,
}

/// A generated block: the marker lines and everything between them.
#[derive(Debug)]
pub(super) struct Block {
    pub(super) kind: BlockKind,
    pub(super) pattern_id: String,
    /// Byte range, from the open marker's first byte to the end of the close marker line.
    pub(super) start: usize,
    pub(super) end: usize,
    /// The `INCIDENT_NNN` number of an entry block.
    pub(super) number: Option<u32>,
    /// The title in an entry block's heading.
    pub(super) title: String,
}

/// An entry a person wrote: an `INCIDENT_NNN` heading outside any generated block.
#[derive(Debug)]
pub(super) struct HandEntry {
    /// Byte offset of the heading line.
    pub(super) start: usize,
    pub(super) number: u32,
    pub(super) title: String,
    pub(super) symptom: String,
    /// Every line of the entry outside generated blocks, for finding the error types it
    /// names.
    pub(super) body: String,
    /// Pattern ids pinned with `<!-- incident:match ID -->`.
    pub(super) pins: Vec<String>,
    /// Indexes into [`Doc::blocks`] of the enrich blocks inside the entry.
    pub(super) enrich: Vec<usize>,
    /// Where new enrich blocks go: after the entry's last non-blank line.
    pub(super) insert_at: usize,
}

#[derive(Debug)]
pub(super) struct Doc {
    pub(super) blocks: Vec<Block>,
    pub(super) entries: Vec<HandEntry>,
    /// Every `INCIDENT_NNN` number in use, by people or the tool.
    pub(super) numbers: BTreeSet<u32>,
    /// Where new entries go: after the last entry of either kind, else the end.
    pub(super) append_at: usize,
    pub(super) crlf: bool,
    pub(super) warnings: Vec<String>,
}

struct Line<'a> {
    start: usize,
    end: usize,
    text: &'a str,
}

fn lines(src: &str) -> Vec<Line<'_>> {
    let mut out = Vec::new();
    let mut start = 0;
    for raw in src.split_inclusive('\n') {
        let end = start + raw.len();
        let text = raw.trim_end_matches('\n').trim_end_matches('\r');
        out.push(Line { start, end, text });
        start = end;
    }
    out
}

/// Tracks fenced code blocks, inside which nothing is a marker or a heading.
#[derive(Default)]
struct Fence {
    open: Option<(char, usize)>,
}

impl Fence {
    /// Whether `line` is code (including the fence lines themselves).
    fn is_code(&mut self, line: &str) -> bool {
        let t = line.trim_start();
        let indent = line.len() - t.len();
        let run = |c: char| t.chars().take_while(|&x| x == c).count();
        match self.open {
            Some((c, n)) => {
                if indent < 4 && run(c) >= n && t.trim_start_matches(c).trim().is_empty() {
                    self.open = None;
                }
                true
            }
            None => {
                for c in ['`', '~'] {
                    let n = run(c);
                    if indent < 4 && n >= 3 {
                        self.open = Some((c, n));
                        return true;
                    }
                }
                false
            }
        }
    }
}

pub(super) fn parse(src: &str) -> Doc {
    let lines = lines(src);
    let mut doc = Doc {
        blocks: Vec::new(),
        entries: Vec::new(),
        numbers: BTreeSet::new(),
        append_at: src.len(),
        crlf: src
            .split_inclusive('\n')
            .next()
            .is_some_and(|l| l.ends_with("\r\n")),
        warnings: Vec::new(),
    };
    let mut fence = Fence::default();
    let mut current: Option<usize> = None;
    let mut last_entry_end: Option<usize> = None;
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        if fence.is_code(line.text) {
            if let Some(e) = current {
                doc.entries[e].insert_at = line.end;
            }
            i += 1;
            continue;
        }
        let trimmed = line.text.trim();
        if let Some(open) = OPEN.captures(trimmed) {
            let kind = if &open[1] == "pattern" {
                BlockKind::Entry
            } else {
                BlockKind::Enrich
            };
            match find_close(&lines, i, &open[1]) {
                Some(j) => {
                    let heading = lines[i + 1..j]
                        .iter()
                        .find_map(|l| ENTRY_HEADING.captures(l.text));
                    let number = heading.as_ref().and_then(|c| c[1].parse::<u32>().ok());
                    let block = Block {
                        kind,
                        pattern_id: open[2].to_string(),
                        start: line.start,
                        end: lines[j].end,
                        number,
                        title: heading.map(|c| c[2].to_string()).unwrap_or_default(),
                    };
                    if let Some(n) = number {
                        doc.numbers.insert(n);
                    }
                    match (kind, current) {
                        (BlockKind::Entry, _) => {
                            current = None;
                            last_entry_end = Some(block.end);
                        }
                        (BlockKind::Enrich, Some(e)) => {
                            doc.entries[e].enrich.push(doc.blocks.len());
                            doc.entries[e].insert_at = block.end;
                        }
                        (BlockKind::Enrich, None) => {}
                    }
                    doc.blocks.push(block);
                    i = j + 1;
                    continue;
                }
                None => doc.warnings.push(format!(
                    "line {}: `{}` has no closing `<!-- /incident:{} -->`; left as written",
                    i + 1,
                    trimmed,
                    &open[1]
                )),
            }
        }
        if let Some(h) = HEADING.captures(line.text) {
            let entry = ENTRY_HEADING.captures(line.text);
            if (h[1].len() <= 3 || entry.is_some())
                && let Some(e) = current.take()
            {
                last_entry_end = Some(doc.entries[e].insert_at);
            }
            if let Some(c) = entry {
                match c[1].parse::<u32>() {
                    Ok(number) => {
                        doc.numbers.insert(number);
                        current = Some(doc.entries.len());
                        doc.entries.push(HandEntry {
                            start: line.start,
                            number,
                            title: c[2].to_string(),
                            symptom: String::new(),
                            body: String::new(),
                            pins: Vec::new(),
                            enrich: Vec::new(),
                            insert_at: line.end,
                        });
                    }
                    Err(_) => doc
                        .warnings
                        .push(format!("line {}: entry number out of range", i + 1)),
                }
                i += 1;
                continue;
            }
        }
        if let Some(e) = current {
            let entry = &mut doc.entries[e];
            if let Some(pin) = PIN.captures(trimmed) {
                entry.pins.push(pin[1].to_string());
            } else {
                entry.body.push_str(trimmed);
                entry.body.push('\n');
            }
            if entry.symptom.is_empty()
                && let Some(s) = SYMPTOM.captures(line.text)
            {
                entry.symptom = s[1].to_string();
            }
            if !trimmed.is_empty() {
                entry.insert_at = line.end;
            }
        }
        i += 1;
    }
    if let Some(e) = current {
        last_entry_end = Some(doc.entries[e].insert_at);
    }
    if let Some(end) = last_entry_end {
        doc.append_at = end;
    }
    doc
}

/// The close marker matching the open marker at `open`, if one comes before any other
/// open marker.
fn find_close(lines: &[Line<'_>], open: usize, kind: &str) -> Option<usize> {
    for (j, line) in lines.iter().enumerate().skip(open + 1) {
        let t = line.text.trim();
        if let Some(c) = CLOSE.captures(t) {
            return (&c[1] == kind).then_some(j);
        }
        if OPEN.is_match(t) {
            return None;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "# KB\n\n## 既知のパターン\n\n### INCIDENT_002: RabbitMQ接続断\n- **症状**: Connection refused\n<!-- incident:match P00000001 -->\n\n<!-- incident:enrich P00000002 -->\n- x\n<!-- /incident:enrich -->\n\n```\n### INCIDENT_099: in code\n<!-- incident:pattern P9 -->\n```\n\n<!-- incident:pattern P00000003 -->\n### INCIDENT_007: gen\n<!-- /incident:pattern -->\n\n## 付録\n";

    #[test]
    fn finds_entries_blocks_pins_and_numbers() {
        let doc = parse(DOC);
        assert_eq!(doc.entries.len(), 1);
        let e = &doc.entries[0];
        assert_eq!((e.number, e.title.as_str()), (2, "RabbitMQ接続断"));
        assert_eq!(e.symptom, "Connection refused");
        assert_eq!(e.pins, ["P00000001"]);
        assert_eq!(e.enrich, [0]);
        assert_eq!(&DOC[e.insert_at - 4..e.insert_at], "```\n");
        assert_eq!(doc.blocks.len(), 2);
        assert_eq!(doc.blocks[1].number, Some(7));
        assert_eq!(doc.numbers.iter().copied().collect::<Vec<_>>(), [2, 7]);
        assert_eq!(&DOC[doc.append_at..], "\n## 付録\n");
        assert!(doc.warnings.is_empty(), "{:?}", doc.warnings);
    }

    #[test]
    fn unclosed_marker_is_text() {
        let src = "### INCIDENT_001: a\n<!-- incident:pattern P1 -->\nmore\n";
        let doc = parse(src);
        assert!(doc.blocks.is_empty());
        assert_eq!(doc.warnings.len(), 1);
        assert_eq!(doc.append_at, src.len());
    }
}
