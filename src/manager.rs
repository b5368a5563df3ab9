//! `IncidentManager`: the lifecycle of incidents over the store.

use std::path::Path;
use std::time::Duration;

use crate::error::{Error, Result};
use crate::model::{
    Category, Incident, IncidentId, Origin, Pattern, PatternRef, Priority, Resolution, Status,
    TimelineEntry, Timestamp,
};
use crate::notify::{Event, EventKind};
use crate::patterns::matching::{PatternMatch, incident_text, match_text};
use crate::store::{self, Bulk, Filter, Store, Writer};

/// What a new incident needs.
#[derive(Clone, Debug)]
pub struct NewIncident {
    pub category: Category,
    pub priority: Priority,
    pub title: String,
    pub description: String,
    pub components: Vec<String>,
    pub impact: String,
    pub assignee: Option<String>,
    /// When it started; defaults to now. The id's date is this time's local date.
    pub at: Option<Timestamp>,
    /// Who records it (see [`TimelineEntry::by`]).
    pub by: Option<String>,
}

/// Changes to an incident; `None`/empty fields stay as they are.
#[derive(Clone, Debug, Default)]
pub struct Update {
    /// Only `open` and `in_progress`; use resolve/close/reopen for the rest.
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub category: Option<Category>,
    pub assignee: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub impact: Option<String>,
    pub add_components: Vec<String>,
    pub note: Option<String>,
    pub at: Option<Timestamp>,
    /// Who makes the change (see [`TimelineEntry::by`]).
    pub by: Option<String>,
}

/// What resolving an incident records.
#[derive(Clone, Debug, Default)]
pub struct ResolveInput {
    pub actions: Vec<String>,
    pub root_cause: String,
    pub preventive: Vec<String>,
    pub knowledge: Vec<String>,
    pub at: Option<Timestamp>,
    /// Who resolves it (see [`TimelineEntry::by`]).
    pub by: Option<String>,
}

/// The incident store with its lifecycle rules.
///
/// Every operation runs in one write transaction: the record, its timeline entry and
/// every index entry change together or not at all.
#[derive(Debug)]
pub struct IncidentManager {
    store: Store,
}

fn clean_list(items: &[String]) -> Vec<String> {
    items
        .iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

fn non_empty(field: &'static str, value: &str) -> Result<String> {
    let v = value.trim();
    if v.is_empty() {
        return Err(Error::invalid(field, "must not be empty"));
    }
    Ok(v.to_string())
}

impl IncidentManager {
    /// Opens or creates the database at `path`, waiting up to 10 s if another process has it.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        Self::open_with_timeout(path, store::DEFAULT_BUSY_TIMEOUT)
    }

    /// Like [`IncidentManager::open`] with an explicit wait for a busy database.
    pub fn open_with_timeout(path: impl AsRef<Path>, busy: Duration) -> Result<Self> {
        Self::open_waiting(path, busy, &|| {})
    }

    /// Like [`IncidentManager::open_with_timeout`]; `waiting` is called once if the wait
    /// for another process passes a second.
    pub fn open_waiting(
        path: impl AsRef<Path>,
        busy: Duration,
        waiting: &dyn Fn(),
    ) -> Result<Self> {
        Ok(Self {
            store: Store::open_waiting(path.as_ref(), busy, waiting)?,
        })
    }

    /// Opens or creates the database at `location` (a redb file or a PostgreSQL URL).
    pub fn open_location(
        location: &store::Location,
        busy: Duration,
        waiting: &dyn Fn(),
    ) -> Result<Self> {
        Ok(Self {
            store: Store::open_location(location, busy, waiting)?,
        })
    }

    /// The underlying store.
    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    /// Checks every record and index of the file (see [`crate::db::CheckReport`]).
    pub fn check(&self) -> Result<store::CheckReport> {
        Ok(store::check(&self.store)?)
    }

    /// Rebuilds every index, count and counter from the records.
    pub fn repair(&self) -> Result<()> {
        Ok(store::repair(&self.store)?)
    }

    /// The schema version recorded in the file.
    pub fn schema_version(&self) -> Result<u64> {
        Ok(self.store.schema_version()?)
    }

    /// Compacts the database file; returns its size before and after, in bytes.
    pub fn compact(&mut self) -> Result<(u64, u64)> {
        Ok(self.store.compact()?)
    }

    /// Records a new incident and returns it.
    pub fn create_incident(&self, new: NewIncident) -> Result<Incident> {
        Ok(self.create_incident_matched(new)?.0)
    }

    /// Records a new incident, matching it against the known patterns first: on a match
    /// the pattern is recorded on the incident and in the pattern index, in the same
    /// transaction, and returned.
    pub fn create_incident_matched(
        &self,
        new: NewIncident,
    ) -> Result<(Incident, Option<PatternMatch>)> {
        self.store.contain(|| {
            let patterns = self.patterns()?;
            self.store.write(|w| create_in(w, &patterns, new))
        })
    }

    /// Applies every change in ONE write transaction (one durable commit), in order: a
    /// later change sees the earlier ones, ids handed out stay distinct and in order, and
    /// each change writes its outbox event. A change that is refused or invalid fails
    /// alone, without writing anything; the others still commit. A database failure
    /// fails the whole batch (the outer error): nothing of it is written.
    pub fn apply_batch(&self, ops: Vec<Op>) -> Result<Vec<Result<Applied>>> {
        self.store.contain(|| {
            let patterns = if ops.iter().any(|op| matches!(op, Op::Create(_))) {
                self.patterns()?
            } else {
                Vec::new()
            };
            self.store.write(|w| {
                let mut out = Vec::with_capacity(ops.len());
                for op in ops {
                    match apply_op(w, &patterns, op) {
                        // It may have written part of this change: only an abort undoes it.
                        Err(e) if e.is_database() => return Err(e),
                        r => out.push(r),
                    }
                }
                Ok(out)
            })
        })
    }

    /// Creates many incidents, `batch` per write transaction; returns how many were made.
    /// Each batch is atomic; a failure leaves earlier batches in place.
    pub fn bulk_create(
        &self,
        items: impl IntoIterator<Item = NewIncident>,
        batch: usize,
    ) -> Result<u64> {
        self.store.contain(|| {
            let incidents = items.into_iter().map(|new| {
                let at = new.at.unwrap_or_else(Timestamp::now);
                Incident {
                    id: IncidentId::new(0, 0),
                    created_at: at,
                    updated_at: at,
                    category: new.category,
                    priority: new.priority,
                    status: Status::Open,
                    timeline: vec![TimelineEntry {
                        timestamp: at,
                        action: "created".into(),
                        details: format!("Incident created: {}", new.title.trim()),
                        by: new.by,
                    }],
                    title: new.title.trim().to_string(),
                    description: new.description,
                    affected_components: clean_list(&new.components),
                    impact: new.impact,
                    assignee: new.assignee,
                    resolution: None,
                    acknowledged_at: None,
                    matched_pattern: None,
                    origin: Origin::Manual,
                }
            });
            self.bulk_insert(incidents, batch)
        })
    }

    /// Stores fully formed incidents (any status, timeline, resolution), `batch` per write
    /// transaction. Each gets a fresh id from its `created_at`; the `id` given is ignored.
    pub fn bulk_insert(
        &self,
        items: impl IntoIterator<Item = Incident>,
        batch: usize,
    ) -> Result<u64> {
        self.store.contain(|| {
            let mut items = items.into_iter().peekable();
            let mut made = 0;
            while items.peek().is_some() {
                self.store.write(|w| {
                    let mut bulk = Bulk::default();
                    for mut incident in items.by_ref().take(batch.max(1)) {
                        non_empty("title", &incident.title)?;
                        if incident
                            .affected_components
                            .iter()
                            .all(|c| c.trim().is_empty())
                        {
                            return Err(Error::invalid(
                                "components",
                                "at least one affected component is required",
                            ));
                        }
                        incident.check_limits()?;
                        incident.id =
                            w.next_id(IncidentId::date_key(incident.created_at.local_date()))?;
                        bulk.add(&incident);
                        made += 1;
                    }
                    w.flush_bulk(&mut bulk)?;
                    Ok::<_, Error>(())
                })?;
            }
            self.store.after_bulk_load(made);
            Ok(made)
        })
    }

    /// Reads one incident.
    pub fn get(&self, id: IncidentId) -> Result<Incident> {
        self.store.contain(|| {
            self.store
                .snapshot()?
                .get(id)?
                .ok_or_else(|| Error::not_found(id))
        })
    }

    /// Incidents matching `filter`, in id order (newest first unless asked otherwise).
    /// Only records that the indexed fields select are decoded.
    pub fn query(&self, filter: &Filter) -> Result<Vec<Incident>> {
        self.store
            .contain(|| Ok(self.store.snapshot()?.query(filter)?))
    }

    /// Calls `f` for every incident in id order, without holding them all in memory.
    pub fn for_each(&self, mut f: impl FnMut(Incident) -> Result<()>) -> Result<()> {
        self.store
            .contain(|| self.store.snapshot()?.scan(|inc| f(inc?)))
    }

    /// Like [`IncidentManager::for_each`], but a record that cannot be decoded is passed
    /// to `damaged` (its id and why) and skipped: what is readable of a damaged file.
    pub fn for_each_readable(
        &self,
        mut f: impl FnMut(Incident) -> Result<()>,
        mut damaged: impl FnMut(String),
    ) -> Result<()> {
        self.store.contain(|| {
            self.store.snapshot()?.scan(|inc| match inc {
                Ok(inc) => f(inc),
                Err(e) => {
                    damaged(e.to_string());
                    Ok(())
                }
            })
        })
    }

    /// Like [`IncidentManager::for_each`], with each incident's pattern id (from the last
    /// `analyze` or the create-time match), joined in key order without extra lookups.
    pub fn for_each_with_pattern(
        &self,
        f: impl FnMut(Incident, Option<&str>) -> Result<()>,
    ) -> Result<()> {
        self.store
            .contain(|| self.store.snapshot()?.scan_with_pattern(f))
    }

    /// Number of incidents in the store.
    pub fn count(&self) -> Result<u64> {
        self.store.contain(|| Ok(self.store.snapshot()?.count()?))
    }

    /// Every stored pattern, by count descending.
    pub fn patterns(&self) -> Result<Vec<Pattern>> {
        let mut out = self.store.snapshot()?.patterns()?;
        out.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Incidents of a pattern, newest first.
    pub fn pattern_members(&self, pattern_id: &str, limit: usize) -> Result<Vec<Incident>> {
        Ok(self.store.snapshot()?.pattern_members(pattern_id, limit)?)
    }

    /// Runs one change in its own write transaction.
    fn write_one<T>(&self, f: impl FnOnce(&mut Writer<'_>) -> Result<T>) -> Result<T> {
        self.store.contain(|| self.store.write(f))
    }

    /// Changes fields, moves between open and in_progress, or adds a note.
    pub fn update_incident(&self, id: IncidentId, u: Update) -> Result<Incident> {
        self.write_one(|w| update_in(w, id, u))
    }

    /// Adds a note to the timeline.
    pub fn add_note(&self, id: IncidentId, note: &str, at: Option<Timestamp>) -> Result<Incident> {
        self.add_note_by(id, note, at, None)
    }

    /// [`IncidentManager::add_note`], recording who wrote it.
    pub fn add_note_by(
        &self,
        id: IncidentId,
        note: &str,
        at: Option<Timestamp>,
        by: Option<&str>,
    ) -> Result<Incident> {
        self.write_one(|w| note_in(w, id, note, at, by))
    }

    /// Resolves an open or in-progress incident. Needs actions and a root cause.
    pub fn resolve_incident(&self, id: IncidentId, r: ResolveInput) -> Result<Incident> {
        self.write_one(|w| resolve_in(w, id, r))
    }

    /// Closes a resolved incident.
    pub fn close_incident(&self, id: IncidentId, at: Option<Timestamp>) -> Result<Incident> {
        self.close_incident_by(id, at, None)
    }

    /// [`IncidentManager::close_incident`], recording who closed it.
    pub fn close_incident_by(
        &self,
        id: IncidentId,
        at: Option<Timestamp>,
        by: Option<&str>,
    ) -> Result<Incident> {
        self.write_one(|w| close_in(w, id, at, by))
    }

    /// Reopens a resolved or closed incident. The old resolution stays on record.
    pub fn reopen_incident(
        &self,
        id: IncidentId,
        note: Option<&str>,
        at: Option<Timestamp>,
    ) -> Result<Incident> {
        self.reopen_incident_by(id, note, at, None)
    }

    /// [`IncidentManager::reopen_incident`], recording who reopened it.
    pub fn reopen_incident_by(
        &self,
        id: IncidentId,
        note: Option<&str>,
        at: Option<Timestamp>,
        by: Option<&str>,
    ) -> Result<Incident> {
        self.write_one(|w| reopen_in(w, id, note, at, by))
    }
}

/// One change for [`IncidentManager::apply_batch`].
#[derive(Clone, Debug)]
pub enum Op {
    Create(NewIncident),
    Update(IncidentId, Update),
    Resolve(IncidentId, ResolveInput),
    Close {
        id: IncidentId,
        at: Option<Timestamp>,
        by: Option<String>,
    },
    Reopen {
        id: IncidentId,
        note: Option<String>,
        at: Option<Timestamp>,
        by: Option<String>,
    },
    Note {
        id: IncidentId,
        text: String,
        at: Option<Timestamp>,
        by: Option<String>,
    },
}

/// What a change of a batch made.
#[derive(Clone, Debug)]
pub enum Applied {
    /// A new incident, with the known pattern it matched.
    Created(Incident, Option<PatternMatch>),
    /// The changed incident.
    Changed(Incident),
}

fn apply_op(w: &mut Writer<'_>, patterns: &[Pattern], op: Op) -> Result<Applied> {
    Ok(match op {
        Op::Create(new) => {
            let (incident, found) = create_in(w, patterns, new)?;
            Applied::Created(incident, found)
        }
        Op::Update(id, u) => Applied::Changed(update_in(w, id, u)?),
        Op::Resolve(id, r) => Applied::Changed(resolve_in(w, id, r)?),
        Op::Close { id, at, by } => Applied::Changed(close_in(w, id, at, by.as_deref())?),
        Op::Reopen { id, note, at, by } => {
            Applied::Changed(reopen_in(w, id, note.as_deref(), at, by.as_deref())?)
        }
        Op::Note { id, text, at, by } => {
            Applied::Changed(note_in(w, id, &text, at, by.as_deref())?)
        }
    })
}

/// Records a new incident in `w`, matched against `patterns`.
fn create_in(
    w: &mut Writer<'_>,
    patterns: &[Pattern],
    new: NewIncident,
) -> Result<(Incident, Option<PatternMatch>)> {
    let title = non_empty("title", &new.title)?;
    let components = clean_list(&new.components);
    if components.is_empty() {
        return Err(Error::invalid(
            "components",
            "at least one affected component is required",
        ));
    }
    let now = Timestamp::now();
    let at = new.at.unwrap_or(now);
    let mut incident = Incident {
        id: IncidentId::new(0, 0),
        created_at: at,
        updated_at: at,
        category: new.category,
        priority: new.priority,
        status: Status::Open,
        title: title.clone(),
        description: new.description.trim().to_string(),
        affected_components: components,
        impact: new.impact.trim().to_string(),
        assignee: new
            .assignee
            .map(|a| a.trim().to_string())
            .filter(|a| !a.is_empty()),
        timeline: vec![TimelineEntry {
            timestamp: at,
            action: "created".into(),
            details: format!(
                "Incident created: {title} (category {}, priority {})",
                new.category, new.priority
            ),
            by: new.by.clone(),
        }],
        resolution: None,
        acknowledged_at: None,
        matched_pattern: None,
        origin: Origin::Manual,
    };
    let found = match_text(patterns, &incident_text(&incident));
    if let Some(m) = &found {
        incident.matched_pattern = Some(PatternRef {
            pattern_id: m.pattern_id.clone(),
            name: m.name.clone(),
        });
    }
    // Every refusal comes before the first write (and before an id is handed out), so
    // a batch can fail this change alone.
    incident.check_limits()?;
    let id = w.next_id(IncidentId::date_key(at.local_date()))?;
    incident.id = id;
    w.put(None, &incident)?;
    if let Some(m) = &found {
        w.set_pattern(id, Some(&m.pattern_id))?;
    }
    let details = incident.timeline[0].details.clone();
    w.emit(Event::new(EventKind::Created, at, &incident, details))?;
    Ok((incident, found))
}

/// Applies `change` to one incident in `w`; the change returns the
/// timeline entries it adds, and a `kind` event describing them goes to the outbox in
/// the same transaction. Nothing is written if it is refused: every refusal comes
/// before the first write.
/// `lifecycle` (resolve, close, reopen) may pass the timeline limit: an incident
/// full of notes must still be closable.
fn modify_in(
    w: &mut Writer<'_>,
    id: IncidentId,
    at: Option<Timestamp>,
    by: Option<&str>,
    lifecycle: bool,
    kind: EventKind,
    change: impl FnOnce(&mut Incident, Timestamp) -> Result<Vec<TimelineEntry>>,
) -> Result<Incident> {
    let old = w.get(id)?.ok_or_else(|| Error::not_found(id))?;
    let at = at.unwrap_or_else(Timestamp::now);
    if at < old.created_at {
        return Err(Error::invalid(
            "at",
            format!(
                "{} is before {id} was created ({})",
                at.to_rfc3339(),
                old.created_at.to_rfc3339()
            ),
        ));
    }
    // The timeline stays in time order: no change is dated before the last one.
    if let Some(last) = old.timeline.iter().map(|e| e.timestamp).max()
        && at < last
    {
        return Err(Error::invalid(
            "at",
            format!(
                "{} is before the last change of {id} ({})",
                at.to_rfc3339(),
                last.to_rfc3339()
            ),
        ));
    }
    let mut new = old.clone();
    let mut entries = change(&mut new, at)?;
    for e in &mut entries {
        e.by = by.map(str::to_string);
    }
    if entries.is_empty() {
        return Err(Error::invalid("update", "nothing to change"));
    }
    let details = entries
        .iter()
        .map(|e| e.details.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    new.timeline.extend(entries);
    new.updated_at = new.updated_at.max(at);
    if lifecycle {
        new.check_content_limits()?;
    } else {
        new.check_limits()?;
    }
    w.put(Some(&old), &new)?;
    w.emit(Event::new(kind, at, &new, details))?;
    Ok(new)
}

/// Changes fields, moves between open and in_progress, or adds a note.
fn update_in(w: &mut Writer<'_>, id: IncidentId, u: Update) -> Result<Incident> {
    modify_in(
        w,
        id,
        u.at,
        u.by.as_deref(),
        false,
        EventKind::Changed,
        |inc, at| {
            let mut entries = Vec::new();
            let mut entry = |action: &str, details: String| {
                entries.push(TimelineEntry {
                    timestamp: at,
                    action: action.into(),
                    details,
                    by: None,
                })
            };
            if let Some(s) = u.status
                && s != inc.status
            {
                if !matches!(s, Status::Open | Status::InProgress) {
                    return Err(Error::refused(
                        id,
                        inc.status,
                        "update",
                        format!("status {s} cannot be set by update"),
                    ));
                }
                if !inc.status.is_active() {
                    return Err(Error::refused(
                        id,
                        inc.status,
                        "update",
                        format!("it is {}", inc.status),
                    ));
                }
                entry("status_changed", format!("{} -> {s}", inc.status));
                if s == Status::InProgress && inc.acknowledged_at.is_none() {
                    inc.acknowledged_at = Some(at);
                }
                inc.status = s;
            }
            if let Some(p) = u.priority.filter(|p| *p != inc.priority) {
                entry("updated", format!("priority: {} -> {p}", inc.priority));
                inc.priority = p;
            }
            if let Some(c) = u.category.filter(|c| *c != inc.category) {
                entry("updated", format!("category: {} -> {c}", inc.category));
                inc.category = c;
            }
            if let Some(a) = u.assignee.as_deref().map(str::trim) {
                let new = (!a.is_empty()).then(|| a.to_string());
                if new != inc.assignee {
                    entry(
                        "updated",
                        format!(
                            "assignee: {} -> {}",
                            inc.assignee.as_deref().unwrap_or("(none)"),
                            new.as_deref().unwrap_or("(none)")
                        ),
                    );
                    inc.assignee = new;
                }
            }
            if let Some(t) = &u.title {
                let t = non_empty("title", t)?;
                if t != inc.title {
                    entry("updated", format!("title: {:?} -> {t:?}", inc.title));
                    inc.title = t;
                }
            }
            if let Some(d) = u.description.as_deref().map(str::trim)
                && d != inc.description
            {
                entry(
                    "updated",
                    format!("description: {:?} -> {d:?}", inc.description),
                );
                inc.description = d.to_string();
            }
            if let Some(i) = u.impact.as_deref().map(str::trim)
                && i != inc.impact
            {
                entry("updated", format!("impact: {:?} -> {i:?}", inc.impact));
                inc.impact = i.to_string();
            }
            let mut have: std::collections::HashSet<String> =
                inc.affected_components.iter().cloned().collect();
            for c in clean_list(&u.add_components) {
                if have.insert(c.clone()) {
                    entry("updated", format!("component added: {c}"));
                    inc.affected_components.push(c);
                }
            }
            if let Some(n) = u.note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                entry("note", n.to_string());
            }
            Ok(entries)
        },
    )
}

/// [`IncidentManager::add_note`], recording who wrote it.
fn note_in(
    w: &mut Writer<'_>,
    id: IncidentId,
    note: &str,
    at: Option<Timestamp>,
    by: Option<&str>,
) -> Result<Incident> {
    let note = non_empty("note", note)?;
    update_in(
        w,
        id,
        Update {
            note: Some(note),
            at,
            by: by.map(str::to_string),
            ..Update::default()
        },
    )
}

/// Resolves an open or in-progress incident. Needs actions and a root cause.
fn resolve_in(w: &mut Writer<'_>, id: IncidentId, r: ResolveInput) -> Result<Incident> {
    let actions = clean_list(&r.actions);
    if actions.is_empty() {
        return Err(Error::invalid(
            "actions",
            "resolving needs at least one action taken",
        ));
    }
    let root_cause = non_empty("root cause", &r.root_cause)?;
    modify_in(
        w,
        id,
        r.at,
        r.by.as_deref(),
        true,
        EventKind::Resolved,
        |inc, at| {
            if !inc.status.is_active() {
                return Err(Error::refused(
                    id,
                    inc.status,
                    "resolve",
                    format!("it is already {}", inc.status),
                ));
            }
            let mut details = format!(
                "{} -> resolved; root cause: {root_cause}; actions: {}",
                inc.status,
                actions.join("; ")
            );
            let preventive = clean_list(&r.preventive);
            let knowledge = clean_list(&r.knowledge);
            if !preventive.is_empty() {
                details.push_str(&format!("; preventive: {}", preventive.join("; ")));
            }
            if !knowledge.is_empty() {
                details.push_str(&format!("; knowledge: {}", knowledge.join("; ")));
            }
            inc.status = Status::Resolved;
            inc.resolution = Some(Resolution {
                actions_taken: actions,
                root_cause,
                preventive_measures: preventive,
                knowledge_updates: knowledge,
                resolved_at: Some(at),
            });
            Ok(vec![TimelineEntry {
                timestamp: at,
                action: "resolved".into(),
                details,
                by: None,
            }])
        },
    )
}

/// [`IncidentManager::close_incident`], recording who closed it.
fn close_in(
    w: &mut Writer<'_>,
    id: IncidentId,
    at: Option<Timestamp>,
    by: Option<&str>,
) -> Result<Incident> {
    modify_in(w, id, at, by, true, EventKind::Changed, |inc, at| {
        if inc.status != Status::Resolved {
            let reason = match inc.status {
                Status::Closed => "it is already closed".to_string(),
                s => format!("it is {s}; resolve it first"),
            };
            return Err(Error::refused(id, inc.status, "close", reason));
        }
        inc.status = Status::Closed;
        Ok(vec![TimelineEntry {
            timestamp: at,
            action: "closed".into(),
            details: "resolved -> closed".into(),
            by: None,
        }])
    })
}

/// [`IncidentManager::reopen_incident`], recording who reopened it.
fn reopen_in(
    w: &mut Writer<'_>,
    id: IncidentId,
    note: Option<&str>,
    at: Option<Timestamp>,
    by: Option<&str>,
) -> Result<Incident> {
    modify_in(w, id, at, by, true, EventKind::Reopened, |inc, at| {
        if inc.status.is_active() {
            return Err(Error::refused(
                id,
                inc.status,
                "reopen",
                format!("it is {}, not resolved or closed", inc.status),
            ));
        }
        let mut details = format!("{} -> open", inc.status);
        if let Some(r) = &inc.resolution {
            details.push_str(&format!(
                "; previous resolution: root cause {:?}, resolved at {}",
                r.root_cause,
                r.resolved_at.map(|t| t.to_rfc3339()).unwrap_or_default()
            ));
        }
        if let Some(n) = note.map(str::trim).filter(|n| !n.is_empty()) {
            details.push_str(&format!("; note: {n}"));
        }
        inc.status = Status::Open;
        Ok(vec![TimelineEntry {
            timestamp: at,
            action: "reopened".into(),
            details,
            by: None,
        }])
    })
}
