//! The one rule for which index entries an incident has. The writer (diffing an
//! incident's entries before and after), the bulk path, `check` and `repair` all take
//! them from here, so adding an index starts with [`Entry`].

use crate::model::{Category, Incident, IncidentId, Priority, Status, Timestamp};

/// The fields of a record its index entries are derived from.
pub(crate) struct Indexed<'c, 'a> {
    pub(crate) id: IncidentId,
    pub(crate) created_at: Timestamp,
    pub(crate) status: Status,
    pub(crate) category: Category,
    pub(crate) priority: Priority,
    /// Each component once.
    pub(crate) components: &'c [&'a str],
    pub(crate) assignee: Option<&'a str>,
}

impl Indexed<'_, '_> {
    /// The indexed fields of a stored incident.
    pub(crate) fn with<'a, R>(inc: &'a Incident, f: impl FnOnce(&Indexed<'_, 'a>) -> R) -> R {
        let components = distinct_components(inc);
        f(&Indexed {
            id: inc.id,
            created_at: inc.created_at,
            status: inc.status,
            category: inc.category,
            priority: inc.priority,
            components: &components,
            assignee: inc.assignee.as_deref(),
        })
    }

    /// The `heads` value: what a query checks before decoding the record.
    pub(crate) fn head(&self) -> (i64, u8, u8, u8) {
        (
            self.created_at.micros(),
            self.status.code(),
            self.category.code(),
            self.priority.code(),
        )
    }
}

impl<'a> Indexed<'_, 'a> {
    /// Calls `f` with every secondary-index entry of the record, each once.
    #[inline]
    pub(crate) fn for_each_entry(&self, mut f: impl FnMut(Entry<'a>)) {
        f(Entry::Status(self.status));
        f(Entry::Category(self.category));
        f(Entry::Priority(self.priority));
        f(Entry::Created(self.created_at.micros()));
        for c in self.components {
            f(Entry::Component(c));
        }
        if let Some(a) = self.assignee {
            f(Entry::Assignee(a));
        }
    }
}

/// One secondary-index entry of an incident (the incident key is implied).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Entry<'a> {
    Status(Status),
    Category(Category),
    Priority(Priority),
    /// Creation time, UTC microseconds.
    Created(i64),
    Component(&'a str),
    Assignee(&'a str),
}

impl Entry<'_> {
    /// Its key in `index_counts`, for the indexes a query may be driven by.
    pub(crate) fn count_key(&self) -> Option<String> {
        match *self {
            Entry::Status(s) => Some(count_key_status(s)),
            Entry::Category(c) => Some(count_key_category(c)),
            Entry::Priority(p) => Some(count_key_priority(p)),
            Entry::Created(_) => None,
            Entry::Component(c) => Some(count_key_component(c)),
            Entry::Assignee(a) => Some(count_key_assignee(a)),
        }
    }
}

/// Every secondary-index entry of `inc`.
pub(crate) fn entries(inc: &Incident) -> Vec<Entry<'_>> {
    let mut out = Vec::with_capacity(6);
    Indexed::with(inc, |f| f.for_each_entry(|e| out.push(e)));
    out
}

pub(crate) fn count_key_status(s: Status) -> String {
    format!("status:{}", s.as_str())
}
pub(crate) fn count_key_category(c: Category) -> String {
    format!("category:{}", c.as_str())
}
pub(crate) fn count_key_priority(p: Priority) -> String {
    format!("priority:{}", p.as_str())
}
pub(crate) fn count_key_component(c: &str) -> String {
    format!("component:{c}")
}
pub(crate) fn count_key_assignee(a: &str) -> String {
    format!("assignee:{a}")
}
pub(crate) fn count_key_pattern(p: &str) -> String {
    format!("pattern:{p}")
}

/// The distinct components of an incident (duplicates in the list index once).
fn distinct_components(inc: &Incident) -> Vec<&str> {
    let mut v: Vec<&str> = inc.affected_components.iter().map(String::as_str).collect();
    v.sort_unstable();
    v.dedup();
    v
}
