//! The delivery worker: routes new events to their targets, claims due deliveries under a
//! lease in a write transaction, sends them with no transaction open, and records the
//! outcome (delivered, retry later with backoff, or dead letter).
//!
//! At-least-once: a delivery leaves the outbox only after its receiver answered 2xx. A
//! process killed while sending leaves the claim behind; it is claimed again once its lease
//! ends. Two workers on one store never hold the same delivery at once: claiming is a write
//! transaction, and redb has one writer.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::{Format, NotifyConfig};
use super::event::{Delivery, Event, OutboxEntry};
use super::payload::{Context, json_body, slack_body};
use super::send::{Outcome, agent, backoff, post};
use crate::error::Result;
use crate::manager::IncidentManager;
use crate::model::Timestamp;
use crate::patterns::matching::{incident_text, match_text};
use crate::store::Edit;

/// A delivery claimed for sending.
#[derive(Clone, Debug)]
pub struct Claim {
    pub seq: u64,
    pub target: String,
    pub event: Event,
    /// The claim's lease; the outcome is recorded against it.
    pub lease_until: Timestamp,
    pub attempt: u32,
    /// The incident's stored pattern match, for the message.
    pub context: Context,
}

/// Counters since the worker started (for the metrics).
#[derive(Debug, Default)]
pub struct DeliveryCounters {
    pub delivered: AtomicU64,
    pub failed_attempts: AtomicU64,
    pub dead_lettered: AtomicU64,
}

/// What one pass did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PassReport {
    pub routed: u64,
    pub discarded: u64,
    pub claimed: u64,
    pub delivered: u64,
    pub retrying: u64,
    pub dead: u64,
    /// The attempts that failed, so that whoever runs the worker can log why.
    pub failures: Vec<FailedAttempt>,
}

/// A delivery attempt that failed: what went where, why, and what happens next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FailedAttempt {
    /// `SEQ/TARGET`, as `incident outbox --retry` takes it.
    pub id: String,
    pub event_id: String,
    pub attempt: u32,
    /// The receiver's status and the start of its answer, or the network error.
    pub error: String,
    /// When it is tried again; `None` when it became a dead letter.
    pub next_at: Option<Timestamp>,
}

impl fmt::Display for FailedAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (event {}), attempt {}: {}; ",
            self.id, self.event_id, self.attempt, self.error
        )?;
        match self.next_at {
            Some(t) => write!(f, "next attempt at {t}"),
            None => write!(
                f,
                "now a dead letter (`incident outbox --retry {}`)",
                self.id
            ),
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// How long a claim holds: the request's timeouts and time to record the outcome. A
/// worker killed while sending holds its claims this long; a worker slower than this may
/// see its delivery sent again by another (at least once, never lost).
pub fn lease(config: &NotifyConfig) -> Duration {
    config.delivery.connect_timeout + config.delivery.request_timeout + Duration::from_secs(5)
}

/// Routes unrouted events (an event no target takes is dropped) and claims up to `limit`
/// due deliveries, in one write transaction.
pub fn claim(
    m: &IncidentManager,
    config: &NotifyConfig,
    now: Timestamp,
    limit: usize,
    report: &mut PassReport,
) -> Result<Vec<Claim>> {
    let lease_until = Timestamp::from_micros(now.micros() + micros(lease(config)));
    let mut claims = Vec::new();
    let store = m.store();
    store.contain(|| {
        store.outbox_edit(|seq, mut entry| {
            let mut changed = false;
            if !entry.routed {
                let e = &entry.event;
                entry.deliveries = config
                    .targets
                    .iter()
                    .filter(|t| {
                        if e.only.is_empty() {
                            t.takes(e.kind, e.incident.priority)
                        } else {
                            e.only.contains(&t.name)
                        }
                    })
                    .map(|t| Delivery {
                        target: t.name.clone(),
                        attempts: 0,
                        queued_at: now,
                        next_at: now,
                        lease_until: None,
                        dead: false,
                        last_error: None,
                    })
                    .collect();
                entry.routed = true;
                changed = true;
                if entry.deliveries.is_empty() {
                    report.discarded += 1;
                    return Edit::Delete;
                }
                report.routed += 1;
            }
            for d in &mut entry.deliveries {
                if claims.len() >= limit
                    || d.dead
                    || d.next_at > now
                    || d.lease_until.is_some_and(|l| l > now)
                {
                    continue;
                }
                // A target removed from the config since routing: kept, visible, not sent.
                if config.target(&d.target).is_none() {
                    continue;
                }
                d.attempts += 1;
                d.lease_until = Some(lease_until);
                changed = true;
                claims.push(Claim {
                    seq,
                    target: d.target.clone(),
                    event: entry.event.clone(),
                    lease_until,
                    attempt: d.attempts,
                    context: Context::default(),
                });
            }
            if changed {
                Edit::Put(Box::new(entry))
            } else {
                Edit::Keep
            }
        })
    })?;
    report.claimed += claims.len() as u64;
    if !claims.is_empty() {
        add_context(m, config, &mut claims)?;
    }
    Ok(claims)
}

/// Looks up what the messages say besides the event: the pattern each incident matches
/// now, and the knowledge-base entry about it. A knowledge base that cannot be read leaves
/// the entry out; the message still goes.
fn add_context(m: &IncidentManager, config: &NotifyConfig, claims: &mut [Claim]) -> Result<()> {
    let patterns = m.patterns()?;
    if patterns.is_empty() {
        return Ok(());
    }
    let kb = match &config.kb_dir {
        Some(dir) => crate::kb::load(dir).ok().flatten(),
        None => None,
    };
    for c in claims {
        let text = match m.get(c.event.incident.id) {
            Ok(inc) => incident_text(&inc),
            Err(_) => c.event.incident.title.clone(),
        };
        c.context.pattern = match_text(&patterns, &text);
        if let (Some(p), Some(kb)) = (&c.context.pattern, &kb) {
            c.context.kb_entry = crate::kb::entries_about(kb, &p.pattern_id)
                .into_iter()
                .next();
        }
    }
    Ok(())
}

/// Sends the claims (up to 8 at once); no store access.
pub fn send_all(config: &NotifyConfig, claims: &[Claim]) -> Vec<Outcome> {
    let agent = agent(&config.delivery);
    let mut out = Vec::with_capacity(claims.len());
    for chunk in claims.chunks(8) {
        let results: Vec<Outcome> = std::thread::scope(|s| {
            let handles: Vec<_> = chunk
                .iter()
                .map(|c| {
                    let agent = &agent;
                    s.spawn(move || send_one(agent, config, c))
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Outcome::Retry("the sending thread panicked".into()))
                })
                .collect()
        });
        out.extend(results);
    }
    out
}

fn send_one(agent: &ureq::Agent, config: &NotifyConfig, c: &Claim) -> Outcome {
    let Some(target) = config.target(&c.target) else {
        return Outcome::Retry(format!("target {:?} is no longer configured", c.target));
    };
    let body = match target.format {
        Format::Json => json_body(config, &c.event, &c.context),
        Format::Slack => slack_body(config, &c.event, &c.context),
    };
    post(agent, target, &c.event.id, c.event.kind.as_str(), &body)
}

/// Records the outcomes of `claims` in one write transaction.
pub fn record(
    m: &IncidentManager,
    config: &NotifyConfig,
    claims: &[Claim],
    outcomes: &[Outcome],
    now: Timestamp,
    counters: &DeliveryCounters,
    report: &mut PassReport,
) -> Result<()> {
    let store = m.store();
    store.contain(|| {
        store.outbox_edit(|seq, mut entry: OutboxEntry| {
            let mut changed = false;
            for (c, o) in claims.iter().zip(outcomes).filter(|(c, _)| c.seq == seq) {
                let Some(i) = entry.deliveries.iter().position(|d| d.target == c.target) else {
                    continue;
                };
                let d = &mut entry.deliveries[i];
                match o {
                    Outcome::Delivered => {
                        entry.deliveries.remove(i);
                        counters.delivered.fetch_add(1, Ordering::Relaxed);
                        report.delivered += 1;
                        changed = true;
                    }
                    // Claimed again by another worker after our lease ran out: its
                    // outcome will be recorded.
                    _ if d.lease_until != Some(c.lease_until) => {}
                    Outcome::Retry(why) | Outcome::Refused(why) => {
                        counters.failed_attempts.fetch_add(1, Ordering::Relaxed);
                        let age = now.micros() - d.queued_at.micros();
                        let give_up = matches!(o, Outcome::Refused(_))
                            || d.attempts >= config.delivery.max_attempts
                            || age >= micros(config.delivery.max_age);
                        d.lease_until = None;
                        d.last_error = Some(why.clone());
                        if give_up {
                            d.dead = true;
                            counters.dead_lettered.fetch_add(1, Ordering::Relaxed);
                            report.dead += 1;
                        } else {
                            let wait = backoff(
                                &config.delivery,
                                d.attempts,
                                &format!("{}/{}", entry.event.id, d.target),
                            );
                            d.next_at = Timestamp::from_micros(now.micros() + micros(wait));
                            report.retrying += 1;
                        }
                        report.failures.push(FailedAttempt {
                            id: format!("{seq}/{}", d.target),
                            event_id: entry.event.id.clone(),
                            attempt: d.attempts,
                            error: why.clone(),
                            next_at: (!d.dead).then_some(d.next_at),
                        });
                        changed = true;
                    }
                }
            }
            if entry.routed && entry.deliveries.is_empty() {
                Edit::Delete
            } else if changed {
                Edit::Put(Box::new(entry))
            } else {
                Edit::Keep
            }
        })
    })?;
    Ok(())
}

/// One pass: claim, send, record. `open` gives the store for each step, so a command-line
/// worker can let go of the database file while it waits for receivers.
pub fn pass<M: Deref<Target = IncidentManager>>(
    open: &dyn Fn() -> Result<M>,
    config: &NotifyConfig,
    counters: &DeliveryCounters,
    limit: usize,
) -> Result<PassReport> {
    let mut report = PassReport::default();
    let claims = {
        let m = open()?;
        claim(&m, config, Timestamp::now(), limit, &mut report)?
    };
    if claims.is_empty() {
        return Ok(report);
    }
    let outcomes = send_all(config, &claims);
    let m = open()?;
    record(
        &m,
        config,
        &claims,
        &outcomes,
        Timestamp::now(),
        counters,
        &mut report,
    )?;
    Ok(report)
}

/// A delivery loop for a thread (or `tokio::task::spawn_blocking`): passes until
/// `shutdown` is set, sleeping `idle` (in short steps) when nothing was due.
pub struct Worker {
    pub config: Arc<NotifyConfig>,
    pub counters: Arc<DeliveryCounters>,
    pub idle: Duration,
    /// Deliveries claimed per pass.
    pub batch: usize,
}

impl Worker {
    pub fn new(config: Arc<NotifyConfig>) -> Self {
        Self {
            config,
            counters: Arc::default(),
            idle: Duration::from_millis(500),
            batch: 64,
        }
    }

    /// Runs until `shutdown`; an error (a busy or damaged store) is passed to `on_error`
    /// and the loop goes on after the idle wait.
    pub fn run<M: Deref<Target = IncidentManager>>(
        &self,
        open: &dyn Fn() -> Result<M>,
        shutdown: &AtomicBool,
        on_error: &dyn Fn(&crate::error::Error),
        on_pass: &dyn Fn(&PassReport),
    ) {
        while !shutdown.load(Ordering::Relaxed) {
            let busy = match pass(open, &self.config, &self.counters, self.batch) {
                Ok(r) => {
                    if r != PassReport::default() {
                        on_pass(&r);
                    }
                    r.claimed > 0
                }
                Err(e) => {
                    on_error(&e);
                    false
                }
            };
            if !busy {
                let step = Duration::from_millis(50);
                let mut waited = Duration::ZERO;
                while waited < self.idle && !shutdown.load(Ordering::Relaxed) {
                    std::thread::sleep(step);
                    waited += step;
                }
            }
        }
    }
}

/// One row of `incident outbox`: an event's delivery to one target (or an unrouted event).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OutboxRow {
    /// `<seq>/<target>`: what `retry` takes.
    pub id: String,
    pub event_id: String,
    pub event: String,
    pub incident: String,
    pub at: Timestamp,
    pub target: Option<String>,
    /// `unrouted`, `pending`, `sending` (claimed, lease running), `dead`, or `damaged` (the
    /// entry cannot be read; `incident check` names it, nothing sends it).
    pub state: String,
    pub attempts: u32,
    pub next_at: Option<Timestamp>,
    pub last_error: Option<String>,
}

/// The outbox, for the command line and the dashboard.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct OutboxView {
    pub unrouted: u64,
    pub pending: u64,
    pub dead: u64,
    /// Deliveries whose last attempt failed and that will be tried again.
    pub failing: u64,
    /// Entries that cannot be read (listed whatever `dead_only` says).
    #[serde(default)]
    pub damaged: u64,
    pub rows: Vec<OutboxRow>,
}

/// Reads the outbox; `dead_only` keeps only dead letters in `rows` (counts are of all).
pub fn outbox_view(m: &IncidentManager, dead_only: bool, now: Timestamp) -> Result<OutboxView> {
    let mut v = OutboxView::default();
    let store = m.store();
    store.contain(|| {
        store.outbox_read(|seq, entry| {
            let entry = match entry {
                Ok(entry) => entry,
                Err(why) => {
                    v.damaged += 1;
                    v.rows.push(OutboxRow {
                        id: seq.to_string(),
                        event_id: String::new(),
                        event: String::new(),
                        incident: String::new(),
                        at: Timestamp::from_micros(0),
                        target: None,
                        state: "damaged".to_string(),
                        attempts: 0,
                        next_at: None,
                        last_error: Some(why.to_string()),
                    });
                    return;
                }
            };
            let e = &entry.event;
            let row = |target: Option<&Delivery>, state: &str| OutboxRow {
                id: match target {
                    Some(d) => format!("{seq}/{}", d.target),
                    None => seq.to_string(),
                },
                event_id: e.id.clone(),
                event: e.kind.to_string(),
                incident: e.incident.id.to_string(),
                at: e.at,
                target: target.map(|d| d.target.clone()),
                state: state.to_string(),
                attempts: target.map_or(0, |d| d.attempts),
                next_at: target.map(|d| d.next_at),
                last_error: target.and_then(|d| d.last_error.clone()),
            };
            if !entry.routed {
                v.unrouted += 1;
                if !dead_only {
                    v.rows.push(row(None, "unrouted"));
                }
                return;
            }
            for d in &entry.deliveries {
                let state = if d.dead {
                    v.dead += 1;
                    "dead"
                } else {
                    v.pending += 1;
                    if d.last_error.is_some() {
                        v.failing += 1;
                    }
                    if d.lease_until.is_some_and(|l| l > now) {
                        "sending"
                    } else {
                        "pending"
                    }
                };
                if !dead_only || d.dead {
                    v.rows.push(row(Some(d), state));
                }
            }
        })
    })?;
    Ok(v)
}

/// Gives dead letters a fresh start: `id` is `<seq>/<target>`, `<seq>` (every dead
/// delivery of that event), an event id, or `all`. Returns how many were revived.
pub fn retry(m: &IncidentManager, id: &str, now: Timestamp) -> Result<u64> {
    let (seq, target) = match id.split_once('/') {
        Some((s, t)) => (Some(s), Some(t)),
        None => (Some(id), None),
    };
    let mut revived = 0;
    let store = m.store();
    store.contain(|| {
        store.outbox_edit(|s, mut entry| {
            let matches_event = id == "all"
                || entry.event.id == id
                || seq.and_then(|q| q.parse::<u64>().ok()) == Some(s);
            if !matches_event {
                return Edit::Keep;
            }
            let mut changed = false;
            for d in &mut entry.deliveries {
                if d.dead && target.is_none_or(|t| t == d.target) {
                    d.dead = false;
                    d.attempts = 0;
                    d.queued_at = now;
                    d.next_at = now;
                    d.lease_until = None;
                    revived += 1;
                    changed = true;
                }
            }
            if changed {
                Edit::Put(Box::new(entry))
            } else {
                Edit::Keep
            }
        })
    })?;
    Ok(revived)
}

/// Removes the outbox entry with sequence number `seq` (the ID of `incident outbox`, before
/// any `/`) whatever its state, damaged entries included: its notifications are never sent.
/// Returns whether there was one.
pub fn discard(m: &IncidentManager, seq: u64) -> Result<bool> {
    let store = m.store();
    Ok(store.contain(|| store.outbox_remove(seq))?)
}
