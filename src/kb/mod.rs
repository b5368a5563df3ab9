//! The knowledge base `kb/INCIDENT_PATTERNS_KB.md`: suggesting entries for mined patterns
//! and updating the file without touching what people wrote.
//!
//! The tool owns only the text between its markers: `<!-- incident:pattern ID -->` …
//! `<!-- /incident:pattern -->` (an entry it wrote) and `<!-- incident:enrich ID -->` …
//! `<!-- /incident:enrich -->` (figures under a person's entry). Those blocks are rewritten
//! from the current patterns; every other byte is kept, and new blocks are inserted at line
//! boundaries. A block, once placed, stays where it is, so a second run changes nothing.

pub mod autofix;
mod doc;
mod error;
mod group;
mod matching;
mod render;

pub(crate) use error::KbError;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::manager::IncidentManager;
use crate::model::{Counted, Pattern};
use crate::patterns::naming;
use autofix::{AutofixOptions, ScriptPlan, valid_pattern_id};

use doc::BlockKind;

/// The file name inside the knowledge-base directory.
pub const KB_FILE_NAME: &str = "INCIDENT_PATTERNS_KB.md";

/// The sub-directory of the knowledge-base directory that holds auto-fix scripts.
pub const AUTO_FIX_DIR: &str = "auto_fix";

/// The shipped knowledge base, used when the directory has none yet.
pub const KB_TEMPLATE: &str = include_str!("../../kb/INCIDENT_PATTERNS_KB.md");

/// Which patterns get entries and how much of each is shown.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KbOptions {
    /// Patterns seen fewer times get no new entry or enrichment (a pin still applies).
    pub min_count: u64,
    /// Share of a pattern's keywords an entry must contain to be enriched instead of
    /// getting a new entry.
    pub match_threshold: f64,
    /// Keywords that must be shared, whatever the share.
    pub min_shared_keywords: usize,
    /// Incident ids listed under 関連インシデント.
    pub max_related: usize,
    /// Actions, measures and components listed.
    pub max_listed: usize,
}

impl Default for KbOptions {
    fn default() -> Self {
        Self {
            min_count: 3,
            match_threshold: 0.5,
            min_shared_keywords: 2,
            max_related: 5,
            max_listed: 5,
        }
    }
}

/// One entry the update adds or changes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KbChange {
    /// `INCIDENT_NNN` of the entry (for enrichment: the person's entry, if any).
    pub entry: Option<String>,
    pub title: String,
    pub pattern_id: String,
}

/// The result of [`suggest`]: the new text and what changed in it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KbUpdate {
    pub new_text: String,
    /// New entries for patterns no entry covered.
    pub added: Vec<KbChange>,
    /// Entries the tool wrote earlier whose figures changed.
    pub updated: Vec<KbChange>,
    /// Hand-written entries that got a new or changed block of figures.
    pub enriched: Vec<KbChange>,
    /// Blocks an earlier run wrote for a pattern that is now part of another entry's
    /// problem; they are removed.
    pub removed: Vec<KbChange>,
    /// Problems found in the existing text (all left as they were).
    pub warnings: Vec<String>,
}

impl KbUpdate {
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty()
            && self.updated.is_empty()
            && self.enriched.is_empty()
            && self.removed.is_empty()
    }
}

struct Edit {
    start: usize,
    end: usize,
    order: usize,
    text: String,
}

/// Error types of the incidents behind a pattern, by pattern id, for patterns whose
/// template does not name its type (the miner made it a slot).
pub type ErrorTypes = BTreeMap<String, Vec<Counted<String>>>;

/// [`ErrorTypes`] for `patterns`, read from up to `limit` newest members of each pattern
/// whose template has no error type. A migrated error's title is `Type in file`.
pub fn masked_error_types(
    manager: &IncidentManager,
    patterns: &[Pattern],
    limit: usize,
) -> crate::Result<ErrorTypes> {
    let mut out = ErrorTypes::new();
    for p in patterns {
        if naming::error_type(&p.template).is_some() {
            continue;
        }
        let mut types: BTreeMap<String, u64> = BTreeMap::new();
        for inc in manager.pattern_members(&p.id, limit)? {
            let text = crate::patterns::incident_text(&inc);
            let ty = match naming::error_type(&text) {
                Some(t) => Some(t.to_string()),
                None => inc.title.split_once(" in ").map(|(t, _)| t.to_string()),
            };
            if let Some(t) = ty.filter(|t| naming::is_error_type(t) || !t.contains(' ')) {
                *types.entry(t).or_insert(0) += 1;
            }
        }
        if !types.is_empty() {
            out.insert(p.id.clone(), group::counted(types));
        }
    }
    Ok(out)
}

/// The patterns with a valid, unique id, and warnings for the others.
fn valid_patterns<'p>(patterns: &'p [Pattern], warnings: &mut Vec<String>) -> Vec<&'p Pattern> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for p in patterns {
        if !valid_pattern_id(&p.id) {
            warnings.push(format!("pattern id {:?} is not a plain id; skipped", p.id));
        } else if !seen.insert(p.id.as_str()) {
            warnings.push(format!("pattern {} given twice; the first is used", p.id));
        } else {
            out.push(p);
        }
    }
    out
}

/// The entries the patterns make against the parsed file: near-duplicates merged, each
/// represented by the member whose block comes first in the file, else the largest.
fn entries_for(doc: &doc::Doc, patterns: &[&Pattern], types: &ErrorTypes) -> Vec<group::Entry> {
    let mut rank: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, b) in doc.blocks.iter().enumerate() {
        rank.entry(b.pattern_id.as_str()).or_insert(i);
    }
    group::collapse(patterns, types, |id| {
        rank.get(id).copied().unwrap_or(usize::MAX)
    })
}

/// The patterns auto-fix scripts are planned from: one per problem, near-duplicates
/// merged (counts summed, the merged template, a readable name), so a problem gets one
/// script, replaying only fixes every merged pattern agrees on.
fn script_patterns(existing: &str, patterns: &[Pattern]) -> Vec<Pattern> {
    let doc = doc::parse(existing);
    let valid = valid_patterns(patterns, &mut Vec::new());
    entries_for(&doc, &valid, &ErrorTypes::new())
        .iter()
        .map(group::Entry::for_scripts)
        .collect()
}

/// Computes the updated knowledge base. `scripts` maps a pattern id to its auto-fix
/// script's path relative to the markdown file.
pub fn suggest(
    existing: &str,
    patterns: &[Pattern],
    scripts: &BTreeMap<String, String>,
    opts: &KbOptions,
) -> KbUpdate {
    suggest_with_types(existing, patterns, &ErrorTypes::new(), scripts, opts)
}

/// [`suggest`], with the error types of patterns whose template lost them.
pub fn suggest_with_types(
    existing: &str,
    patterns: &[Pattern],
    types: &ErrorTypes,
    scripts: &BTreeMap<String, String>,
    opts: &KbOptions,
) -> KbUpdate {
    let doc = doc::parse(existing);
    let mut warnings = doc.warnings.clone();
    let valid = valid_patterns(patterns, &mut warnings);
    let entries = entries_for(&doc, &valid, types);
    let mut by_member: BTreeMap<&str, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate() {
        for m in &e.members {
            by_member.insert(m.as_str(), i);
        }
    }
    let script = |id: &str| scripts.get(id).map(String::as_str);
    let eol = |s: String| if doc.crlf { s.replace('\n', "\r\n") } else { s };
    let mut next_number = doc.numbers.last().map_or(1, |n| n.saturating_add(1));
    let mut take_number = || {
        let n = next_number;
        next_number = next_number.saturating_add(1);
        n
    };

    let mut edits: Vec<Edit> = Vec::new();
    let (mut added, mut updated, mut enriched, mut removed) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    // Entries (indexes into `entries`) that already have their block.
    let mut placed: BTreeSet<usize> = BTreeSet::new();
    let owner = |block: usize| {
        doc.entries
            .iter()
            .find(|e| e.enrich.contains(&block))
            .map(|e| (entry_label(e.number), e.title.clone()))
    };

    for (i, block) in doc.blocks.iter().enumerate() {
        let Some(&ei) = by_member.get(block.pattern_id.as_str()) else {
            continue;
        };
        let e = &entries[ei];
        if !placed.insert(ei) {
            // Another member of a problem that already has its block (an earlier run
            // wrote one entry per template): the block is the tool's, so it goes.
            let start = if existing[..block.start].ends_with("\r\n\r\n") {
                block.start - 2
            } else if existing[..block.start].ends_with("\n\n") {
                block.start - 1
            } else {
                block.start
            };
            removed.push(KbChange {
                entry: block.number.map(entry_label),
                title: render::title(e),
                pattern_id: block.pattern_id.clone(),
            });
            edits.push(Edit {
                start,
                end: block.end,
                order: edits.len(),
                text: String::new(),
            });
            continue;
        }
        let (text, change, list) = match block.kind {
            BlockKind::Entry => {
                let number = block.number.unwrap_or_else(&mut take_number);
                let change = KbChange {
                    entry: Some(entry_label(number)),
                    title: render::title(e),
                    pattern_id: e.pattern.id.clone(),
                };
                (
                    render::entry(number, e, opts, script(&e.pattern.id)),
                    change,
                    &mut updated,
                )
            }
            BlockKind::Enrich => {
                let (entry, title) = owner(i).unzip();
                let change = KbChange {
                    entry,
                    title: title.unwrap_or_else(|| render::title(e)),
                    pattern_id: e.pattern.id.clone(),
                };
                (
                    render::enrich(e, opts, script(&e.pattern.id)),
                    change,
                    &mut enriched,
                )
            }
        };
        let text = eol(text);
        if existing[block.start..block.end] != text {
            list.push(change);
            edits.push(Edit {
                start: block.start,
                end: block.end,
                order: edits.len(),
                text,
            });
        }
    }

    let mut new_enrich: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (h, hand) in doc.entries.iter().enumerate() {
        for pin in &hand.pins {
            match by_member.get(pin.as_str()) {
                Some(&ei) => {
                    if placed.insert(ei) {
                        new_enrich.entry(h).or_default().push(ei);
                    }
                }
                None => warnings.push(format!(
                    "{} is pinned to {pin}, which is not among the patterns",
                    entry_label(hand.number)
                )),
            }
        }
    }

    let hands: Vec<matching::HandKeys> = doc
        .entries
        .iter()
        .map(|e| matching::HandKeys::new(&e.title, &e.symptom, &e.body))
        .collect();
    let mut new_entries = Vec::new();
    for (ei, e) in entries.iter().enumerate() {
        if e.pattern.count < opts.min_count || placed.contains(&ei) {
            continue;
        }
        match best_entry(&hands, e, opts) {
            Some(h) => new_enrich.entry(h).or_default().push(ei),
            None => new_entries.push(ei),
        }
    }

    let lead = |at: usize| {
        let mut s = String::new();
        if at > 0 && !existing[..at].ends_with('\n') {
            s.push('\n');
        }
        if at > 0 {
            s.push('\n');
        }
        s
    };
    for (h, list) in &new_enrich {
        let hand = &doc.entries[*h];
        for &ei in list {
            let e = &entries[ei];
            enriched.push(KbChange {
                entry: Some(entry_label(hand.number)),
                title: hand.title.clone(),
                pattern_id: e.pattern.id.clone(),
            });
            edits.push(Edit {
                start: hand.insert_at,
                end: hand.insert_at,
                order: edits.len(),
                text: eol(lead(hand.insert_at) + &render::enrich(e, opts, script(&e.pattern.id))),
            });
        }
    }
    for ei in new_entries {
        let e = &entries[ei];
        let number = take_number();
        added.push(KbChange {
            entry: Some(entry_label(number)),
            title: render::title(e),
            pattern_id: e.pattern.id.clone(),
        });
        edits.push(Edit {
            start: doc.append_at,
            end: doc.append_at,
            order: edits.len(),
            text: eol(lead(doc.append_at) + &render::entry(number, e, opts, script(&e.pattern.id))),
        });
    }

    edits.sort_by_key(|e| (e.start, e.order));
    let mut new_text = String::with_capacity(existing.len() + edits.len() * 512);
    let mut cursor = 0;
    for edit in &edits {
        new_text.push_str(&existing[cursor..edit.start]);
        new_text.push_str(&edit.text);
        cursor = edit.end;
    }
    new_text.push_str(&existing[cursor..]);

    KbUpdate {
        new_text,
        added,
        updated,
        enriched,
        removed,
        warnings,
    }
}

/// The hand-written entry an entry belongs to. An entry that names one of the pattern's
/// error types wins (the one whose title or symptom names it first, then the best keyword
/// score, then the earlier). Otherwise: the highest share of the pattern's keywords found
/// in the entry's title and symptom, or of the entry title's keywords found in the
/// pattern (a long template has many words a short entry never mentions), if it clears
/// the thresholds. Ties: more shared keywords, then the earlier entry.
fn best_entry(hands: &[matching::HandKeys], e: &group::Entry, opts: &KbOptions) -> Option<usize> {
    let pattern = matching::pattern_tokens(&e.pattern);
    let types: Vec<&str> = e.types.iter().map(|t| t.value.as_str()).collect();
    let mut best_typed: Option<(usize, (u8, usize, f64))> = None;
    let mut best: Option<(usize, usize, f64)> = None;
    for (i, hand) in hands.iter().enumerate() {
        let by_pattern = matching::score(&hand.tokens, &pattern);
        let by_title = matching::score(&pattern, &hand.title);
        let (hits, share) = if by_title.1 > by_pattern.1 {
            by_title
        } else {
            by_pattern
        };
        if let Some(level) = hand.names_type(&types) {
            let key = (level, hits, share);
            let better = best_typed.as_ref().is_none_or(|(_, k)| {
                key.0 > k.0 || (key.0 == k.0 && (key.2 > k.2 || (key.2 == k.2 && key.1 > k.1)))
            });
            if better {
                best_typed = Some((i, key));
            }
        }
        if hits < opts.min_shared_keywords.max(1) || share < opts.match_threshold {
            continue;
        }
        let better = match best {
            None => true,
            Some((_, h, s)) => share > s || (share == s && hits > h),
        };
        if better {
            best = Some((i, hits, share));
        }
    }
    best_typed.map(|(i, _)| i).or(best.map(|(i, _, _)| i))
}

/// A unified diff of two texts; empty when they are equal.
pub fn diff(old: &str, new: &str, old_label: &str, new_label: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_label, new_label)
        .to_string()
}

/// `<kb_dir>/INCIDENT_PATTERNS_KB.md`.
pub fn kb_path(kb_dir: &Path) -> PathBuf {
    kb_dir.join(KB_FILE_NAME)
}

/// The knowledge base in `kb_dir`, or the shipped template when there is none.
pub fn load(kb_dir: &Path) -> crate::Result<Option<String>> {
    Ok(load_inner(kb_dir)?)
}

fn load_inner(kb_dir: &Path) -> Result<Option<String>, KbError> {
    let path = kb_path(kb_dir);
    match fs::read(&path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|e| KbError::NotUtf8 {
                offset: e.utf8_error().valid_up_to(),
                path,
            }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(KbError::Read { path, source }),
    }
}

/// `INCIDENT_NNN`: how an entry is named.
pub(crate) fn entry_label(number: u32) -> String {
    format!("INCIDENT_{number:03}")
}

/// A knowledge-base entry about a pattern, as a notification or the dashboard shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KbEntry {
    /// `INCIDENT_NNN`.
    pub entry: String,
    pub title: String,
    /// The entry's markdown, heading included, without whole-line comments (the tool's
    /// markers and notes).
    pub markdown: String,
}

/// The entries of the knowledge base `kb` about `pattern_id`, most specific first: a
/// person's entries that pin it, then a person's entries the tool enriched with it, then
/// the entry the tool wrote for it.
pub fn entries_about(kb: &str, pattern_id: &str) -> Vec<KbEntry> {
    let d = doc::parse(kb);
    // Whole-line comments (the markers, the tool's note) are not shown by a markdown
    // viewer either.
    let clean = |text: &str| {
        let shown = |l: &&str| {
            let t = l.trim();
            !(t.starts_with("<!--") && t.ends_with("-->"))
        };
        let kept: Vec<&str> = text.lines().filter(shown).collect();
        kept.join("\n").trim().to_string()
    };
    let hand = |e: &doc::HandEntry| KbEntry {
        entry: entry_label(e.number),
        title: e.title.clone(),
        markdown: clean(&kb[e.start..e.insert_at]),
    };
    let pinned = d
        .entries
        .iter()
        .filter(|e| e.pins.iter().any(|p| p == pattern_id));
    let enriched = d.entries.iter().filter(|e| {
        !e.pins.iter().any(|p| p == pattern_id)
            && e.enrich
                .iter()
                .any(|&b| d.blocks[b].pattern_id == pattern_id)
    });
    let written = d
        .blocks
        .iter()
        .filter(|b| b.kind == BlockKind::Entry && b.pattern_id == pattern_id)
        .map(|b| KbEntry {
            entry: b.number.map(entry_label).unwrap_or_default(),
            title: b.title.clone(),
            markdown: clean(&kb[b.start..b.end]),
        });
    pinned.chain(enriched).map(hand).chain(written).collect()
}

/// Everything `incident kb suggest` computes for a directory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KbRun {
    pub kb_path: PathBuf,
    /// The file's text, or `None` when it does not exist yet.
    pub old_text: Option<String>,
    pub update: KbUpdate,
    pub scripts: Vec<ScriptPlan>,
    /// Scripts an earlier run generated (they carry the generated mark) for patterns that
    /// no longer get one, with their text: removed by `write`, never linked.
    pub stale_scripts: Vec<(PathBuf, String)>,
    /// Files written (empty without `write`, or when nothing changed).
    pub written: Vec<PathBuf>,
    /// Stale scripts removed by `write`.
    pub removed: Vec<PathBuf>,
}

impl KbRun {
    /// The unified diff of the knowledge base and of every script that would change.
    pub fn diff(&self) -> String {
        let label = self.kb_path.display().to_string();
        let old = self.old_text.as_deref().unwrap_or("");
        let old_label = if self.old_text.is_some() {
            label.as_str()
        } else {
            "/dev/null"
        };
        let mut out = diff(old, &self.update.new_text, old_label, &label);
        for plan in &self.scripts {
            if matches!(
                plan.status,
                autofix::ScriptStatus::New | autofix::ScriptStatus::Changed
            ) {
                let label = plan.path.display().to_string();
                let old_label = if plan.old.is_some() {
                    label.as_str()
                } else {
                    "/dev/null"
                };
                let old = plan.old.as_deref().unwrap_or("");
                out.push_str(&diff(old, &plan.script.content, old_label, &label));
            }
        }
        for (path, old) in &self.stale_scripts {
            out.push_str(&diff(old, "", &path.display().to_string(), "/dev/null"));
        }
        out
    }
}

/// Suggests (and with `write`, applies) the knowledge-base update for `kb_dir`: scripts go
/// to `<kb_dir>/auto_fix/`, the entries link to the scripts that exist or would be written.
pub fn run(
    kb_dir: &Path,
    patterns: &[Pattern],
    types: &ErrorTypes,
    opts: &KbOptions,
    fix_opts: &AutofixOptions,
    write: bool,
) -> crate::Result<KbRun> {
    let kb_path = kb_path(kb_dir);
    if !kb_dir.is_dir() {
        return Err(KbError::NoDir {
            dir: kb_dir.to_path_buf(),
            file: kb_path,
        }
        .into());
    }
    let old_text = load_inner(kb_dir)?;
    let base = old_text.as_deref().unwrap_or(KB_TEMPLATE);
    let fix_dir = kb_dir.join(AUTO_FIX_DIR);
    let merged = script_patterns(base, patterns);
    let plans = autofix::plan_scripts_inner(&fix_dir, &merged, fix_opts)?;

    // A generated script whose pattern no longer gets one (an earlier version wrote a
    // script per file, or a keyword rule made one) is the tool's to remove.
    let planned: BTreeSet<&str> = plans.iter().map(|p| p.pattern_id.as_str()).collect();
    let mut stale_scripts = Vec::new();
    for p in patterns.iter().filter(|p| valid_pattern_id(&p.id)) {
        let path = fix_dir.join(format!("{}.sh", p.id));
        if planned.contains(p.id.as_str()) || !path.is_file() {
            continue;
        }
        let text = fs::read_to_string(&path).map_err(|source| KbError::Read {
            path: path.clone(),
            source,
        })?;
        if text.lines().any(|l| l == autofix::GENERATED_MARK) {
            stale_scripts.push((path, text));
        }
    }
    let mut scripts = BTreeMap::new();
    for p in &merged {
        let path = fix_dir.join(format!("{}.sh", p.id));
        if path.is_file() && !stale_scripts.iter().any(|(s, _)| *s == path) {
            scripts.insert(p.id.clone(), format!("{AUTO_FIX_DIR}/{}.sh", p.id));
        }
    }
    for plan in &plans {
        scripts.insert(
            plan.pattern_id.clone(),
            format!("{AUTO_FIX_DIR}/{}", plan.script.file_name),
        );
    }

    let update = suggest_with_types(base, patterns, types, &scripts, opts);
    let mut written = Vec::new();
    let mut removed = Vec::new();
    if write {
        written = autofix::apply_plans(&plans)?;
        for (path, _) in &stale_scripts {
            fs::remove_file(path).map_err(|source| KbError::Write {
                path: path.clone(),
                source,
            })?;
            removed.push(path.clone());
        }
        if old_text.as_deref() != Some(update.new_text.as_str()) {
            crate::fsutil::write_file(&kb_path, update.new_text.as_bytes(), None).map_err(
                |source| KbError::Write {
                    path: kb_path.clone(),
                    source,
                },
            )?;
            written.push(kb_path.clone());
        }
    }
    Ok(KbRun {
        kb_path,
        old_text,
        update,
        scripts: plans,
        stale_scripts,
        written,
        removed,
    })
}

#[cfg(test)]
mod tests;
