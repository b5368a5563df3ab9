//! Store benchmark (issue: the incident store and its CLI).
//!
//! `cargo bench --bench store` builds stores of 100k and 1M generated incidents (fixed
//! seed), then measures, as whole `incident` processes: `list --component X --status open
//! --limit 50` and `create`; and in-process filtered queries whose match count grows
//! while the store size is fixed (and the reverse). `BENCH_N` overrides the large size.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use incident::{
    Category, Filter, Incident, IncidentId, IncidentManager, Priority, Resolution, Status,
    TimelineEntry, Timestamp,
};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

const COMPONENTS: usize = 400;

/// Component `k` of a Zipf-like spread: `comp0` is the most common.
fn component(rng: &mut ChaCha8Rng) -> String {
    let u: f64 = rng.random();
    let k = ((COMPONENTS as f64).powf(u) - 1.0) as usize;
    if k == 0 {
        "db_client".into()
    } else {
        format!("comp{k}")
    }
}

fn incidents(n: usize, seed: u64) -> impl Iterator<Item = Incident> {
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

fn build(path: &Path, n: usize) -> IncidentManager {
    let m = IncidentManager::open(path).expect("open");
    let t = Instant::now();
    m.bulk_insert(incidents(n, 42), 100_000).expect("load");
    println!(
        "built store of {n} incidents in {:.2} s ({} MB)",
        t.elapsed().as_secs_f64(),
        std::fs::metadata(path)
            .map(|m| m.len() / 1_000_000)
            .unwrap_or(0)
    );
    m
}

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "median {:.2} ms, p95 {:.2} ms, min {:.2} ms (n={})",
        ms(v[v.len() / 2]),
        ms(v[v.len() * 95 / 100]),
        ms(v[0]),
        v.len()
    )
}

fn process(db: &Path, args: &[&str], runs: usize) -> String {
    let bin = env!("CARGO_BIN_EXE_incident");
    let mut times = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let st = Command::new(bin)
            .arg("--db")
            .arg(db)
            .args(args)
            .stdout(Stdio::null())
            .status()
            .expect("run");
        times.push(t.elapsed());
        assert!(st.success(), "incident {args:?} failed");
    }
    stats(times)
}

fn query(m: &IncidentManager, f: &Filter, runs: usize) -> (usize, String) {
    let mut times = Vec::new();
    let mut n = 0;
    for _ in 0..runs {
        let t = Instant::now();
        n = m.query(f).expect("query").len();
        times.push(t.elapsed());
    }
    (n, stats(times))
}

fn main() {
    let big: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let small_db = dir.path().join("small.redb");
    let big_db = dir.path().join("big.redb");
    let small = build(&small_db, big / 10);
    let large = build(&big_db, big);

    for (name, m) in [("small", &small), ("large", &large)] {
        println!("-- {name} store: filtered queries (all statuses), cost vs matches");
        for comp in ["comp399", "comp200", "comp40", "comp5", "db_client"] {
            let f = Filter {
                components: vec![comp.into()],
                ..Filter::default()
            };
            let (n, s) = query(m, &f, 9);
            println!("  --component {comp:<9} {n:>7} matches: {s}");
        }
        let f = Filter {
            components: vec!["db_client".into()],
            statuses: vec![Status::Open],
            limit: Some(50),
            ..Filter::default()
        };
        let (n, s) = query(m, &f, 21);
        println!("  --component db_client --status open --limit 50 ({n}): {s}");
    }
    drop(small);
    drop(large);

    println!("-- whole process on the {big} store");
    println!(
        "  list --component db_client --status open --limit 50: {}",
        process(
            &big_db,
            &[
                "list",
                "--component",
                "db_client",
                "--status",
                "open",
                "--limit",
                "50"
            ],
            31
        )
    );
    println!(
        "  list --component comp40 --status open --limit 50: {}",
        process(
            &big_db,
            &[
                "list",
                "--component",
                "comp40",
                "--status",
                "open",
                "--limit",
                "50"
            ],
            31
        )
    );
    println!(
        "  list (default: open+in_progress) --limit 50: {}",
        process(&big_db, &["list", "--limit", "50"], 31)
    );
    println!(
        "  create: {}",
        process(
            &big_db,
            &[
                "create",
                "--category",
                "error",
                "--priority",
                "high",
                "--title",
                "bench 接続エラー",
                "--components",
                "db_client"
            ],
            31
        )
    );
    println!(
        "  show: {}",
        process(&big_db, &["show", "INC-20240601-0001"], 31)
    );
}
