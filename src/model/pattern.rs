//! A mined pattern: what `incident analyze` stores and what the knowledge base and
//! auto-fix generators read.

use bincode::{Decode, Encode};
use serde::{Deserialize, Serialize};

use crate::model::{Category, IncidentId, Status, Timestamp};

/// A value with how often it occurred; lists of these are sorted by count, descending,
/// then by value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Counted<T> {
    pub value: T,
    pub count: u64,
}

/// A group of incidents whose title/description share one template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, Encode, Decode)]
pub struct Pattern {
    /// Stable id derived from the template (`P` + 16 hex digits).
    pub id: String,
    /// The template with variable parts as `<*>`.
    pub template: String,
    /// A short readable name (the template's constant words).
    pub name: String,
    pub count: u64,
    pub first_seen: Timestamp,
    pub last_seen: Timestamp,
    pub categories: Vec<Counted<Category>>,
    pub components: Vec<Counted<String>>,
    pub statuses: Vec<Counted<Status>>,
    /// Incidents of the pattern created after an earlier incident of it was resolved.
    pub recurrences: u64,
    /// Incidents of the pattern that are resolved or closed.
    pub resolved: u64,
    pub mean_resolve_secs: Option<f64>,
    pub median_resolve_secs: Option<f64>,
    /// Root causes as written, (nearly) identical texts grouped; never masked.
    pub root_causes: Vec<Counted<String>>,
    /// Individual actions taken, with how many incidents used each.
    pub actions: Vec<Counted<String>>,
    /// Whole action lists, with how many incidents were resolved by exactly that list.
    pub action_sets: Vec<Counted<Vec<String>>>,
    pub preventive_measures: Vec<Counted<String>>,
    /// The actions of the most recent resolution.
    pub last_fix: Vec<String>,
    /// A few incident ids, most recent first.
    pub examples: Vec<IncidentId>,
}
