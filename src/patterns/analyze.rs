//! `incident analyze`: mines the incidents in the store into patterns, persists them with
//! an incident -> pattern index, and recommends what to do about them.
//!
//! The text mined per incident is its title, then ` — ` and the first line of its
//! description when there is one. Root causes are grouped as text (equal up to case,
//! spacing and punctuation), never masked. Pattern ids are `template_id(template)`, so a pattern keeps
//! its id across runs as long as its template is unchanged.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

use super::matching::incident_text;
use super::miner::{Miner, MinerConfig};
use super::naming::pattern_name;
use super::recommend::{Recommendation, recommend};
use crate::error::Result;
use crate::manager::IncidentManager;
use crate::model::{Category, IncidentId, Status, Timestamp};
use crate::model::{Counted, Pattern};

/// What to analyse.
#[derive(Clone, Debug, Default)]
pub struct AnalyzeOptions {
    /// Only incidents created at or after.
    pub since: Option<Timestamp>,
    /// Only incidents created before.
    pub until: Option<Timestamp>,
    /// How many example ids a pattern keeps.
    pub examples: usize,
}

/// The result of an analysis run.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct Analysis {
    pub incidents: u64,
    /// False when a window was given: patterns of part of the store are reported, not
    /// stored, so stored patterns always describe every incident.
    pub stored: bool,
    /// Patterns by count, descending.
    pub patterns: Vec<Pattern>,
    pub recommendations: Vec<Recommendation>,
}

/// Interns strings to small ids so a million incidents stay compact in memory.
#[derive(Default)]
struct Interner {
    ids: HashMap<String, u32>,
    texts: Vec<String>,
}

impl Interner {
    fn id(&mut self, s: &str) -> u32 {
        if let Some(&i) = self.ids.get(s) {
            return i;
        }
        let i = self.texts.len() as u32;
        self.ids.insert(s.to_string(), i);
        self.texts.push(s.to_string());
        i
    }
}

/// What analysis keeps of one incident.
struct Row {
    key: u64,
    created: i64,
    resolved: Option<i64>,
    status: Status,
    category: Category,
    components: Vec<u32>,
    action_set: Option<u32>,
    actions: Vec<u32>,
    preventive: Vec<u32>,
}

pub(super) fn counted<T: Ord + Clone>(map: BTreeMap<T, u64>) -> Vec<Counted<T>> {
    let mut v: Vec<Counted<T>> = map
        .into_iter()
        .map(|(value, count)| Counted { value, count })
        .collect();
    v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    v
}

/// Root causes kept per pattern (the most frequent).
const MAX_ROOT_CAUSES: usize = 20;

fn median(sorted: &[f64]) -> Option<f64> {
    match sorted.len() {
        0 => None,
        n if n % 2 == 1 => Some(sorted[n / 2]),
        n => Some((sorted[n / 2 - 1] + sorted[n / 2]) / 2.0),
    }
}

/// Mines the store (within the window), stores the patterns and the incident -> pattern
/// index in one write transaction, and returns them with recommendations.
///
/// `progress` is called with the number of incidents read so far.
pub fn analyze(
    manager: &IncidentManager,
    opts: &AnalyzeOptions,
    mut progress: impl FnMut(u64),
) -> Result<Analysis> {
    let mut strings = Interner::default();
    let mut rows = Vec::new();
    let mut miner = Miner::new(MinerConfig::default());
    // Root causes are short human text: grouped when (nearly) identical, never masked.
    let mut cause_of_row: Vec<Option<u32>> = Vec::new();
    manager.for_each(|inc| {
        if opts.since.is_some_and(|t| inc.created_at < t)
            || opts.until.is_some_and(|t| inc.created_at >= t)
        {
            return Ok(());
        }
        miner.add(&incident_text(&inc));
        let res = inc.resolution.as_ref();
        let root = res.map(|r| r.root_cause.trim()).filter(|r| !r.is_empty());
        cause_of_row.push(root.map(|r| strings.id(r)));
        rows.push(Row {
            key: inc.id.key(),
            created: inc.created_at.micros(),
            resolved: inc.resolved_at().map(Timestamp::micros),
            status: inc.status,
            category: inc.category,
            components: inc
                .affected_components
                .iter()
                .map(|c| strings.id(c))
                .collect(),
            action_set: res
                .filter(|r| !r.actions_taken.is_empty())
                .map(|r| strings.id(&r.actions_taken.join("\u{1f}"))),
            actions: res
                .map(|r| r.actions_taken.iter().map(|a| strings.id(a)).collect())
                .unwrap_or_default(),
            preventive: res
                .map(|r| {
                    r.preventive_measures
                        .iter()
                        .map(|a| strings.id(a))
                        .collect()
                })
                .unwrap_or_default(),
        });
        if rows.len() % 100_000 == 0 {
            progress(rows.len() as u64);
        }
        Ok(())
    })?;
    progress(rows.len() as u64);
    let mined = miner.finish();

    // Rows of each cluster, in id order (rows are read in id order).
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); mined.clusters.len()];
    for (i, &c) in mined.assignments.iter().enumerate() {
        members[c].push(i);
    }
    let examples = if opts.examples == 0 { 5 } else { opts.examples };
    let mut patterns = Vec::with_capacity(members.len());
    for (c, rows_of) in members.iter().enumerate() {
        if rows_of.is_empty() {
            continue;
        }
        let cluster = &mined.clusters[c];
        let mut categories = BTreeMap::new();
        let mut components = BTreeMap::new();
        let mut statuses = BTreeMap::new();
        let mut root_causes = BTreeMap::new();
        let mut actions = BTreeMap::new();
        let mut action_sets = BTreeMap::new();
        let mut preventive = BTreeMap::new();
        let mut durations = Vec::new();
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        let mut by_created: Vec<(i64, Option<i64>)> = Vec::with_capacity(rows_of.len());
        let mut last_fix: Option<(i64, u32)> = None;
        for &r in rows_of {
            let row = &rows[r];
            first = first.min(row.created);
            last = last.max(row.created);
            *categories.entry(row.category).or_insert(0) += 1;
            *statuses.entry(row.status).or_insert(0) += 1;
            for &comp in &row.components {
                *components
                    .entry(strings.texts[comp as usize].clone())
                    .or_insert(0) += 1;
            }
            if let Some(ci) = cause_of_row[r] {
                *root_causes
                    .entry(strings.texts[ci as usize].clone())
                    .or_insert(0) += 1;
            }
            for &a in &row.actions {
                *actions
                    .entry(strings.texts[a as usize].clone())
                    .or_insert(0) += 1;
            }
            for &p in &row.preventive {
                *preventive
                    .entry(strings.texts[p as usize].clone())
                    .or_insert(0) += 1;
            }
            if let Some(set) = row.action_set {
                let list: Vec<String> = strings.texts[set as usize]
                    .split('\u{1f}')
                    .map(str::to_string)
                    .collect();
                *action_sets.entry(list).or_insert(0) += 1;
                if let Some(done) = row.resolved
                    && last_fix.is_none_or(|(t, _)| done >= t)
                {
                    last_fix = Some((done, set));
                }
            }
            if let Some(done) = row.resolved
                && done >= row.created
            {
                durations.push((done - row.created) as f64 / 1e6);
            }
            by_created.push((row.created, row.resolved));
        }
        // Recurrence: created after an earlier incident of the pattern was resolved.
        by_created.sort_unstable();
        let mut earliest_resolved = i64::MAX;
        let mut recurrences = 0;
        let mut pending: Vec<i64> = Vec::new();
        for (created, resolved) in &by_created {
            // Resolutions of incidents created earlier count once their time has passed.
            pending.retain(|&t| {
                if t < *created {
                    earliest_resolved = earliest_resolved.min(t);
                    false
                } else {
                    true
                }
            });
            if earliest_resolved < *created {
                recurrences += 1;
            }
            if let Some(t) = resolved {
                pending.push(*t);
            }
        }
        durations.sort_by(f64::total_cmp);
        let resolved = rows_of
            .iter()
            .filter(|&&r| rows[r].resolved.is_some())
            .count() as u64;
        patterns.push(Pattern {
            id: cluster.id.clone(),
            template: cluster.template.clone(),
            name: pattern_name(&cluster.template),
            count: rows_of.len() as u64,
            first_seen: Timestamp::from_micros(first),
            last_seen: Timestamp::from_micros(last),
            categories: counted(categories),
            components: counted(components),
            statuses: counted(statuses),
            recurrences,
            resolved,
            mean_resolve_secs: (!durations.is_empty())
                .then(|| durations.iter().sum::<f64>() / durations.len() as f64),
            median_resolve_secs: median(&durations),
            root_causes: {
                let mut causes = super::causes::group_texts(&counted(root_causes));
                causes.truncate(MAX_ROOT_CAUSES);
                causes
            },
            actions: counted(actions),
            action_sets: counted(action_sets),
            preventive_measures: counted(preventive),
            last_fix: last_fix
                .map(|(_, s)| {
                    strings.texts[s as usize]
                        .split('\u{1f}')
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            examples: rows_of
                .iter()
                .rev()
                .take(examples)
                .map(|&r| IncidentId::from_key(rows[r].key))
                .collect(),
        });
    }
    patterns.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));

    let stored = opts.since.is_none() && opts.until.is_none();
    if stored {
        store_patterns(
            manager,
            &patterns,
            &mined.assignments,
            &mined.clusters,
            &rows,
        )?;
    }
    let recommendations = recommend(&patterns, rows.iter().map(|r| r.category));
    Ok(Analysis {
        incidents: rows.len() as u64,
        stored,
        patterns,
        recommendations,
    })
}

fn store_patterns(
    manager: &IncidentManager,
    patterns: &[Pattern],
    assignments: &[usize],
    clusters: &[super::miner::MinedCluster],
    rows: &[Row],
) -> Result<()> {
    manager.store().write(|w| {
        for (i, &c) in assignments.iter().enumerate() {
            w.set_pattern(IncidentId::from_key(rows[i].key), Some(&clusters[c].id))?;
        }
        for p in patterns {
            w.put_pattern(p)?;
        }
        // Patterns left without members (their incidents now belong elsewhere) go away.
        w.remove_patterns_without_members()?;
        Ok(())
    })
}
