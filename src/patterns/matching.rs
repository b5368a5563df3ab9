//! Matching a new incident against the stored patterns: the text mined from an incident
//! and the best-fitting template. Depends on the model and the miner only, so the
//! manager can match on create without depending on analysis.

use serde::Serialize;

use super::miner::TemplateMatcher;
use crate::model::{Incident, Pattern, Timestamp};

/// The mined text of an incident.
pub fn incident_text(inc: &Incident) -> String {
    let first = inc.description.lines().next().unwrap_or("").trim();
    if first.is_empty() || inc.title.contains(first) {
        inc.title.clone()
    } else {
        format!("{} — {}", inc.title, first)
    }
}

/// A known pattern a new incident matched.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PatternMatch {
    pub pattern_id: String,
    pub name: String,
    pub template: String,
    /// How many incidents the pattern had at the last analysis.
    pub count: u64,
    pub last_seen: Timestamp,
    /// Actions of its most recent resolution.
    pub last_fix: Vec<String>,
    /// 1.0 for an exact template match, else the similarity.
    pub score: f64,
}

/// Finds the stored pattern whose template fits `text` best.
pub(crate) fn match_text(patterns: &[Pattern], text: &str) -> Option<PatternMatch> {
    if patterns.is_empty() {
        return None;
    }
    let matcher = TemplateMatcher::new(patterns.iter().map(|p| p.template.as_str()));
    let m = matcher.best_match(text)?;
    let p = patterns.get(m.index)?;
    Some(PatternMatch {
        pattern_id: p.id.clone(),
        name: p.name.clone(),
        template: p.template.clone(),
        count: p.count,
        last_seen: p.last_seen,
        last_fix: p.last_fix.clone(),
        score: m.score,
    })
}
