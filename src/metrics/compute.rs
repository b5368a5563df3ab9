//! The streaming accumulator behind [`Metrics`].

use std::collections::HashMap;

use chrono::{FixedOffset, Local, NaiveDate, Offset};

use super::recurrence::RecurrenceAcc;
use super::sla;
use super::stats::Durations;
use super::trend::Period;
use super::{
    ATTENTION_CAP, AlertState, CategoryCounts, CategoryMetrics, ComponentImpact, ComponentMetrics,
    DataIssues, FxMap, GroupKind, Metrics, PeriodMetrics, PriorityMetrics, PrioritySla,
    Recommendation, RecurrenceMetrics, RecurringGroup, SLA_RECOMMEND_BELOW, SlaAlert, SlaCounts,
    SlaMeasure, SlaSection, SlaTargets, Summary, Window,
};
use crate::model::{Category, Incident, IncidentId, Priority, Status, Timestamp};

/// What to compute over.
#[derive(Clone, Debug)]
pub struct MetricsOptions {
    /// Only incidents created at or after this time.
    pub since: Option<Timestamp>,
    /// Only incidents created before this time.
    pub until: Option<Timestamp>,
    /// The time of the report: open incidents are measured up to it.
    pub now: Timestamp,
    pub trend: Period,
    /// How many components and recurring groups to keep (ranked).
    pub top_n: usize,
    /// Offset for trend periods and for local times in reports.
    pub utc_offset: FixedOffset,
}

impl MetricsOptions {
    /// Whether an incident created at `created` is in the window (`since <= created <
    /// until`, each bound optional).
    pub fn in_window(&self, created: Timestamp) -> bool {
        self.since.is_none_or(|s| created >= s) && self.until.is_none_or(|u| created < u)
    }
}

impl Default for MetricsOptions {
    /// Everything, as of now, weekly trends, top 10, the local offset of now.
    fn default() -> Self {
        Self {
            since: None,
            until: None,
            now: Timestamp::now(),
            trend: Period::Week,
            top_n: 10,
            utc_offset: Local::now().offset().fix(),
        }
    }
}

#[derive(Default)]
struct Timing {
    incidents: u64,
    active: u64,
    ttr: Durations,
    tta: Durations,
}

#[derive(Default)]
struct SlaAcc {
    response: SlaCounts,
    resolution: SlaCounts,
    open_breaching: u64,
    open_at_risk: u64,
}

impl SlaAcc {
    fn counts(c: &mut SlaCounts, met: bool) {
        c.evaluated += 1;
        if met {
            c.met += 1;
        } else {
            c.breached += 1;
        }
    }
}

struct ComponentAcc {
    name: Box<str>,
    timing: Timing,
    weighted: u64,
    unresolved_secs: u64,
    failures: u64,
    first_failure: i64,
    last_failure: i64,
}

#[derive(Default)]
struct PeriodAcc {
    incidents: u64,
    by_category: CategoryCounts,
    resolved: u64,
    ttr: Durations,
}

/// Streaming accumulator: [`MetricsBuilder::add`] each incident, then
/// [`MetricsBuilder::finish`]. Keeps no incident, only counters and durations.
pub struct MetricsBuilder {
    opts: MetricsOptions,
    targets: SlaTargets,
    pattern_names: HashMap<String, String>,
    scanned: u64,
    by_status: [u64; Status::COUNT],
    first_created: Option<Timestamp>,
    last_created: Option<Timestamp>,
    overall: Timing,
    categories: [Timing; Category::COUNT],
    priorities: [(Timing, SlaAcc); Priority::COUNT],
    components: Vec<ComponentAcc>,
    component_index: FxMap<Box<str>, u32>,
    periods: FxMap<NaiveDate, PeriodAcc>,
    recurrence: RecurrenceAcc,
    issues: DataIssues,
    alerts: Vec<SlaAlert>,
    alerts_total: u64,
    /// Once [`ATTENTION_CAP`] alerts are kept, the (deadline, id) of the last one: later
    /// alerts past it cannot make the list, so their titles are not copied.
    alert_cutoff: Option<(i64, IncidentId)>,
    /// The last trend period seen and its bounds in µs: incidents mostly arrive in
    /// creation order, so this skips most calendar arithmetic.
    period_cache: Option<(NaiveDate, i64, i64)>,
    component_buf: Vec<u32>,
}

/// Times of one incident after validation, in µs since the epoch.
pub(crate) struct Facts {
    pub(crate) created: i64,
    /// Final resolution, when resolved/closed and not before creation.
    pub(crate) resolved: Option<i64>,
    /// Acknowledgement, when known and not before creation.
    pub(crate) acked: Option<i64>,
    /// Earliest valid resolution ever recorded (for recurrence).
    first_resolution: Option<i64>,
    reopened: bool,
}

pub(crate) fn facts(inc: &Incident) -> (Facts, RawFlags) {
    let created = inc.created_at.micros();
    let mut reopened = false;
    let mut first_resolved_entry: Option<i64> = None;
    let mut timeline_ack: Option<i64> = None;
    for e in &inc.timeline {
        let t = e.timestamp.micros();
        match e.action.as_str() {
            "reopened" => reopened = true,
            "resolved" => first_resolved_entry = Some(first_resolved_entry.map_or(t, |f| f.min(t))),
            "status_changed"
                if inc.acknowledged_at.is_none()
                    && e.details.trim_end().ends_with("-> in_progress") =>
            {
                timeline_ack = Some(timeline_ack.map_or(t, |a| a.min(t)));
            }
            _ => {}
        }
    }
    let closed = matches!(inc.status, Status::Resolved | Status::Closed);
    let resolved_raw = inc.resolved_at().map(Timestamp::micros);
    let ack_raw = inc.acknowledged_at.map(Timestamp::micros).or(timeline_ack);
    let flags = RawFlags {
        resolved_before_created: resolved_raw.is_some_and(|r| r < created),
        acked_before_created: ack_raw.is_some_and(|a| a < created),
        resolved_without_time: closed && resolved_raw.is_none(),
    };
    let resolved = resolved_raw.filter(|&r| r >= created);
    let first_resolution = match (first_resolved_entry.filter(|&r| r >= created), resolved) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let facts = Facts {
        created,
        resolved,
        acked: ack_raw.filter(|&a| a >= created),
        first_resolution,
        reopened,
    };
    (facts, flags)
}

pub(crate) struct RawFlags {
    resolved_before_created: bool,
    acked_before_created: bool,
    resolved_without_time: bool,
}

fn status_index(s: Status) -> usize {
    usize::from(s.code())
}

fn rate(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| part as f64 / whole as f64)
}

impl MetricsBuilder {
    pub fn new(opts: MetricsOptions, targets: SlaTargets) -> Self {
        Self {
            opts,
            targets,
            pattern_names: HashMap::new(),
            scanned: 0,
            by_status: [0; Status::COUNT],
            first_created: None,
            last_created: None,
            overall: Timing::default(),
            categories: Default::default(),
            priorities: Default::default(),
            components: Vec::new(),
            component_index: FxMap::default(),
            periods: FxMap::default(),
            recurrence: RecurrenceAcc::default(),
            issues: DataIssues::default(),
            alerts: Vec::new(),
            alerts_total: 0,
            alert_cutoff: None,
            period_cache: None,
            component_buf: Vec::new(),
        }
    }

    /// Names for pattern ids, shown in recurring groups. Without one, a group shows the
    /// first `matched_pattern.name` seen with its id, if any.
    pub fn with_pattern_names(mut self, names: HashMap<String, String>) -> Self {
        self.pattern_names = names;
        self
    }

    /// Adds an incident, grouped for recurrence by its `matched_pattern`, if any.
    pub fn add(&mut self, inc: &Incident) {
        let pattern = inc
            .matched_pattern
            .as_ref()
            .map(|p| (p.pattern_id.as_str(), Some(p.name.as_str())));
        self.add_inner(inc, pattern);
    }

    /// Adds an incident with the pattern id from a separate analysis (`None`: group it by
    /// title). The incident's own `matched_pattern` is not consulted.
    pub fn add_with_pattern(&mut self, inc: &Incident, pattern_id: Option<&str>) {
        let name = inc
            .matched_pattern
            .as_ref()
            .filter(|p| Some(p.pattern_id.as_str()) == pattern_id)
            .map(|p| p.name.as_str());
        self.add_inner(inc, pattern_id.map(|id| (id, name)));
    }

    fn in_window(&self, created: Timestamp) -> bool {
        self.opts.in_window(created)
    }

    fn add_inner(&mut self, inc: &Incident, pattern: Option<(&str, Option<&str>)>) {
        self.scanned += 1;
        let (f, flags) = facts(inc);
        let primary = inc
            .affected_components
            .iter()
            .map(|c| c.trim())
            .find(|c| !c.is_empty());
        if !self.in_window(inc.created_at) {
            self.recurrence.add(
                pattern,
                &inc.title,
                primary,
                f.created,
                f.first_resolution,
                None,
            );
            return;
        }

        let now = self.opts.now.micros();
        let id = inc.id;
        if flags.resolved_before_created {
            self.issues.resolved_before_created.push(id);
        }
        if flags.acked_before_created {
            self.issues.acknowledged_before_created.push(id);
        }
        if flags.resolved_without_time {
            self.issues.resolved_without_time.push(id);
        }
        if f.resolved.is_some() && f.acked.is_none() {
            self.issues.resolved_without_acknowledgement.push(id);
        }
        if f.reopened {
            self.issues.reopened.push(id);
        }
        if f.created > now {
            self.issues.created_in_future.push(id);
        }

        self.by_status[status_index(inc.status)] += 1;
        self.first_created = Some(
            self.first_created
                .map_or(inc.created_at, |t| t.min(inc.created_at)),
        );
        self.last_created = Some(
            self.last_created
                .map_or(inc.created_at, |t| t.max(inc.created_at)),
        );
        let active = inc.status.is_active();
        let ttr = f.resolved.map(|r| r - f.created);
        let tta = f.acked.map(|a| a - f.created);
        let record = |t: &mut Timing| {
            t.incidents += 1;
            t.active += u64::from(active);
            if let Some(d) = ttr {
                t.ttr.push_micros(d);
            }
            if let Some(d) = tta {
                t.tta.push_micros(d);
            }
        };
        record(&mut self.overall);
        record(&mut self.categories[usize::from(inc.category.code())]);
        let (prio_timing, sla) = &mut self.priorities[usize::from(inc.priority.code())];
        record(prio_timing);

        // SLA.
        let target = self.targets.get(inc.priority);
        let response_at = f.acked.or(f.resolved);
        let mut breaching = false;
        let mut at_risk = false;
        if let Some(r) = response_at {
            SlaAcc::counts(&mut sla.response, r - f.created <= target.response_micros());
        }
        if let Some(r) = f.resolved {
            SlaAcc::counts(
                &mut sla.resolution,
                r - f.created <= target.resolution_micros(),
            );
        }
        let deadlines = if active {
            sla::open_deadlines(target, f.created, response_at, f.resolved)
        } else {
            [None, None]
        };
        for (measure, deadline) in deadlines.into_iter().flatten() {
            let counts = match measure {
                SlaMeasure::Response => &mut sla.response,
                SlaMeasure::Resolution => &mut sla.resolution,
            };
            let state = match sla::alert_state(deadline, now) {
                Some(AlertState::Breaching) => {
                    SlaAcc::counts(counts, false);
                    breaching = true;
                    AlertState::Breaching
                }
                Some(AlertState::AtRisk) => {
                    counts.pending += 1;
                    at_risk = true;
                    AlertState::AtRisk
                }
                None => {
                    counts.pending += 1;
                    continue;
                }
            };
            self.alerts_total += 1;
            if self.alerts.len() >= ATTENTION_CAP
                && self.alert_cutoff.is_some_and(|c| (deadline, id) > c)
            {
                continue;
            }
            self.alerts.push(SlaAlert {
                id,
                title: inc.title.clone(),
                priority: inc.priority,
                measure,
                deadline: Timestamp::from_micros(deadline),
                state,
            });
            if self.alerts.len() >= 4 * ATTENTION_CAP {
                trim_alerts(&mut self.alerts);
                self.alert_cutoff = self.alerts.last().map(|a| (a.deadline.micros(), a.id));
            }
        }
        if breaching {
            sla.open_breaching += 1;
        } else if at_risk {
            sla.open_at_risk += 1;
        }

        // Components.
        let failure = matches!(inc.category, Category::Failure | Category::Error);
        let weight = u64::from(inc.priority.weight());
        let unresolved_secs = match (f.resolved, active) {
            (Some(r), _) => Some(r - f.created),
            (None, true) => Some((now - f.created).max(0)),
            (None, false) => None,
        }
        .map_or(0, |d| (d / 1_000_000) as u64);
        self.component_buf.clear();
        for name in &inc.affected_components {
            let name = name.trim();
            if name.is_empty() {
                continue;
            }
            let idx = match self.component_index.get(name) {
                Some(&i) => i,
                None => {
                    let i = self.components.len() as u32;
                    self.component_index.insert(name.into(), i);
                    self.components.push(ComponentAcc {
                        name: name.into(),
                        timing: Timing::default(),
                        weighted: 0,
                        unresolved_secs: 0,
                        failures: 0,
                        first_failure: i64::MAX,
                        last_failure: i64::MIN,
                    });
                    i
                }
            };
            if self.component_buf.contains(&idx) {
                continue;
            }
            self.component_buf.push(idx);
            let c = &mut self.components[idx as usize];
            record(&mut c.timing);
            c.weighted += weight;
            c.unresolved_secs += unresolved_secs;
            if failure {
                c.failures += 1;
                c.first_failure = c.first_failure.min(f.created);
                c.last_failure = c.last_failure.max(f.created);
            }
        }

        // Trends.
        let start = match self.period_cache {
            Some((start, lo, hi)) if (lo..hi).contains(&f.created) => start,
            _ => {
                let located = self.opts.trend.locate(inc.created_at, self.opts.utc_offset);
                self.period_cache = Some(located);
                located.0
            }
        };
        let p = self.periods.entry(start).or_default();
        p.incidents += 1;
        p.by_category.add(inc.category);
        if matches!(inc.status, Status::Resolved | Status::Closed) {
            p.resolved += 1;
        }
        if let Some(d) = ttr {
            p.ttr.push_micros(d);
        }

        self.recurrence.add(
            pattern,
            &inc.title,
            primary,
            f.created,
            f.first_resolution,
            Some(&self.component_buf),
        );
    }

    /// Computes the metrics.
    pub fn finish(self) -> Metrics {
        let MetricsBuilder {
            opts,
            targets,
            pattern_names,
            scanned,
            by_status,
            first_created,
            last_created,
            mut overall,
            categories,
            priorities,
            components,
            component_index: _,
            periods,
            recurrence,
            issues,
            mut alerts,
            alerts_total,
            alert_cutoff: _,
            period_cache: _,
            component_buf: _,
        } = self;
        let total = overall.incidents;

        let rec = recurrence.finish(components.len(), opts.top_n);
        let by_category: Vec<CategoryMetrics> = Category::ALL
            .iter()
            .zip(categories)
            .map(|(&category, mut t)| CategoryMetrics {
                category,
                incidents: t.incidents,
                share: rate(t.incidents, total),
                active: t.active,
                time_to_resolve: t.ttr.stats(),
                time_to_acknowledge: t.tta.stats(),
            })
            .collect();

        let by_priority: Vec<PriorityMetrics> = Priority::ALL
            .iter()
            .zip(priorities)
            .map(|(&priority, (mut t, mut sla))| {
                for c in [&mut sla.response, &mut sla.resolution] {
                    c.compliance = rate(c.met, c.evaluated);
                }
                let target = targets.get(priority);
                PriorityMetrics {
                    priority,
                    incidents: t.incidents,
                    active: t.active,
                    time_to_resolve: t.ttr.stats(),
                    time_to_acknowledge: t.tta.stats(),
                    sla: PrioritySla {
                        response_target_seconds: u64::from(target.response_minutes) * 60,
                        resolution_target_seconds: u64::from(target.resolution_minutes) * 60,
                        response: sla.response,
                        resolution: sla.resolution,
                        open_breaching: sla.open_breaching,
                        open_at_risk: sla.open_at_risk,
                    },
                }
            })
            .collect();

        let recurring_groups: Vec<RecurringGroup> = rec
            .top
            .into_iter()
            .map(|g| RecurringGroup {
                name: match g.kind {
                    GroupKind::Pattern => pattern_names.get(&g.key).cloned().or(g.pattern_name),
                    GroupKind::Title => None,
                },
                kind: g.kind,
                rate: rate(g.recurrent, g.incidents),
                key: g.key,
                component: g.component.or_else(|| {
                    let c = components.get(g.top_component? as usize)?;
                    Some(c.name.to_string())
                }),
                incidents: g.incidents,
                recurrent: g.recurrent,
            })
            .collect();

        let components_total = components.len() as u64;
        let mut components: Vec<ComponentMetrics> = components
            .into_iter()
            .zip(&rec.recurrent_by_component)
            .map(|(mut c, &recurrent)| ComponentMetrics {
                component: c.name.into(),
                incidents: c.timing.incidents,
                active: c.timing.active,
                weighted_impact: c.weighted,
                unresolved_seconds: c.unresolved_secs,
                time_to_resolve: c.timing.ttr.stats(),
                time_to_acknowledge: c.timing.tta.stats(),
                failures: c.failures,
                mtbf_seconds: (c.failures >= 2).then(|| {
                    (c.last_failure - c.first_failure) as f64 / 1e6 / (c.failures - 1) as f64
                }),
                recurrent,
                recurrence_rate: rate(recurrent, c.timing.incidents),
            })
            .collect();
        components.sort_by(|a, b| {
            b.weighted_impact
                .cmp(&a.weighted_impact)
                .then(b.incidents.cmp(&a.incidents))
                .then_with(|| a.component.cmp(&b.component))
        });
        components.truncate(opts.top_n);

        let trends = trends(opts.trend, periods);
        trim_alerts(&mut alerts);

        let sum = |f: fn(&PriorityMetrics) -> &SlaCounts| {
            let (met, eval) = by_priority
                .iter()
                .map(f)
                .fold((0, 0), |(m, e), c| (m + c.met, e + c.evaluated));
            rate(met, eval)
        };
        let summary = Summary {
            incidents: total,
            scanned,
            open: by_status[status_index(Status::Open)],
            in_progress: by_status[status_index(Status::InProgress)],
            resolved: by_status[status_index(Status::Resolved)],
            closed: by_status[status_index(Status::Closed)],
            first_created,
            last_created,
            time_to_resolve: overall.ttr.stats(),
            time_to_acknowledge: overall.tta.stats(),
            recurrent: rec.recurrent,
            recurrence_rate: rate(rec.recurrent, rec.incidents),
            sla_response_compliance: sum(|p| &p.sla.response),
            sla_resolution_compliance: sum(|p| &p.sla.resolution),
            sla_open_breaching: by_priority.iter().map(|p| p.sla.open_breaching).sum(),
            sla_open_at_risk: by_priority.iter().map(|p| p.sla.open_at_risk).sum(),
        };
        let recurrence = RecurrenceMetrics {
            incidents: rec.incidents,
            recurrent: rec.recurrent,
            rate: rate(rec.recurrent, rec.incidents),
            groups_total: rec.groups_total,
            recurring_groups_total: rec.recurring_total,
            recurring_groups,
        };
        let mut metrics = Metrics {
            generated_at: opts.now,
            utc_offset_seconds: opts.utc_offset.local_minus_utc(),
            window: Window {
                since: opts.since,
                until: opts.until,
            },
            summary,
            by_category,
            by_priority,
            components_total,
            components,
            recurrence,
            sla: SlaSection {
                targets,
                attention: alerts,
                attention_total: alerts_total,
            },
            trend_period: opts.trend,
            trends,
            data_issues: issues,
            origins: Vec::new(),
            error_history: None,
            recommendations: Vec::new(),
        };
        metrics.recommendations = recommend(&metrics);
        metrics
    }
}

/// Keeps the [`ATTENTION_CAP`] most overdue alerts.
fn trim_alerts(alerts: &mut Vec<SlaAlert>) {
    alerts.sort_by(|a, b| a.deadline.cmp(&b.deadline).then(a.id.cmp(&b.id)));
    alerts.truncate(ATTENTION_CAP);
}

fn trends(period: Period, periods: FxMap<NaiveDate, PeriodAcc>) -> Vec<PeriodMetrics> {
    let mut periods: Vec<(NaiveDate, PeriodAcc)> = periods.into_iter().collect();
    periods.sort_by_key(|(d, _)| *d);
    let span = match (periods.first(), periods.last()) {
        (Some((first, _)), Some((last, _))) => period.span(*first, *last),
        _ => None,
    };
    let mut filled: Vec<(NaiveDate, PeriodAcc)> = match span {
        Some(span) => {
            let mut it = periods.into_iter().peekable();
            span.into_iter()
                .map(|d| match it.next_if(|(s, _)| *s == d) {
                    Some(p) => p,
                    None => (d, PeriodAcc::default()),
                })
                .collect()
        }
        None => periods,
    };
    filled
        .iter_mut()
        .map(|(start, p)| PeriodMetrics {
            period: period.label(*start),
            start: *start,
            incidents: p.incidents,
            by_category: p.by_category.clone(),
            resolved: p.resolved,
            time_to_resolve: p.ttr.stats(),
        })
        .collect()
}

fn recommend(m: &Metrics) -> Vec<Recommendation> {
    let mut out = Vec::new();
    let total = m.summary.incidents;
    if let Some(top) = m
        .by_category
        .iter()
        .filter(|c| c.incidents > 0)
        .max_by(|a, b| {
            a.incidents
                .cmp(&b.incidents)
                .then(b.category.cmp(&a.category))
        })
    {
        out.push(Recommendation::FrequentCategory {
            category: top.category,
            incidents: top.incidents,
            share: rate(top.incidents, total).unwrap_or(0.0),
        });
    }
    if m.summary.sla_open_breaching > 0 || m.summary.sla_open_at_risk > 0 {
        out.push(Recommendation::OpenSlaRisk {
            breaching: m.summary.sla_open_breaching,
            at_risk: m.summary.sla_open_at_risk,
        });
    }
    for p in &m.by_priority {
        for (measure, c) in [
            (SlaMeasure::Response, &p.sla.response),
            (SlaMeasure::Resolution, &p.sla.resolution),
        ] {
            if let Some(compliance) = c.compliance.filter(|&x| x < SLA_RECOMMEND_BELOW) {
                out.push(Recommendation::SlaBelowTarget {
                    priority: p.priority,
                    measure,
                    compliance,
                    breached: c.breached,
                });
            }
        }
    }
    let impact: Vec<ComponentImpact> = m
        .components
        .iter()
        .take(3)
        .map(|c| ComponentImpact {
            component: c.component.clone(),
            incidents: c.incidents,
            weighted_impact: c.weighted_impact,
        })
        .collect();
    if !impact.is_empty() {
        out.push(Recommendation::HighImpactComponents { components: impact });
    }
    if m.recurrence.recurrent > 0 {
        out.push(Recommendation::RecurringIssues {
            recurrent: m.recurrence.recurrent,
            groups: m
                .recurrence
                .recurring_groups
                .iter()
                .take(3)
                .cloned()
                .collect(),
        });
    }
    let bad = m.data_issues.invalid_records();
    if bad > 0 {
        out.push(Recommendation::FixData { records: bad });
    }
    out
}

#[cfg(test)]
mod tests;
