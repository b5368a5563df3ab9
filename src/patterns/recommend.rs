//! What to do about the patterns: concrete suggestions an analysis returns.

use std::collections::BTreeMap;

use serde::Serialize;

use super::analyze::counted;
use crate::model::{Category, Pattern};

/// A concrete suggestion derived from the patterns.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct Recommendation {
    /// `most_frequent_category`, `recurring_pattern`, `no_preventive_measure`,
    /// `same_fix_every_time`.
    pub kind: String,
    pub pattern_id: Option<String>,
    pub message: String,
}

/// Suggestions from the patterns and the category of every incident analysed.
pub(super) fn recommend(
    patterns: &[Pattern],
    categories: impl IntoIterator<Item = Category>,
) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let mut cats: BTreeMap<Category, u64> = BTreeMap::new();
    let mut total = 0u64;
    for c in categories {
        *cats.entry(c).or_default() += 1;
        total += 1;
    }
    if let Some(top) = counted(cats).first() {
        out.push(Recommendation {
            kind: "most_frequent_category".into(),
            pattern_id: None,
            message: format!(
                "{} is the most frequent category ({} of {} incidents): review its top patterns first",
                top.value,
                top.count,
                total
            ),
        });
    }
    let mut recurring: Vec<&Pattern> = patterns.iter().filter(|p| p.recurrences > 0).collect();
    recurring.sort_by(|a, b| {
        b.recurrences
            .cmp(&a.recurrences)
            .then_with(|| a.id.cmp(&b.id))
    });
    for p in recurring.iter().take(5) {
        out.push(Recommendation {
            kind: "recurring_pattern".into(),
            pattern_id: Some(p.id.clone()),
            message: format!(
                "{} \"{}\" recurred {} times after being resolved ({} incidents): fix the root cause{}",
                p.id,
                p.name,
                p.recurrences,
                p.count,
                cause_hint(p)
            ),
        });
    }
    for p in patterns
        .iter()
        .filter(|p| p.count >= 3 && p.resolved > 0 && p.preventive_measures.is_empty())
        .take(5)
    {
        out.push(Recommendation {
            kind: "no_preventive_measure".into(),
            pattern_id: Some(p.id.clone()),
            message: format!(
                "{} \"{}\" happened {} times and no resolution recorded a preventive measure",
                p.id, p.name, p.count
            ),
        });
    }
    for p in patterns
        .iter()
        .filter(|p| p.resolved >= 2 && p.action_sets.len() == 1)
        .take(5)
    {
        out.push(Recommendation {
            kind: "same_fix_every_time".into(),
            pattern_id: Some(p.id.clone()),
            message: format!(
                "{} \"{}\" was resolved {} times by the same actions ({}): automate it",
                p.id,
                p.name,
                p.resolved,
                p.action_sets[0].value.join("; ")
            ),
        });
    }
    out
}

/// What the recorded causes say: the most frequent one people wrote, else that only the
/// error history's classification is known.
fn cause_hint(p: &Pattern) -> String {
    let (written, tags) = super::causes::split_history_tags(&p.root_causes);
    match (written.first(), tags.first()) {
        (Some(c), _) => format!(" (most often: {})", c.value),
        (None, Some(t)) => format!(
            " (no cause recorded: the error history only classifies it as {})",
            t.value
        ),
        (None, None) => String::new(),
    }
}
