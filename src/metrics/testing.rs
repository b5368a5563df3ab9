//! Builders for test incidents with explicit times.

use crate::model::{
    Category, Incident, IncidentId, Origin, Priority, Resolution, Status, TimelineEntry, Timestamp,
};

/// Monday 2025-07-07 00:00 UTC, in µs.
pub(crate) const BASE: i64 = 1_751_846_400_000_000;
pub(crate) const MIN: i64 = 60_000_000;

pub(crate) fn at(minutes: i64) -> Timestamp {
    Timestamp::from_micros(BASE + minutes * MIN)
}

pub(crate) fn at_secs(seconds: i64) -> Timestamp {
    Timestamp::from_micros(BASE + seconds * 1_000_000)
}

pub(crate) fn inc(seq: u32, category: Category, priority: Priority, created_min: i64) -> Incident {
    Incident {
        id: IncidentId::new(20250707, seq),
        created_at: at(created_min),
        updated_at: at(created_min),
        category,
        priority,
        status: Status::Open,
        title: format!("incident {seq}"),
        description: String::new(),
        affected_components: Vec::new(),
        impact: String::new(),
        assignee: None,
        timeline: vec![entry(at(created_min), "created", "")],
        resolution: None,
        acknowledged_at: None,
        matched_pattern: None,
        origin: Origin::Manual,
    }
}

pub(crate) fn entry(ts: Timestamp, action: &str, details: &str) -> TimelineEntry {
    TimelineEntry {
        timestamp: ts,
        action: action.into(),
        details: details.into(),
        by: None,
    }
}

pub(crate) fn ack(mut i: Incident, ts: Timestamp) -> Incident {
    i.acknowledged_at = Some(ts);
    i.status = Status::InProgress;
    i.timeline
        .push(entry(ts, "status_changed", "open -> in_progress"));
    i
}

pub(crate) fn resolve(mut i: Incident, ts: Timestamp) -> Incident {
    i.status = Status::Resolved;
    i.resolution = Some(Resolution {
        resolved_at: Some(ts),
        ..Resolution::default()
    });
    i.timeline.push(entry(ts, "resolved", ""));
    i
}

pub(crate) fn reopen(mut i: Incident, ts: Timestamp) -> Incident {
    i.status = Status::Open;
    i.timeline.push(entry(ts, "reopened", ""));
    i
}

pub(crate) fn on(mut i: Incident, components: &[&str]) -> Incident {
    i.affected_components = components.iter().map(|c| c.to_string()).collect();
    i
}

pub(crate) fn titled(mut i: Incident, title: &str) -> Incident {
    i.title = title.into();
    i
}
