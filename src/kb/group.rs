//! One knowledge-base entry per problem: mined patterns whose templates differ only in a
//! variable slot (a `<*>` on either side, a file path, a quoted or `key=` value, the word
//! after `user`/`table`/`channel`…) collapse into one entry with their figures summed.
//!
//! The miner groups by template; a problem raised from several files, or a variable with
//! few values (one database user, one table per pattern), can still leave it several
//! templates. Merging here keeps the knowledge base at one entry per problem whatever the
//! miner did, and never turns an error type into a slot.

use std::collections::{BTreeMap, BTreeSet};

use crate::kb::autofix::resolved_total;

use crate::model::{Counted, Pattern};

use super::ErrorTypes;
use crate::patterns::naming::{self, Tok};

/// The patterns of one problem, merged.
#[derive(Clone, Debug)]
pub(super) struct Entry {
    /// The merged figures; `id` is the representative member's id, `template` the merged
    /// template, `name` the readable title.
    pub(super) pattern: Pattern,
    /// Ids of every member pattern, the representative first.
    pub(super) members: Vec<String>,
    /// Error types that raised the problem, verbatim, by count.
    pub(super) types: Vec<Counted<String>>,
    /// For a merged entry: the actions that fixed most resolved incidents of every member.
    /// Only these may become script steps: a fix recorded per file (`systemctl restart
    /// <that worker>`) must not be replayed for the problem everywhere.
    pub(super) common_fixes: Option<BTreeSet<String>>,
}

impl Entry {
    /// The pattern auto-fix scripts are planned from: the merged figures with actions
    /// limited to [`Entry::common_fixes`].
    pub(super) fn for_scripts(&self) -> Pattern {
        let mut p = self.pattern.clone();
        if let Some(common) = &self.common_fixes {
            p.actions.retain(|a| common.contains(&a.value));
            p.action_sets
                .retain(|s| s.value.iter().all(|a| common.contains(a)));
            p.last_fix.retain(|a| common.contains(a));
        }
        p
    }
}

/// Words after which a differing word is a value (`user app`, `table orders`).
#[rustfmt::skip]
const SLOT_NOUNS: &[&str] = &[
    "user", "username", "role", "table", "column", "schema", "database", "db", "channel",
    "queue", "topic", "exchange", "bucket", "host", "server", "node", "service", "worker",
    "file", "path", "module", "key", "index", "region", "endpoint", "url", "tenant",
    "project", "account", "ユーザー", "テーブル", "チャンネル", "キュー", "ホスト", "ファイル",
];

fn is_value_word(t: &str) -> bool {
    t.chars().any(|c| c.is_ascii_digit())
        || t.trim_end_matches(['.', ',', ':', ';'])
            .chars()
            .any(|c| "/._#@-".contains(c))
}

/// True when position `i` of `toks` holds a value rather than part of the wording.
fn is_value_at(toks: &[Tok], i: usize) -> bool {
    let Tok::Text(t) = &toks[i] else {
        return matches!(toks[i], Tok::Var);
    };
    if naming::is_type_at(toks, i) {
        return false;
    }
    if is_value_word(t) {
        return true;
    }
    let prev = toks[..i].iter().rev().find(|t| !matches!(t, Tok::Space));
    let next = toks[i + 1..].iter().find(|t| !matches!(t, Tok::Space));
    match (prev, next) {
        (Some(Tok::Text(p)), Some(Tok::Text(n))) if p == n && (p == "'" || p == "\"") => true,
        (Some(Tok::Text(p)), _) if p == "=" => true,
        (Some(Tok::Text(p)), _) => SLOT_NOUNS.contains(&p.to_lowercase().as_str()),
        _ => false,
    }
}

fn is_word(t: &Tok) -> bool {
    matches!(t, Tok::Text(s) if s.chars().any(char::is_alphanumeric))
}

/// The template both `a` and `b` fit, if they differ only in value positions and keep
/// at least two words, and no more newly varied positions than shared words.
/// `same_cause`: both record the same root cause, so one differing plain word (not the
/// error type) is a value too (`sync orders` / `sync invoices`).
fn merge(a: &[Tok], b: &[Tok], same_cause: bool) -> Option<Vec<Tok>> {
    if a.len() != b.len() {
        return None;
    }
    let mut out = Vec::with_capacity(a.len());
    let (mut shared, mut varied) = (0usize, 0usize);
    let mut plain_left = usize::from(same_cause);
    for i in 0..a.len() {
        match (&a[i], &b[i]) {
            (x, y) if x == y => {
                if is_word(x) {
                    shared += 1;
                }
                out.push(x.clone());
            }
            (Tok::Var, Tok::Text(_)) | (Tok::Text(_), Tok::Var) => {
                let text = if matches!(a[i], Tok::Var) { b } else { a };
                if naming::is_type_at(text, i) {
                    return None;
                }
                out.push(Tok::Var);
            }
            (Tok::Text(_), Tok::Text(_)) if is_value_at(a, i) && is_value_at(b, i) => {
                varied += 1;
                out.push(Tok::Var);
            }
            (x @ Tok::Text(_), y @ Tok::Text(_))
                if plain_left > 0
                    && is_word(x)
                    && is_word(y)
                    && !naming::is_type_at(a, i)
                    && !naming::is_type_at(b, i) =>
            {
                plain_left -= 1;
                varied += 1;
                out.push(Tok::Var);
            }
            _ => return None,
        }
    }
    (shared >= 2 && varied <= shared).then_some(out)
}

fn add<T: Ord + Clone>(into: &mut BTreeMap<T, u64>, items: &[Counted<T>]) {
    for c in items {
        *into.entry(c.value.clone()).or_insert(0) += c.count;
    }
}

pub(super) fn counted<T: Ord>(map: BTreeMap<T, u64>) -> Vec<Counted<T>> {
    let mut v: Vec<Counted<T>> = map
        .into_iter()
        .map(|(value, count)| Counted { value, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    v
}

/// Groups `patterns` into entries. `preferred(id)` ranks a member as the representative
/// (lower first; an id that already has a block in the file keeps it); otherwise the
/// largest member represents the group. Entries come out by count, descending.
pub(super) fn collapse(
    patterns: &[&Pattern],
    known_types: &ErrorTypes,
    preferred: impl Fn(&str) -> usize,
) -> Vec<Entry> {
    let mut order: Vec<&Pattern> = patterns.to_vec();
    order.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
    let mut groups: Vec<(Vec<Tok>, Vec<&Pattern>)> = Vec::new();
    let cause = |p: &Pattern| p.root_causes.first().map(|c| c.value.trim().to_string());
    for p in order {
        let toks = naming::lex(&p.template);
        let found = groups.iter_mut().find_map(|(t, members)| {
            let same_cause =
                cause(p).is_some_and(|c| !c.is_empty() && Some(c) == cause(members[0]));
            merge(t, &toks, same_cause).map(|m| (t, members, m))
        });
        match found {
            Some((t, members, merged)) => {
                *t = merged;
                members.push(p);
            }
            None => groups.push((toks, vec![p])),
        }
    }
    let mut entries: Vec<Entry> = groups
        .into_iter()
        .map(|(toks, mut members)| {
            members.sort_by_key(|p| preferred(&p.id));
            build(&naming::unlex(&toks), &members, known_types)
        })
        .collect();
    entries.sort_by(|a, b| {
        b.pattern
            .count
            .cmp(&a.pattern.count)
            .then_with(|| a.pattern.id.cmp(&b.pattern.id))
    });
    entries
}

fn build(template: &str, members: &[&Pattern], known_types: &ErrorTypes) -> Entry {
    let rep = members[0];
    let mut types = BTreeMap::new();
    for p in members {
        match naming::error_type(&p.template) {
            Some(t) => *types.entry(t.to_string()).or_insert(0) += p.count,
            None => add(
                &mut types,
                known_types.get(&p.id).map_or(&[], Vec::as_slice),
            ),
        }
    }
    let name = naming::title(template);
    if members.len() == 1 {
        let mut pattern = rep.clone();
        pattern.name = name;
        return Entry {
            pattern,
            members: vec![rep.id.clone()],
            types: counted(types),
            common_fixes: None,
        };
    }
    let (mut categories, mut components, mut statuses) =
        (BTreeMap::new(), BTreeMap::new(), BTreeMap::new());
    let (mut causes, mut actions, mut sets, mut measures) = (
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
        BTreeMap::new(),
    );
    let (mut timed, mut time_sum) = (0u64, 0.0f64);
    let mut examples = Vec::new();
    for p in members {
        add(&mut categories, &p.categories);
        add(&mut components, &p.components);
        add(&mut statuses, &p.statuses);
        add(&mut causes, &p.root_causes);
        add(&mut actions, &p.actions);
        add(&mut sets, &p.action_sets);
        add(&mut measures, &p.preventive_measures);
        if let Some(mean) = p.mean_resolve_secs {
            // Patterns count as resolved only incidents with a resolution time.
            let n = p.resolved.max(1);
            timed += n;
            time_sum += mean * n as f64;
        }
        examples.extend(p.examples.iter().copied());
    }
    examples.sort_unstable_by(|a, b| b.cmp(a));
    examples.dedup();
    examples.truncate(rep.examples.len().max(5));
    let last_fix = members
        .iter()
        .filter(|p| !p.last_fix.is_empty())
        .max_by_key(|p| p.last_seen)
        .map(|p| p.last_fix.clone())
        .unwrap_or_default();
    let pattern = Pattern {
        id: rep.id.clone(),
        template: template.to_string(),
        name,
        count: members.iter().map(|p| p.count).sum(),
        first_seen: members
            .iter()
            .map(|p| p.first_seen)
            .min()
            .unwrap_or(rep.first_seen),
        last_seen: members
            .iter()
            .map(|p| p.last_seen)
            .max()
            .unwrap_or(rep.last_seen),
        categories: counted(categories),
        components: counted(components),
        statuses: counted(statuses),
        recurrences: members.iter().map(|p| p.recurrences).sum(),
        resolved: members.iter().map(|p| p.resolved).sum(),
        mean_resolve_secs: (timed > 0).then(|| time_sum / timed as f64),
        // Medians of parts do not give the median of the whole.
        median_resolve_secs: None,
        root_causes: counted(causes),
        actions: counted(actions),
        action_sets: counted(sets),
        preventive_measures: counted(measures),
        last_fix,
        examples,
    };
    Entry {
        pattern,
        members: members.iter().map(|p| p.id.clone()).collect(),
        types: counted(types),
        common_fixes: Some(common_fixes(members)),
    }
}

/// Actions used in more than half of the resolved incidents of every member that has any.
fn common_fixes(members: &[&Pattern]) -> BTreeSet<String> {
    let mut common: Option<BTreeSet<String>> = None;
    for p in members {
        let resolved = resolved_total(p);
        if resolved == 0 {
            continue;
        }
        let fixes: BTreeSet<String> = p
            .actions
            .iter()
            .filter(|a| a.count.saturating_mul(2) > resolved)
            .map(|a| a.value.clone())
            .collect();
        common = Some(match common {
            None => fixes,
            Some(c) => c.intersection(&fixes).cloned().collect(),
        });
    }
    common.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(a: &str, b: &str) -> Option<String> {
        merge(&naming::lex(a), &naming::lex(b), false).map(|t| naming::unlex(&t))
    }

    #[test]
    fn merges_only_where_a_value_differs() {
        assert_eq!(
            m(
                "KeyError in workers/a.py — 'user_id' not found",
                "KeyError in libs/b.py — 'user_id' not found"
            )
            .as_deref(),
            Some("KeyError in <*> — 'user_id' not found")
        );
        assert_eq!(
            m(
                "OperationalError in db.py — password authentication failed for user \"app\"",
                "OperationalError in db.py — password authentication failed for user \"report\""
            )
            .as_deref(),
            Some("OperationalError in db.py — password authentication failed for user \"<*>\"")
        );
        assert_eq!(
            m(
                "Failed to write table orders",
                "Failed to write table invoices"
            )
            .as_deref(),
            Some("Failed to write table <*>")
        );
        // Different wording, different error types: separate problems.
        assert_eq!(
            m("Connection reset by peer", "Connection refused by peer"),
            None
        );
        assert_eq!(
            m(
                "KeyError in a.py — 'x' missing",
                "ValueError in a.py — 'x' missing"
            ),
            None
        );
        assert_eq!(
            m(
                "psycopg2.OperationalError in <*> — timeout",
                "<*> in <*> — timeout"
            ),
            None,
            "an error type never becomes a slot"
        );
    }
}
