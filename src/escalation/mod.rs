//! Escalation: steps that fire a set time after an incident was created unless it was
//! acknowledged or resolved by then, and the SLA at-risk/breached events.
//!
//! [`tick`] evaluates the policy at one time and writes what fired (timeline entries,
//! assignee, priority, the firing mark and the events) in one transaction; running it
//! twice at the same time writes nothing new. [`replay`] evaluates the policy over the
//! stored history without writing.

mod policy;

use std::collections::HashSet;

use serde::Serialize;

pub use policy::{Policy, Step, Unless};

use crate::error::{Error, Result};
use crate::manager::IncidentManager;
use crate::metrics::{AlertState, SlaMeasure, SlaTargets, alert_state, facts, open_deadlines};
use crate::model::{Incident, IncidentId, Priority, Status, TimelineEntry, Timestamp};
use crate::notify::{Event, EventKind};
use crate::store::Filter;

/// What an incident looked like at one time, from its timeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AsOf {
    priority: Priority,
    acknowledged: bool,
    resolved: bool,
}

/// The incident's priority and state at `t` (µs), read back from its timeline.
fn as_of(inc: &Incident, t: i64) -> AsOf {
    let mut priority = inc.priority;
    for e in inc.timeline.iter().rev() {
        if e.timestamp.micros() <= t {
            break;
        }
        if e.action == "updated"
            && let Some(from) = e
                .details
                .strip_prefix("priority: ")
                .and_then(|d| d.split(" -> ").next())
                .and_then(|p| p.parse().ok())
        {
            priority = from;
        }
    }
    let mut resolved = None;
    let mut lifecycle_seen = false;
    for e in inc
        .timeline
        .iter()
        .take_while(|e| e.timestamp.micros() <= t)
    {
        match e.action.as_str() {
            "resolved" | "closed" => {
                resolved = Some(true);
                lifecycle_seen = true;
            }
            "reopened" => {
                resolved = Some(false);
                lifecycle_seen = true;
            }
            _ => {}
        }
    }
    let lifecycle_seen = lifecycle_seen
        || inc
            .timeline
            .iter()
            .any(|e| matches!(e.action.as_str(), "resolved" | "closed" | "reopened"));
    // A resolved incident without a lifecycle entry (imported): its resolution time says.
    let resolved = match resolved {
        Some(r) => r,
        None if !lifecycle_seen && !inc.status.is_active() => {
            inc.resolved_at().is_none_or(|r| r.micros() <= t)
        }
        None => false,
    };
    let (f, _) = facts(inc);
    let acknowledged = resolved || f.acked.is_some_and(|a| a <= t);
    AsOf {
        priority,
        acknowledged,
        resolved,
    }
}

/// A step due for an incident.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Due {
    /// `<priority>[<index>]`: fires once per incident.
    key: String,
    priority: Priority,
    index: usize,
}

/// The steps of `policy` that fire for `inc` at `t`, in order. `fired` says whether a step
/// already fired; a step that raises the priority brings the new priority's due steps in.
fn due_steps(
    inc: &Incident,
    policy: &Policy,
    t: i64,
    state: AsOf,
    fired: &mut dyn FnMut(&str) -> Result<bool>,
) -> Result<Vec<Due>> {
    let mut out: Vec<Due> = Vec::new();
    let mut priority = state.priority;
    let mut seen = HashSet::new();
    'again: loop {
        for (index, step) in policy.steps(priority).iter().enumerate() {
            let key = format!("{priority}[{index}]");
            if seen.contains(&key)
                || inc.created_at.micros() + step.after_micros() > t
                || match step.unless {
                    Some(Unless::Acknowledged) => state.acknowledged,
                    Some(Unless::Resolved) => state.resolved,
                    None => false,
                }
                || fired(&key)?
            {
                continue;
            }
            seen.insert(key.clone());
            out.push(Due {
                key,
                priority,
                index,
            });
            if let Some(p) = step.raise_priority.filter(|p| *p < priority) {
                priority = p;
                continue 'again;
            }
        }
        return Ok(out);
    }
}

/// One firing: an escalation step, or an SLA deadline turning at risk or breached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Firing {
    pub id: IncidentId,
    /// `critical[0]` for a step; `sla:response:at_risk` etc. for an SLA event.
    pub step: String,
    pub at: Timestamp,
    /// What it did, as written on the timeline.
    pub details: String,
}

/// What one evaluation fired.
#[derive(Clone, Debug, Default, Serialize)]
pub struct TickReport {
    /// Active incidents looked at.
    pub examined: u64,
    pub fired: Vec<Firing>,
}

/// What `step` does to `inc` at `at`: the timeline entries (the `escalated` entry first)
/// and the description of the firing.
fn apply(
    inc: &mut Incident,
    due: &Due,
    step: &Step,
    at: Timestamp,
) -> (Vec<TimelineEntry>, String) {
    let mut did = Vec::new();
    let mut entries = Vec::new();
    // Changes the escalation policy makes are recorded as its own.
    let entry = |action: &str, details: String| TimelineEntry {
        timestamp: at,
        action: action.into(),
        details,
        by: Some("escalation".into()),
    };
    if let Some(a) = &step.assign
        && inc.assignee.as_deref() != Some(a)
    {
        entries.push(entry(
            "updated",
            format!(
                "assignee: {} -> {a}",
                inc.assignee.as_deref().unwrap_or("(none)")
            ),
        ));
        inc.assignee = Some(a.clone());
        did.push(format!("assigned {a}"));
    }
    if let Some(p) = step.raise_priority.filter(|p| *p < inc.priority) {
        entries.push(entry(
            "updated",
            format!("priority: {} -> {p}", inc.priority),
        ));
        did.push(format!("priority {} -> {p}", inc.priority));
        inc.priority = p;
    }
    if let Some(n) = &step.note {
        entries.push(entry("note", n.clone()));
        did.push("note added".into());
    }
    if !step.notify.is_empty() {
        did.push(format!("notified {}", step.notify.join(", ")));
    }
    let mut details = format!("step {} (after {} min", due.key, step.after_minutes);
    if let Some(u) = step.unless {
        details.push_str(&format!(", unless {u}"));
    }
    details.push(')');
    if !did.is_empty() {
        details.push_str(": ");
        details.push_str(&did.join("; "));
    }
    entries.insert(0, entry("escalated", details.clone()));
    (entries, details)
}

/// The SLA deadlines of `inc` that are at risk or breached at `now`, with their step keys.
fn sla_due(inc: &Incident, sla: &SlaTargets, now: i64) -> Vec<(String, EventKind, String)> {
    let (f, _) = facts(inc);
    let target = sla.get(inc.priority);
    let mut out = Vec::new();
    if !inc.status.is_active() {
        return out;
    }
    let deadlines = open_deadlines(target, f.created, f.acked.or(f.resolved), f.resolved);
    for (measure, deadline) in deadlines.into_iter().flatten() {
        let (kind, state) = match alert_state(deadline, now) {
            Some(AlertState::Breaching) => (EventKind::SlaBreached, "breached"),
            Some(AlertState::AtRisk) => (EventKind::SlaAtRisk, "at_risk"),
            None => continue,
        };
        let what = match measure {
            SlaMeasure::Response => "response",
            SlaMeasure::Resolution => "resolution",
        };
        out.push((
            format!("sla:{what}:{state}"),
            kind,
            format!(
                "{what} SLA {} (deadline {})",
                state.replace('_', " "),
                Timestamp::from_micros(deadline).to_rfc3339()
            ),
        ));
    }
    out
}

/// Evaluates `policy` and the SLA targets for every active incident at `now` and writes
/// what fires, all in one transaction: per firing a timeline entry (and the step's
/// assignee, priority and note), its mark, and an `escalated` event (to the step's
/// `notify` targets); per SLA deadline that turned at risk or breached, one event.
/// Marks make it idempotent: a second run at the same time fires nothing.
pub fn tick(
    m: &IncidentManager,
    policy: &Policy,
    sla: &SlaTargets,
    now: Timestamp,
) -> Result<TickReport> {
    let active = m.query(&Filter {
        statuses: vec![Status::Open, Status::InProgress],
        ..Filter::default()
    })?;
    let mut report = TickReport {
        examined: active.len() as u64,
        fired: Vec::new(),
    };
    let t = now.micros();
    let store = m.store();
    store.contain(|| {
        store.write(|w| {
            // Oldest first: the query gives newest first.
            for candidate in active.iter().rev() {
                if candidate.created_at > now {
                    continue;
                }
                let id = candidate.id;
                let Some(old) = w.get(id)? else { continue };
                let state = as_of(&old, t);
                let due = due_steps(&old, policy, t, state, &mut |key| {
                    Ok(w.fired(id, key)?.is_some())
                })?;
                let mut inc = old.clone();
                // The timeline stays in time order: an evaluation dated before the last
                // change is written at that change's time.
                let at = inc
                    .timeline
                    .iter()
                    .map(|e| e.timestamp)
                    .max()
                    .map_or(now, |last| last.max(now));
                let mut events = Vec::new();
                for d in &due {
                    let step = &policy.steps(d.priority)[d.index];
                    let (entries, details) = apply(&mut inc, d, step, at);
                    inc.timeline.extend(entries);
                    w.mark_fired(id, &d.key, t)?;
                    events.push((EventKind::Escalated, details.clone(), step.notify.clone()));
                    report.fired.push(Firing {
                        id,
                        step: d.key.clone(),
                        at,
                        details,
                    });
                }
                for (key, kind, details) in sla_due(&inc, sla, t) {
                    if w.fired(id, &key)?.is_some() {
                        continue;
                    }
                    w.mark_fired(id, &key, t)?;
                    // A breach reached without passing "at risk" makes that one moot.
                    if kind == EventKind::SlaBreached {
                        w.mark_fired(id, &key.replace(":breached", ":at_risk"), t)?;
                    }
                    events.push((kind, details.clone(), Vec::new()));
                    report.fired.push(Firing {
                        id,
                        step: key,
                        at: now,
                        details,
                    });
                }
                if !due.is_empty() {
                    inc.updated_at = inc.updated_at.max(at);
                    inc.check_content_limits()?;
                    w.put(Some(&old), &inc)?;
                }
                for (kind, details, only) in events {
                    let mut event = Event::new(kind, at, &inc, details);
                    event.only = only;
                    w.emit(event)?;
                }
            }
            Ok::<_, Error>(())
        })
    })?;
    Ok(report)
}

/// Replays `policy` over the stored history: for every incident created in
/// `[since, until)`, which steps would have fired and when, had the policy run all along
/// (each step at the first moment it was due and not held back by its condition).
/// Priority raises by earlier steps are taken into account. Writes nothing.
pub fn replay(
    m: &IncidentManager,
    policy: &Policy,
    since: Option<Timestamp>,
    until: Timestamp,
) -> Result<Vec<Firing>> {
    let incidents = m.query(&Filter {
        since,
        until: Some(until),
        ..Filter::default()
    })?;
    let mut out = Vec::new();
    for inc in incidents.iter().rev() {
        out.extend(replay_one(inc, policy, until.micros())?);
    }
    out.sort_by(|a, b| (a.at, a.id, &a.step).cmp(&(b.at, b.id, &b.step)));
    Ok(out)
}

fn replay_one(inc: &Incident, policy: &Policy, until: i64) -> Result<Vec<Firing>> {
    let created = inc.created_at.micros();
    let mut times: Vec<i64> = Priority::ALL
        .iter()
        .flat_map(|p| policy.steps(*p))
        .map(|s| created + s.after_micros())
        .chain(inc.timeline.iter().map(|e| e.timestamp.micros()))
        .filter(|t| (created..until).contains(t))
        .collect();
    times.sort_unstable();
    times.dedup();
    let mut fired: HashSet<String> = HashSet::new();
    let mut raised: Option<Priority> = None;
    let mut out = Vec::new();
    for t in times {
        let mut state = as_of(inc, t);
        if state.resolved {
            continue;
        }
        if let Some(r) = raised {
            state.priority = state.priority.min(r);
        }
        let due = due_steps(inc, policy, t, state, &mut |k| Ok(fired.contains(k)))?;
        let mut sim = inc.clone();
        sim.priority = state.priority;
        for d in due {
            let step = &policy.steps(d.priority)[d.index];
            let (_, details) = apply(&mut sim, &d, step, Timestamp::from_micros(t));
            if let Some(p) = step.raise_priority {
                raised = Some(raised.map_or(p, |r| r.min(p)));
            }
            fired.insert(d.key.clone());
            out.push(Firing {
                id: inc.id,
                step: d.key,
                at: Timestamp::from_micros(t),
                details,
            });
        }
    }
    Ok(out)
}
