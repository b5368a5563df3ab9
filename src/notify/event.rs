//! Events and their outbox entries: plain data, stored as JSON in the outbox table.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::model::{Category, Incident, IncidentId, PatternRef, Priority, Status, Timestamp};

/// What happened to an incident.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Changed,
    Escalated,
    SlaAtRisk,
    SlaBreached,
    Resolved,
    Reopened,
}

impl EventKind {
    pub const ALL: [EventKind; 7] = [
        EventKind::Created,
        EventKind::Changed,
        EventKind::Escalated,
        EventKind::SlaAtRisk,
        EventKind::SlaBreached,
        EventKind::Resolved,
        EventKind::Reopened,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Changed => "changed",
            EventKind::Escalated => "escalated",
            EventKind::SlaAtRisk => "sla_at_risk",
            EventKind::SlaBreached => "sla_breached",
            EventKind::Resolved => "resolved",
            EventKind::Reopened => "reopened",
        }
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        EventKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or(())
    }
}

/// The incident as it was when the event happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncidentSnapshot {
    pub id: IncidentId,
    pub title: String,
    pub priority: Priority,
    pub status: Status,
    pub category: Category,
    pub components: Vec<String>,
    pub assignee: Option<String>,
    pub created_at: Timestamp,
    pub pattern: Option<PatternRef>,
}

impl IncidentSnapshot {
    pub fn of(inc: &Incident) -> Self {
        Self {
            id: inc.id,
            title: inc.title.clone(),
            priority: inc.priority,
            status: inc.status,
            category: inc.category,
            components: inc.affected_components.clone(),
            assignee: inc.assignee.clone(),
            created_at: inc.created_at,
            pattern: inc.matched_pattern.clone(),
        }
    }
}

/// One event. `id` is given by the store when the event is written and never changes:
/// every delivery of it, retries included, carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub kind: EventKind,
    pub at: Timestamp,
    pub incident: IncidentSnapshot,
    /// What changed, in the words of the timeline.
    pub details: String,
    /// Targets named by the escalation step that caused it; empty: every target whose
    /// `events` take this kind.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub only: Vec<String>,
}

impl Event {
    /// An event about `inc`; its id is set when it is written.
    pub fn new(kind: EventKind, at: Timestamp, inc: &Incident, details: String) -> Self {
        Self {
            id: String::new(),
            kind,
            at,
            incident: IncidentSnapshot::of(inc),
            details,
            only: Vec::new(),
        }
    }
}

/// Delivery state of one event to one target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub target: String,
    /// Attempts started (a claim counts: a process killed while sending used one).
    pub attempts: u32,
    /// When it was routed to this target: the age that dead-letters it counts from here.
    pub queued_at: Timestamp,
    /// Not before this time.
    pub next_at: Timestamp,
    /// Claimed by a delivering worker until this time.
    pub lease_until: Option<Timestamp>,
    /// Gave up: attempts or age ran out. Only `incident outbox --retry` revives it.
    pub dead: bool,
    pub last_error: Option<String>,
}

/// An outbox row: the event and, once routed, where it still has to go.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxEntry {
    pub event: Event,
    /// Routing (which targets take the event) happens once, by the first worker that sees it.
    pub routed: bool,
    pub deliveries: Vec<Delivery>,
}
