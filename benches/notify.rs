//! Notifications, escalation and metrics benchmark (issue 14).
//!
//! `cargo bench --bench notify` builds stores of 100k and 1M generated incidents (fixed
//! seed, 5 % open or in progress), then measures in process: one `GET /metrics` render
//! (`Exposition::render`, a full scan), one escalation tick over the active incidents
//! (first run fires, second finds nothing new), and, as whole processes on the 100k
//! store, `incident create` (whose transaction now also writes the outbox event) and
//! `incident outbox deliver --once` draining 200 events to a receiver on 127.0.0.1.
//! `BENCH_N` overrides the large size.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use incident::escalation::{Policy, Step, Unless, tick};
use incident::metrics::SlaTargets;
use incident::observe::Exposition;
use incident::{IncidentManager, Priority, Timestamp};

#[path = "support/incidents.rs"]
mod generated;
use generated::{acknowledged, incidents};

fn stats(mut v: Vec<Duration>) -> String {
    v.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    format!(
        "median {:.1} ms, min {:.1} ms (n={})",
        ms(v[v.len() / 2]),
        ms(v[0]),
        v.len()
    )
}

fn timed<T>(runs: usize, mut f: impl FnMut() -> T) -> (T, String) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    (last.expect("runs > 0"), stats(times))
}

fn policy() -> Policy {
    let mut p = Policy::default();
    p.push(
        Priority::Critical,
        Step {
            after_minutes: 10,
            unless: Some(Unless::Acknowledged),
            assign: Some("oncall-lead".into()),
            ..Step::default()
        },
    );
    p.push(
        Priority::High,
        Step {
            after_minutes: 30,
            unless: Some(Unless::Acknowledged),
            raise_priority: Some(Priority::Critical),
            ..Step::default()
        },
    );
    p
}

/// A receiver on 127.0.0.1 answering 200 to everything; returns its URL.
fn receiver() -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", l.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let mut len = 0;
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
                let mut body = vec![0; len];
                let _ = r.read_exact(&mut body);
                let mut s = s;
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            });
        }
    });
    url
}

fn main() {
    let large: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("tempdir");
    let now = Timestamp::parse("2025-01-01T00:00:00Z").expect("time");
    for n in [100_000, large] {
        let path = dir.path().join(format!("{n}.redb"));
        let m = IncidentManager::open(&path).expect("open");
        m.bulk_insert(incidents(n, 42).map(acknowledged), 100_000)
            .expect("load");
        println!("store of {n} incidents:");
        let e = Exposition::default();
        let (text, t) = timed(5, || {
            e.render(&m, &SlaTargets::default(), now).expect("render")
        });
        println!("  metrics render: {t} ({} bytes)", text.len());
        let p = policy();
        let (first, t) = timed(1, || {
            tick(&m, &p, &SlaTargets::default(), now).expect("tick")
        });
        println!(
            "  escalation tick, first: {t} ({} active, {} fired)",
            first.examined,
            first.fired.len()
        );
        let (again, t) = timed(3, || {
            tick(&m, &p, &SlaTargets::default(), now).expect("tick")
        });
        println!(
            "  escalation tick, nothing new: {t} ({} fired)",
            again.fired.len()
        );
        if n != 100_000 {
            continue;
        }
        drop(m);
        let bin = env!("CARGO_BIN_EXE_incident");
        let run = |args: &[&str]| {
            let st = Command::new(bin)
                .arg("--db")
                .arg(&path)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run");
            assert!(st.success(), "incident {args:?}");
        };
        // Drain the tick's events first, so the deliver measurement sees only creates.
        let cfg = dir.path().join("cfg.json");
        std::fs::write(
            &cfg,
            format!(
                r#"{{"notify": [{{"name": "hook", "url": "{}", "events": ["*"]}}]}}"#,
                receiver()
            ),
        )
        .expect("config");
        let cfg = cfg.to_str().expect("utf-8 path");
        run(&["outbox", "deliver", "--once", "--config", cfg]);
        let create = [
            "create",
            "--category",
            "failure",
            "--priority",
            "high",
            "--title",
            "bench",
            "--components",
            "db",
        ];
        let ((), t) = timed(200, || run(&create));
        println!("  incident create (whole process, with its outbox event): {t}");
        let ((), t) = timed(1, || run(&["outbox", "deliver", "--once", "--config", cfg]));
        println!("  outbox deliver --once, 200 events to 127.0.0.1: {t}");
    }
}
