//! The generated incidents the store benchmarks load (`store.rs`, `notify.rs`): a year
//! of incidents with a fixed seed, 5 % open or in progress, Zipf-spread components.

use incident::{
    Category, Incident, IncidentId, Priority, Resolution, Status, TimelineEntry, Timestamp,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const COMPONENTS: usize = 400;

/// Component `k` of a Zipf-like spread: `comp0` is the most common.
pub(crate) fn component(rng: &mut ChaCha8Rng) -> String {
    let u: f64 = rng.random();
    let k = ((COMPONENTS as f64).powf(u) - 1.0) as usize;
    if k == 0 {
        "db_client".into()
    } else {
        format!("comp{k}")
    }
}

pub(crate) fn incidents(n: usize, seed: u64) -> impl Iterator<Item = Incident> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let start = Timestamp::parse("2024-01-01T00:00:00Z")
        .expect("time")
        .micros();
    let step = 365 * 86_400 * 1_000_000 / n as i64;
    (0..n).map(move |i| {
        let created = Timestamp::from_micros(start + i as i64 * step);
        let roll: f64 = rng.random();
        let status = match roll {
            r if r < 0.03 => Status::Open,
            r if r < 0.05 => Status::InProgress,
            r if r < 0.50 => Status::Resolved,
            _ => Status::Closed,
        };
        let mut comps = vec![component(&mut rng)];
        if rng.random_bool(0.3) {
            comps.push(component(&mut rng));
        }
        let category = Category::ALL[rng.random_range(0..6)];
        let priority = Priority::ALL[rng.random_range(0..4)];
        let resolved = matches!(status, Status::Resolved | Status::Closed);
        let at =
            Timestamp::from_micros(created.micros() + rng.random_range(60..86_400) * 1_000_000);
        Incident {
            id: IncidentId::new(0, 0),
            created_at: created,
            updated_at: if resolved { at } else { created },
            category,
            priority,
            status,
            title: format!(
                "{}接続エラー: host-{}:5672 への接続がタイムアウト",
                comps[0],
                rng.random_range(0..50)
            ),
            description: "Connection refused".into(),
            affected_components: comps,
            impact: "処理遅延".into(),
            assignee: Some(format!("user{}", rng.random_range(0..20))),
            timeline: vec![TimelineEntry {
                timestamp: created,
                action: "created".into(),
                details: "generated".into(),
                by: None,
            }],
            resolution: resolved.then(|| Resolution {
                actions_taken: vec!["systemctl restart rabbitmq-server".into()],
                root_cause: "RabbitMQ停止".into(),
                resolved_at: Some(at),
                ..Resolution::default()
            }),
            acknowledged_at: None,
            matched_pattern: None,
            origin: incident::Origin::Manual,
        }
    })
}

/// `inc`, acknowledged when it is no longer open: half-way to its resolution, or 17
/// minutes after creation while in progress, with the timeline entry that says so.
#[allow(dead_code)] // store.rs does not use it
pub(crate) fn acknowledged(mut inc: Incident) -> Incident {
    if inc.status == Status::Open {
        return inc;
    }
    let created = inc.created_at.micros();
    let done = inc
        .resolution
        .as_ref()
        .and_then(|r| r.resolved_at)
        .map_or(created + 2 * 17 * 60_000_000, |t| t.micros());
    let at = Timestamp::from_micros(created + (done - created) / 2);
    inc.timeline.push(TimelineEntry {
        timestamp: at,
        action: "status_changed".into(),
        details: "open -> in_progress".into(),
        by: None,
    });
    inc.acknowledged_at = Some(at);
    inc
}
