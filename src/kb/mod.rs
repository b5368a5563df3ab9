//! The knowledge base `kb/INCIDENT_PATTERNS_KB.md`: suggesting entries for mined patterns
//! and updating the file without touching what people wrote.
//!
//! The tool owns only the text between its markers: `<!-- incident:pattern ID -->` …
//! `<!-- /incident:pattern -->` (an entry it wrote) and `<!-- incident:enrich ID -->` …
//! `<!-- /incident:enrich -->` (figures under a person's entry). Those blocks are rewritten
//! from the current patterns; every other byte is kept, and new blocks are inserted at line
//! boundaries. A block, once placed, stays where it is, so a second run changes nothing.

mod doc;
mod matching;
mod render;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::autofix::{self, AutofixOptions, ScriptPlan, valid_pattern_id};
use crate::pattern::Pattern;

use doc::BlockKind;

/// The file name inside the knowledge-base directory.
pub const KB_FILE_NAME: &str = "INCIDENT_PATTERNS_KB.md";

/// The sub-directory of the knowledge-base directory that holds auto-fix scripts.
pub const AUTO_FIX_DIR: &str = "auto_fix";

/// The shipped knowledge base, used when the directory has none yet.
pub const KB_TEMPLATE: &str = include_str!("../../kb/INCIDENT_PATTERNS_KB.md");

/// Reading or writing the knowledge base or its scripts failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KbError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{} is not valid UTF-8 (first bad byte at offset {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
}

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
    /// Problems found in the existing text (all left as they were).
    pub warnings: Vec<String>,
}

impl KbUpdate {
    pub fn is_unchanged(&self) -> bool {
        self.added.is_empty() && self.updated.is_empty() && self.enriched.is_empty()
    }
}

struct Edit {
    start: usize,
    end: usize,
    order: usize,
    text: String,
}

/// Computes the updated knowledge base. `scripts` maps a pattern id to its auto-fix
/// script's path relative to the markdown file.
pub fn suggest(
    existing: &str,
    patterns: &[Pattern],
    scripts: &BTreeMap<String, String>,
    opts: &KbOptions,
) -> KbUpdate {
    let doc = doc::parse(existing);
    let mut warnings = doc.warnings.clone();
    let mut by_id: BTreeMap<&str, &Pattern> = BTreeMap::new();
    for p in patterns {
        if !valid_pattern_id(&p.id) {
            warnings.push(format!("pattern id {:?} is not a plain id; skipped", p.id));
        } else if by_id.contains_key(p.id.as_str()) {
            warnings.push(format!("pattern {} given twice; the first is used", p.id));
        } else {
            by_id.insert(p.id.as_str(), p);
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
    let (mut added, mut updated, mut enriched) = (Vec::new(), Vec::new(), Vec::new());
    let mut placed: BTreeSet<&str> = BTreeSet::new();
    let owner = |block: usize| {
        doc.entries
            .iter()
            .find(|e| e.enrich.contains(&block))
            .map(|e| (format!("INCIDENT_{:03}", e.number), e.title.clone()))
    };

    for (i, block) in doc.blocks.iter().enumerate() {
        placed.insert(block.pattern_id.as_str());
        let Some(p) = by_id.get(block.pattern_id.as_str()) else {
            continue;
        };
        let (text, change, list) = match block.kind {
            BlockKind::Entry => {
                let number = block.number.unwrap_or_else(&mut take_number);
                let change = KbChange {
                    entry: Some(format!("INCIDENT_{number:03}")),
                    title: render::title(p),
                    pattern_id: p.id.clone(),
                };
                (
                    render::entry(number, p, opts, script(&p.id)),
                    change,
                    &mut updated,
                )
            }
            BlockKind::Enrich => {
                let (entry, title) = owner(i).unzip();
                let change = KbChange {
                    entry,
                    title: title.unwrap_or_else(|| render::title(p)),
                    pattern_id: p.id.clone(),
                };
                (
                    render::enrich(p, opts, script(&p.id)),
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

    let mut new_enrich: BTreeMap<usize, Vec<&Pattern>> = BTreeMap::new();
    for (e, entry) in doc.entries.iter().enumerate() {
        for pin in &entry.pins {
            let has_block = entry
                .enrich
                .iter()
                .any(|&b| doc.blocks[b].pattern_id == *pin);
            match by_id.get(pin.as_str()) {
                Some(p) if !has_block => {
                    new_enrich.entry(e).or_default().push(p);
                    placed.insert(p.id.as_str());
                }
                Some(p) => {
                    placed.insert(p.id.as_str());
                }
                None => warnings.push(format!(
                    "INCIDENT_{:03} is pinned to {pin}, which is not among the patterns",
                    entry.number
                )),
            }
        }
    }

    let entry_tokens: Vec<_> = doc
        .entries
        .iter()
        .map(|e| {
            (
                matching::tokens(&format!("{} {}", e.title, e.symptom)),
                matching::tokens(&e.title),
            )
        })
        .collect();
    let mut fresh: Vec<&Pattern> = by_id
        .values()
        .copied()
        .filter(|p| p.count >= opts.min_count && !placed.contains(p.id.as_str()))
        .collect();
    fresh.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
    let mut new_entries = Vec::new();
    for p in fresh {
        match best_entry(&entry_tokens, p, opts) {
            Some(e) => new_enrich.entry(e).or_default().push(p),
            None => new_entries.push(p),
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
    for (e, pats) in &new_enrich {
        let entry = &doc.entries[*e];
        for p in pats {
            enriched.push(KbChange {
                entry: Some(format!("INCIDENT_{:03}", entry.number)),
                title: entry.title.clone(),
                pattern_id: p.id.clone(),
            });
            edits.push(Edit {
                start: entry.insert_at,
                end: entry.insert_at,
                order: edits.len(),
                text: eol(lead(entry.insert_at) + &render::enrich(p, opts, script(&p.id))),
            });
        }
    }
    for p in new_entries {
        let number = take_number();
        added.push(KbChange {
            entry: Some(format!("INCIDENT_{number:03}")),
            title: render::title(p),
            pattern_id: p.id.clone(),
        });
        edits.push(Edit {
            start: doc.append_at,
            end: doc.append_at,
            order: edits.len(),
            text: eol(lead(doc.append_at) + &render::entry(number, p, opts, script(&p.id))),
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
        warnings,
    }
}

/// The hand-written entry `p` belongs to: the highest share of the pattern's keywords
/// found in the entry's title and symptom, or of the entry title's keywords found in the
/// pattern (a long template has many words a short entry never mentions), if it clears
/// the thresholds. Ties: more shared keywords, then the earlier entry.
fn best_entry(
    entries: &[(BTreeSet<String>, BTreeSet<String>)],
    p: &Pattern,
    opts: &KbOptions,
) -> Option<usize> {
    let pattern = matching::pattern_tokens(p);
    let mut best: Option<(usize, usize, f64)> = None;
    for (i, (tokens, title)) in entries.iter().enumerate() {
        let by_pattern = matching::score(tokens, &pattern);
        let by_title = matching::score(&pattern, title);
        let (hits, share) = if by_title.1 > by_pattern.1 {
            by_title
        } else {
            by_pattern
        };
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
    best.map(|(i, _, _)| i)
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
pub fn load(kb_dir: &Path) -> Result<Option<String>, KbError> {
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

/// Everything `incident kb suggest` computes for a directory.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KbRun {
    pub kb_path: PathBuf,
    /// The file's text, or `None` when it does not exist yet.
    pub old_text: Option<String>,
    pub update: KbUpdate,
    pub scripts: Vec<ScriptPlan>,
    /// Files written (empty without `write`, or when nothing changed).
    pub written: Vec<PathBuf>,
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
        out
    }
}

/// Suggests (and with `write`, applies) the knowledge-base update for `kb_dir`: scripts go
/// to `<kb_dir>/auto_fix/`, the entries link to the scripts that exist or would be written.
pub fn run(
    kb_dir: &Path,
    patterns: &[Pattern],
    opts: &KbOptions,
    fix_opts: &AutofixOptions,
    write: bool,
) -> Result<KbRun, KbError> {
    let kb_path = kb_path(kb_dir);
    let old_text = load(kb_dir)?;
    let fix_dir = kb_dir.join(AUTO_FIX_DIR);
    let plans = autofix::plan_scripts(&fix_dir, patterns, fix_opts)?;

    let mut scripts = BTreeMap::new();
    for p in patterns.iter().filter(|p| valid_pattern_id(&p.id)) {
        if fix_dir.join(format!("{}.sh", p.id)).is_file() {
            scripts.insert(p.id.clone(), format!("{AUTO_FIX_DIR}/{}.sh", p.id));
        }
    }
    for plan in &plans {
        scripts.insert(
            plan.pattern_id.clone(),
            format!("{AUTO_FIX_DIR}/{}", plan.script.file_name),
        );
    }

    let base = old_text.as_deref().unwrap_or(KB_TEMPLATE);
    let update = suggest(base, patterns, &scripts, opts);
    let mut written = Vec::new();
    if write {
        written = autofix::apply_plans(&plans)?;
        if old_text.as_deref() != Some(update.new_text.as_str()) {
            write_atomic(&kb_path, update.new_text.as_bytes(), None).map_err(|source| {
                KbError::Write {
                    path: kb_path.clone(),
                    source,
                }
            })?;
            written.push(kb_path.clone());
        }
    }
    Ok(KbRun {
        kb_path,
        old_text,
        update,
        scripts: plans,
        written,
    })
}

/// Writes `path` through a temporary file in the same directory and a rename, so readers
/// see the old or the new content, never a part. `mode` (unix) applies to the new file;
/// without it an existing file keeps its permissions.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], mode: Option<u32>) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        let perms = match mode {
            #[cfg(unix)]
            Some(mode) => {
                use std::os::unix::fs::PermissionsExt;
                Some(fs::Permissions::from_mode(mode))
            }
            _ => fs::metadata(path).ok().map(|m| m.permissions()),
        };
        if let Some(perms) = perms {
            fs::set_permissions(&tmp, perms)?;
        }
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests;
