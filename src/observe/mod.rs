//! Prometheus metrics in the text exposition format (`prometheus-client`): incident and
//! SLA gauges computed from the store at each scrape, the outbox, and hooks for the
//! server's HTTP latency and the delivery worker's counters.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::error::Result;
use crate::manager::IncidentManager;
use crate::metrics::{AlertState, SlaMeasure, SlaTargets, alert_state, facts, open_deadlines};
use crate::model::{Priority, Status, Timestamp};
use crate::notify::{DeliveryCounters, outbox_view};

/// Upper bounds (seconds) of the time-to-acknowledge and time-to-resolve buckets:
/// 1 min to 30 days, around the SLA targets.
const DURATION_BUCKETS: [f64; 13] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0, 259200.0, 604800.0,
    1209600.0, 2592000.0,
];

/// Upper bounds (seconds) of the HTTP latency buckets.
const HTTP_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PriorityStatus {
    priority: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PriorityMeasure {
    priority: String,
    measure: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PriorityLabel {
    priority: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabel {
    state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    route: String,
    status: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn durations() -> Histogram {
    Histogram::new(DURATION_BUCKETS)
}

fn http_latency() -> Histogram {
    Histogram::new(HTTP_BUCKETS)
}

/// The server's HTTP request latency, by method, route (the pattern, not the path, so
/// ids do not make new series) and status. Cheap to clone; clones share the series.
#[derive(Clone, Debug)]
pub struct HttpMetrics {
    latency: HistogramFamily<HttpLabels>,
}

impl Default for HttpMetrics {
    fn default() -> Self {
        Self {
            latency: Family::new_with_constructor(http_latency as fn() -> Histogram),
        }
    }
}

impl HttpMetrics {
    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.latency
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.to_string(),
                status: status.to_string(),
            })
            .observe(elapsed.as_secs_f64());
    }
}

/// Renders `GET /metrics`. Holds what lives across scrapes (HTTP latency, the worker's
/// counters); the rest is read from the store at each scrape.
#[derive(Clone, Debug, Default)]
pub struct Exposition {
    pub http: HttpMetrics,
    pub delivery: Option<Arc<DeliveryCounters>>,
}

/// The exposition content type.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

impl Exposition {
    /// The metrics text at `now`. Reads every incident once (a full scan: its cost grows
    /// with the store; see the README's performance table).
    pub fn render(&self, m: &IncidentManager, sla: &SlaTargets, now: Timestamp) -> Result<String> {
        let mut reg = Registry::default();
        let open = Family::<PriorityStatus, Gauge>::default();
        let breaching = Family::<PriorityMeasure, Gauge>::default();
        let at_risk = Family::<PriorityMeasure, Gauge>::default();
        let tta: HistogramFamily<PriorityLabel> =
            Family::new_with_constructor(durations as fn() -> Histogram);
        let ttr: HistogramFamily<PriorityLabel> =
            Family::new_with_constructor(durations as fn() -> Histogram);
        for p in Priority::ALL {
            let label = PriorityLabel {
                priority: p.to_string(),
            };
            // Series exist from the start, so a dashboard shows zeros, not "no data".
            drop(tta.get_or_create(&label));
            drop(ttr.get_or_create(&label));
            for s in [Status::Open, Status::InProgress] {
                open.get_or_create(&PriorityStatus {
                    priority: p.to_string(),
                    status: s.to_string(),
                })
                .set(0);
            }
            for measure in ["response", "resolution"] {
                let l = PriorityMeasure {
                    priority: p.to_string(),
                    measure: measure.into(),
                };
                breaching.get_or_create(&l).set(0);
                at_risk.get_or_create(&l).set(0);
            }
        }
        let t = now.micros();
        m.for_each(|inc| {
            let (f, _) = facts(&inc);
            let priority = inc.priority.to_string();
            let active = inc.status.is_active();
            if active {
                open.get_or_create(&PriorityStatus {
                    priority: priority.clone(),
                    status: inc.status.to_string(),
                })
                .inc();
            }
            let label = PriorityLabel {
                priority: priority.clone(),
            };
            if let Some(a) = f.acked {
                tta.get_or_create(&label)
                    .observe((a - f.created) as f64 / 1e6);
            }
            if let Some(r) = f.resolved {
                ttr.get_or_create(&label)
                    .observe((r - f.created) as f64 / 1e6);
            }
            let target = sla.get(inc.priority);
            let deadlines = if active {
                open_deadlines(target, f.created, f.acked.or(f.resolved), f.resolved)
            } else {
                [None, None]
            };
            for (measure, deadline) in deadlines.into_iter().flatten() {
                let family = match alert_state(deadline, t) {
                    Some(AlertState::Breaching) => &breaching,
                    Some(AlertState::AtRisk) => &at_risk,
                    None => continue,
                };
                let measure = match measure {
                    SlaMeasure::Response => "response",
                    SlaMeasure::Resolution => "resolution",
                };
                family
                    .get_or_create(&PriorityMeasure {
                        priority: priority.clone(),
                        measure: measure.into(),
                    })
                    .inc();
            }
            Ok(())
        })?;
        reg.register(
            "incident_open_incidents",
            "Active incidents by priority and status",
            open,
        );
        reg.register(
            "incident_sla_breaching",
            "Active incidents past an SLA deadline, by priority and measure",
            breaching,
        );
        reg.register(
            "incident_sla_at_risk",
            "Active incidents within an hour of an SLA deadline, by priority and measure",
            at_risk,
        );
        reg.register(
            "incident_time_to_acknowledge_seconds",
            "Created to acknowledged, every acknowledged incident, by priority",
            tta,
        );
        reg.register(
            "incident_time_to_resolve_seconds",
            "Created to resolved, every resolved incident, by priority",
            ttr,
        );
        let view = outbox_view(m, true, now)?;
        let depth = Family::<StateLabel, Gauge>::default();
        for (state, n) in [
            ("unrouted", view.unrouted),
            ("pending", view.pending),
            ("dead", view.dead),
            ("damaged", view.damaged),
        ] {
            depth
                .get_or_create(&StateLabel {
                    state: state.into(),
                })
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        reg.register(
            "incident_outbox_messages",
            "Outbox deliveries by state (unrouted events, pending, dead letters, unreadable entries)",
            depth,
        );
        let failing = Gauge::<i64>::default();
        failing.set(i64::try_from(view.failing).unwrap_or(i64::MAX));
        reg.register(
            "incident_outbox_failing",
            "Pending deliveries whose last attempt failed",
            failing,
        );
        if let Some(c) = &self.delivery {
            for (name, help, v) in [
                (
                    "incident_outbox_delivered",
                    "Deliveries answered 2xx since the worker started",
                    &c.delivered,
                ),
                (
                    "incident_outbox_delivery_failures",
                    "Failed delivery attempts since the worker started",
                    &c.failed_attempts,
                ),
                (
                    "incident_outbox_dead_lettered",
                    "Deliveries given up since the worker started",
                    &c.dead_lettered,
                ),
            ] {
                let counter = Counter::<u64>::default();
                counter.inc_by(v.load(Ordering::Relaxed));
                reg.register(name, help, counter);
            }
        }
        reg.register(
            "incident_http_request_duration_seconds",
            "HTTP request latency by method, route and status",
            self.http.latency.clone(),
        );
        let mut out = String::new();
        encode(&mut out, &reg)
            .map_err(|e| crate::error::Error::invalid("metrics", e.to_string()))?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_latency_is_exposed_per_route() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = IncidentManager::open(dir.path().join("db.redb")).expect("open");
        let e = Exposition::default();
        let hook = e.http.clone();
        hook.observe("GET", "/api/incidents/{id}", 200, Duration::from_millis(3));
        hook.observe("GET", "/api/incidents/{id}", 200, Duration::from_millis(30));
        let text = e
            .render(&m, &SlaTargets::default(), Timestamp::now())
            .expect("render");
        let series = r#"incident_http_request_duration_seconds_count{method="GET",route="/api/incidents/{id}",status="200"} 2"#;
        assert!(text.contains(series), "{text}");
        assert!(text.contains(
            r#"incident_http_request_duration_seconds_bucket{le="0.005",method="GET",route="/api/incidents/{id}",status="200"} 1"#
        ), "{text}");
    }

    /// The shipped Grafana dashboard asks only for series this module exposes.
    #[test]
    fn grafana_dashboard_uses_exposed_metrics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let m = IncidentManager::open(dir.path().join("db.redb")).expect("open");
        let e = Exposition {
            delivery: Some(Arc::default()),
            ..Exposition::default()
        };
        e.http
            .observe("GET", "/metrics", 200, Duration::from_millis(1));
        let text = e
            .render(&m, &SlaTargets::default(), Timestamp::now())
            .expect("render");
        let dashboard = include_str!("../../examples/grafana-dashboard.json");
        let names = regex::Regex::new(r"incident_[a-z_]+").expect("regex");
        let mut seen = 0;
        for name in names.find_iter(dashboard).map(|m| m.as_str()) {
            seen += 1;
            assert!(
                text.lines().any(|l| l.starts_with(name)),
                "{name} is not exposed:\n{text}"
            );
        }
        assert!(seen > 10);
    }
}
