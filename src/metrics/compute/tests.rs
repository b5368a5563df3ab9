//! Hand-computed expectations over incidents with explicit times.

use chrono::FixedOffset;

use super::*;
use crate::metrics::GroupKind;
use crate::metrics::testing::*;
use crate::model::{IncidentId, PatternRef};

fn opts(now_min: i64) -> MetricsOptions {
    MetricsOptions {
        since: None,
        until: None,
        now: at(now_min),
        trend: Period::Week,
        top_n: 10,
        utc_offset: FixedOffset::east_opt(0).expect("offset"),
    }
}

fn run(opts: MetricsOptions, incidents: &[Incident]) -> Metrics {
    let mut b = MetricsBuilder::new(opts, SlaTargets::default());
    for i in incidents {
        b.add(i);
    }
    b.finish()
}

fn mins(m: i64) -> Option<f64> {
    Some((m * 60) as f64)
}

fn component<'a>(m: &'a Metrics, name: &str) -> &'a ComponentMetrics {
    m.components
        .iter()
        .find(|c| c.component == name)
        .unwrap_or_else(|| panic!("component {name} missing"))
}

#[test]
fn mttr_median_p90_and_mtta() {
    use Category::Failure;
    use Priority::High;
    let incidents = [
        resolve(ack(inc(1, Failure, High, 0), at(5)), at(60)),
        resolve(ack(inc(2, Failure, High, 0), at(10)), at(120)),
        resolve(ack(inc(3, Category::Error, High, 0), at(15)), at(180)),
        // Resolved straight from open: in MTTR, not in MTTA.
        resolve(inc(4, Failure, High, 0), at(600)),
        // Still open: in neither.
        inc(5, Failure, Priority::Low, 0),
    ];
    let m = run(opts(1000), &incidents);
    let ttr = &m.summary.time_to_resolve;
    assert_eq!(ttr.count, 4);
    // (60 + 120 + 180 + 600) / 4 = 240 min; median (120 + 180) / 2; p90 rank ceil(3.6) = 4.
    assert_eq!(ttr.mean_seconds, mins(240));
    assert_eq!(ttr.median_seconds, mins(150));
    assert_eq!(ttr.p90_seconds, mins(600));
    let tta = &m.summary.time_to_acknowledge;
    assert_eq!(tta.count, 3);
    assert_eq!(tta.mean_seconds, mins(10));
    assert_eq!(tta.median_seconds, mins(10));
    assert_eq!(tta.p90_seconds, mins(15));

    let failure = &m.by_category[usize::from(Failure.code())];
    assert_eq!((failure.incidents, failure.active), (4, 1));
    // 60, 120, 600 -> mean 260 min, median 120.
    assert_eq!(failure.time_to_resolve.mean_seconds, mins(260));
    assert_eq!(failure.time_to_resolve.median_seconds, mins(120));
    assert_eq!(failure.share, Some(0.8));
    let high = &m.by_priority[usize::from(High.code())];
    assert_eq!(high.time_to_resolve.count, 4);
    let low = &m.by_priority[usize::from(Priority::Low.code())];
    assert_eq!(low.time_to_resolve.mean_seconds, None);
    assert_eq!(m.data_issues.resolved_without_acknowledgement.count, 1);
    assert_eq!(
        m.data_issues.resolved_without_acknowledgement.ids,
        vec![IncidentId::new(20250707, 4)]
    );
    assert_eq!((m.summary.open, m.summary.resolved), (1, 4));
}

#[test]
fn acknowledgement_falls_back_to_the_timeline() {
    let mut i = inc(1, Category::Request, Priority::Medium, 0);
    i.timeline
        .push(entry(at(7), "status_changed", "open -> in_progress"));
    i.timeline
        .push(entry(at(9), "status_changed", "in_progress -> open"));
    i.timeline
        .push(entry(at(12), "status_changed", "open -> in_progress"));
    let m = run(opts(100), &[i]);
    assert_eq!(m.summary.time_to_acknowledge.mean_seconds, mins(7));
}

#[test]
fn mtbf_counts_starts_with_overlaps_and_needs_two() {
    use Category::*;
    let p = Priority::Medium;
    let incidents = [
        // Arrival order is not creation order.
        on(inc(3, Failure, p, 300), &["db"]),
        // Overlaps incident 1, still open: counts by its start.
        on(inc(2, Error, p, 30), &["db", "web"]),
        on(resolve(inc(1, Failure, p, 0), at(400)), &["db"]),
        // Not a failure: ignored for MTBF.
        on(inc(4, Request, p, 100), &["db", "cache"]),
    ];
    let m = run(opts(1000), &incidents);
    let db = component(&m, "db");
    assert_eq!(db.failures, 3);
    // Starts 0, 30, 300: gaps 30 and 270, mean 150 min.
    assert_eq!(db.mtbf_seconds, mins(150));
    assert_eq!(component(&m, "web").failures, 1);
    assert_eq!(component(&m, "web").mtbf_seconds, None);
    assert_eq!(component(&m, "cache").mtbf_seconds, None);
}

#[test]
fn component_impact_weights_and_unresolved_time() {
    let incidents = [
        // Listed twice: counts once.
        on(
            resolve(inc(1, Category::Failure, Priority::Critical, 0), at(90)),
            &["api", " api "],
        ),
        on(
            inc(2, Category::Performance, Priority::Low, 100),
            &["api", "ui"],
        ),
        on(inc(3, Category::Change, Priority::High, 0), &["ui"]),
        on(
            resolve(inc(4, Category::Change, Priority::Medium, 0), at(10)),
            &["ui"],
        ),
    ];
    let m = run(opts(160), &incidents);
    let api = component(&m, "api");
    assert_eq!((api.incidents, api.weighted_impact), (2, 9));
    // 90 min resolved + 60 min open until now.
    assert_eq!(api.unresolved_seconds, 150 * 60);
    let ui = component(&m, "ui");
    assert_eq!((ui.incidents, ui.weighted_impact, ui.active), (3, 7, 2));
    assert_eq!(ui.unresolved_seconds, (60 + 160 + 10) * 60);
    assert_eq!(m.components[0].component, "api");
    assert_eq!(m.components_total, 2);
}

#[test]
fn recurrence_by_title_pattern_and_outside_the_window() {
    let p = Priority::High;
    let f = Category::Failure;
    let mut patterned = inc(7, f, p, 500);
    patterned.matched_pattern = Some(PatternRef {
        pattern_id: "PAT-1".into(),
        name: "Disk full".into(),
    });
    let incidents = [
        // Before the window, resolved at 50: makes 2 recurrent.
        on(
            titled(resolve(inc(1, f, p, 0), at(50)), "DB down on db-01"),
            &["db"],
        ),
        on(titled(inc(2, f, p, 100), "db down on DB-02"), &["db"]),
        // Same title on another primary component: its own group.
        on(
            titled(inc(3, f, p, 200), "DB down on db-03"),
            &["web", "db"],
        ),
        // Reopened: first resolved at 310, so 5 (created 320) recurs even though 4 is open.
        on(
            titled(
                reopen(resolve(inc(4, f, p, 300), at(310)), at(330)),
                "Timeout 'x'",
            ),
            &["api"],
        ),
        on(titled(inc(5, f, p, 320), "timeout 'y'"), &["api"]),
        // Pattern groups ignore the title; 6 resolved at 450, 7 created at 500.
        on(
            titled(resolve(inc(6, f, p, 400), at(450)), "something"),
            &["disk"],
        ),
        on(patterned, &["storage", "disk"]),
    ];
    let mut b = MetricsBuilder::new(
        MetricsOptions {
            since: Some(at(60)),
            ..opts(1000)
        },
        SlaTargets::default(),
    );
    for (n, i) in incidents.iter().enumerate() {
        if n == 5 {
            b.add_with_pattern(i, Some("PAT-1"));
        } else {
            b.add(i);
        }
    }
    let m = b.finish();
    assert_eq!(m.summary.incidents, 6);
    assert_eq!(m.recurrence.incidents, 6);
    // 2, 5 and 7.
    assert_eq!(m.recurrence.recurrent, 3);
    assert_eq!(m.recurrence.rate, Some(0.5));
    assert_eq!(m.recurrence.groups_total, 4);
    assert_eq!(m.recurrence.recurring_groups_total, 3);
    let pattern = m
        .recurrence
        .recurring_groups
        .iter()
        .find(|g| g.kind == GroupKind::Pattern)
        .expect("pattern group");
    assert_eq!(
        (pattern.key.as_str(), pattern.name.as_deref()),
        ("PAT-1", Some("Disk full"))
    );
    assert_eq!((pattern.incidents, pattern.recurrent), (2, 1));
    // A pattern group's component is the one most of its incidents list.
    assert_eq!(pattern.component.as_deref(), Some("disk"));
    let db = m
        .recurrence
        .recurring_groups
        .iter()
        .find(|g| g.component.as_deref() == Some("db"))
        .expect("db group");
    assert_eq!(db.key, "db down on db-<n>");
    // Only 2 is in the window; 1 resolved earlier.
    assert_eq!((db.incidents, db.recurrent, db.rate), (1, 1, Some(1.0)));
    assert_eq!(component(&m, "db").recurrent, 1);
    assert_eq!(component(&m, "db").incidents, 2);
    assert_eq!(component(&m, "db").recurrence_rate, Some(0.5));
    assert_eq!(component(&m, "web").recurrent, 0);
}

#[test]
fn pattern_names_from_the_caller_win() {
    let a = resolve(inc(1, Category::Error, Priority::Low, 0), at(5));
    let b2 = inc(2, Category::Error, Priority::Low, 10);
    let mut b = MetricsBuilder::new(opts(100), SlaTargets::default()).with_pattern_names(
        [("P9".to_string(), "Cert expiry".to_string())]
            .into_iter()
            .collect(),
    );
    b.add_with_pattern(&a, Some("P9"));
    b.add_with_pattern(&b2, Some("P9"));
    let m = b.finish();
    assert_eq!(
        m.recurrence.recurring_groups[0].name.as_deref(),
        Some("Cert expiry")
    );
}

#[test]
fn sla_edges() {
    use Category::Failure;
    use Priority::Critical;
    // Critical: response 15 min, resolution 240 min. now = 300.
    let incidents = [
        // Exactly at both targets: met.
        resolve(ack(inc(1, Failure, Critical, 0), at(15)), at(240)),
        // One second over both: breached.
        resolve(
            ack(inc(2, Failure, Critical, 0), at_secs(15 * 60 + 1)),
            at_secs(240 * 60 + 1),
        ),
        // Reopened then resolved again: first resolution in time, the final one (280) late.
        resolve(
            reopen(
                resolve(ack(inc(3, Failure, Critical, 0), at(1)), at(100)),
                at(120),
            ),
            at(280),
        ),
        // Open, never acknowledged, created 20 min ago: response breaching now; its
        // resolution deadline (at 520) is pending.
        inc(4, Failure, Critical, 280),
        // Acknowledged in time; resolution deadline at 100 + 240 = 340, within the hour.
        ack(inc(5, Failure, Critical, 100), at(101)),
        // Response deadline exactly now: at risk, not breaching.
        inc(6, Failure, Critical, 285),
        // Resolved without acknowledgement after 10 min: responded at resolution.
        resolve(inc(7, Failure, Critical, 0), at(10)),
        // Open and past its resolution target: breaching (response was met).
        ack(inc(8, Failure, Critical, 0), at(5)),
    ];
    let m = run(opts(300), &incidents);
    let sla = &m.by_priority[0].sla;
    assert_eq!(sla.response_target_seconds, 900);
    // Evaluated response: 1 met, 2 late, 3 met, 4 breaching, 5 met, 7 met, 8 met; 6 pending.
    assert_eq!(
        (
            sla.response.met,
            sla.response.breached,
            sla.response.pending
        ),
        (5, 2, 1)
    );
    assert_eq!(sla.response.compliance, Some(5.0 / 7.0));
    // Resolution: 1 met, 2 late, 3 late (final), 7 met, 8 breaching; 4, 5, 6 pending.
    assert_eq!(
        (
            sla.resolution.met,
            sla.resolution.breached,
            sla.resolution.pending
        ),
        (2, 3, 3)
    );
    assert_eq!((sla.open_breaching, sla.open_at_risk), (2, 2));
    assert_eq!(m.summary.sla_open_breaching, 2);
    assert_eq!(m.sla.attention_total, 4);
    let first = &m.sla.attention[0];
    // Most overdue first: 8's resolution deadline was at 240.
    assert_eq!(
        (first.id.seq(), first.measure, first.state),
        (8, SlaMeasure::Resolution, AlertState::Breaching)
    );
    let six = m
        .sla
        .attention
        .iter()
        .find(|a| a.id.seq() == 6)
        .expect("6 at risk");
    assert_eq!(
        (six.measure, six.state),
        (SlaMeasure::Response, AlertState::AtRisk)
    );
    assert!(m.recommendations.iter().any(|r| matches!(
        r,
        Recommendation::SlaBelowTarget {
            priority: Critical,
            measure: SlaMeasure::Resolution,
            ..
        }
    )));
    assert_eq!(m.data_issues.reopened.count, 1);
    // MTTR uses the final resolution of 3: (240 + 240+1s + 280 + 10) / 4.
    assert_eq!(m.summary.time_to_resolve.count, 4);
}

#[test]
fn bad_data_is_reported_and_excluded() {
    let p = Priority::Medium;
    let c = Category::Error;
    let mut closed_no_time = resolve(inc(3, c, p, 0), at(5));
    closed_no_time.status = Status::Closed;
    if let Some(r) = closed_no_time.resolution.as_mut() {
        r.resolved_at = None;
    }
    let mut early_ack = inc(4, c, p, 100);
    early_ack.acknowledged_at = Some(at(50));
    let incidents = [
        resolve(inc(1, c, p, 100), at(40)),
        resolve(inc(2, c, p, 0), at(30)),
        closed_no_time,
        early_ack,
        inc(5, c, p, 5000),
    ];
    let m = run(opts(1000), &incidents);
    let d = &m.data_issues;
    assert_eq!(
        d.resolved_before_created.ids,
        vec![IncidentId::new(20250707, 1)]
    );
    assert_eq!(d.resolved_without_time.count, 1);
    assert_eq!(d.acknowledged_before_created.count, 1);
    assert_eq!(d.created_in_future.count, 1);
    assert_eq!(d.invalid_records(), 4);
    assert_eq!(m.summary.time_to_resolve.count, 1);
    assert_eq!(m.summary.time_to_resolve.mean_seconds, mins(30));
    assert_eq!(m.summary.time_to_acknowledge.count, 0);
    assert!(
        m.recommendations
            .iter()
            .any(|r| matches!(r, Recommendation::FixData { records: 4 }))
    );
    serde_json::to_string(&m).expect("serializes");
}

#[test]
fn ids_are_capped() {
    let incidents: Vec<Incident> = (1..=30)
        .map(|n| resolve(inc(n, Category::Error, Priority::Low, 100), at(0)))
        .collect();
    let m = run(opts(1000), &incidents);
    assert_eq!(m.data_issues.resolved_before_created.count, 30);
    assert_eq!(m.data_issues.resolved_before_created.ids.len(), 20);
}

#[test]
fn window_and_weekly_trend() {
    let day = 24 * 60;
    let p = Priority::Low;
    let incidents = [
        inc(1, Category::Error, p, -day),
        resolve(inc(2, Category::Error, p, 0), at(60)),
        inc(3, Category::Change, p, 2 * day),
        // Two weeks later: the week between is filled with zeros.
        resolve(inc(4, Category::Error, p, 15 * day), at(15 * day + 30)),
        inc(5, Category::Error, p, 30 * day),
    ];
    let m = run(
        MetricsOptions {
            since: Some(at(0)),
            until: Some(at(30 * day)),
            ..opts(40 * day)
        },
        &incidents,
    );
    assert_eq!((m.summary.scanned, m.summary.incidents), (5, 3));
    let labels: Vec<&str> = m.trends.iter().map(|t| t.period.as_str()).collect();
    assert_eq!(labels, ["2025-W28", "2025-W29", "2025-W30"]);
    assert_eq!(m.trends[0].incidents, 2);
    assert_eq!(m.trends[0].by_category.get(Category::Change), 1);
    assert_eq!(m.trends[0].time_to_resolve.mean_seconds, mins(60));
    assert_eq!(m.trends[1].incidents, 0);
    assert_eq!(m.trends[2].resolved, 1);
    let json = serde_json::to_value(&m.trends[0]).expect("json");
    assert_eq!(json["by_category"]["change"], 1);
    assert_eq!(json["start"], "2025-07-07");

    let m = run(
        MetricsOptions {
            trend: Period::Month,
            ..opts(40 * day)
        },
        &incidents,
    );
    let labels: Vec<&str> = m.trends.iter().map(|t| t.period.as_str()).collect();
    assert_eq!(labels, ["2025-07", "2025-08"]);
}

#[test]
fn empty_input_has_nulls_not_panics() {
    let m = run(opts(0), &[]);
    assert_eq!(m.summary.incidents, 0);
    assert_eq!(m.summary.recurrence_rate, None);
    assert!(m.trends.is_empty());
    assert!(m.recommendations.is_empty());
    let json = serde_json::to_value(&m).expect("json");
    assert!(json["summary"]["time_to_resolve"]["mean_seconds"].is_null());
}
