//! Store benchmark (issue: the incident store and its CLI).
//!
//! `cargo bench --bench store` builds stores of 100k and 1M generated incidents (fixed
//! seed), then measures, as whole `incident` processes: `list --component X --status open
//! --limit 50` and `create`; and in-process filtered queries whose match count grows
//! while the store size is fixed (and the reverse). `BENCH_N` overrides the large size.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use incident::{Filter, IncidentManager, Status};

#[path = "support/incidents.rs"]
mod generated;
use generated::incidents;

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
