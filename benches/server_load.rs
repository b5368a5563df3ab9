//! Load on `incident serve` over loopback (issue 13: with 32 clients, list p99 < 20 ms and
//! create p99 < 30 ms on a 1M store; a list during a 1M migration p99 < 50 ms).
//!
//! `cargo bench --bench server_load` builds a store of `BENCH_N` migrated errors (default
//! 1,000,000; `incident bridge generate` seed 42 + `bridge migrate`, cached under
//! `target/bench-data/`), starts the real binary's `serve` on 127.0.0.1, and runs:
//!
//! 1. `BENCH_CLIENTS` (default 32) clients, each with its own keep-alive connection, doing
//!    a mix of 60% list (`GET /api/v1/incidents?status=open&status=in_progress&limit=50`,
//!    every third one also filtered by a component), 30% show (`GET /api/v1/incidents/ID`
//!    of a random stored id) and 10% create (`POST /api/v1/incidents`), until
//!    `BENCH_REQUESTS` (default 30,000) requests or `BENCH_SECONDS` (default 60) pass;
//! 2. a second 1M history (seed 43) migrated through the server (`incident --server URL
//!    bridge migrate`) while 4 clients list as above, until the migration ends or
//!    `BENCH_SECONDS` pass.
//!
//! Throughput and p50/p99 latency per kind are printed as a markdown table.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::{RngExt, SeedableRng};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const BIN: &str = env!("CARGO_BIN_EXE_incident");

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn run(args: &[&str]) -> Result<()> {
    let s = Command::new(BIN).args(args).status()?;
    if !s.success() {
        return Err(format!("incident {args:?} failed: {s}").into());
    }
    Ok(())
}

/// A 1M store, built once and kept; each run works on a copy.
fn store(dir: &Path, n: u64) -> Result<PathBuf> {
    let db = dir.join(format!("server_load-{n}.redb"));
    if db.exists() {
        return Ok(db);
    }
    let input = dir.join(format!("errors-{n}-42.json"));
    run(&[
        "bridge",
        "generate",
        &n.to_string(),
        "--seed",
        "42",
        "-o",
        input.to_str().ok_or("path")?,
    ])?;
    let t = Instant::now();
    run(&[
        "--db",
        db.to_str().ok_or("path")?,
        "bridge",
        "migrate",
        input.to_str().ok_or("path")?,
        "--quiet",
    ])?;
    eprintln!(
        "built {} in {:.1} s",
        db.display(),
        t.elapsed().as_secs_f64()
    );
    std::fs::remove_file(&input)?;
    Ok(db)
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(db: &Path) -> Result<Server> {
    use std::io::BufRead;
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--db"])
        .arg(db)
        .env("INCIDENT_LOG", "warn")
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("stderr")?;
    let mut lines = std::io::BufReader::new(stderr).lines();
    let first = lines.next().ok_or("serve printed nothing")??;
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| format!("no address in {first:?}"))?
        .to_string();
    // Keep draining the log so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Ok(Server { child, url })
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Kind {
    List,
    Show,
    Create,
}

#[derive(Default)]
struct Samples {
    list: Vec<u64>,
    show: Vec<u64>,
    create: Vec<u64>,
    errors: u64,
}

impl Samples {
    fn push(&mut self, k: Kind, micros: u64) {
        match k {
            Kind::List => self.list.push(micros),
            Kind::Show => self.show.push(micros),
            Kind::Create => self.create.push(micros),
        }
    }
}

fn pct(v: &mut [u64], p: f64) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_unstable();
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i] as f64 / 1000.0
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .new_agent()
}

const COMPONENTS: &[&str] = &[
    "db_client",
    "pm_worker",
    "rabbitmq",
    "api_gateway",
    "scheduler",
];

fn list_url(base: &str, i: u64) -> String {
    let mut u = format!("{base}/api/v1/incidents?status=open&status=in_progress&limit=50");
    if i.is_multiple_of(3) {
        u.push_str(&format!(
            "&component={}",
            COMPONENTS[(i / 3) as usize % COMPONENTS.len()]
        ));
    }
    u
}

/// One request; its latency in microseconds, or `None` when it failed.
fn request(a: &ureq::Agent, base: &str, k: Kind, i: u64, ids: &[String]) -> Option<u64> {
    let t = Instant::now();
    let ok = match k {
        Kind::List => a.get(list_url(base, i)).call(),
        Kind::Show => a
            .get(format!("{base}/api/v1/incidents/{}", ids[i as usize % ids.len()]))
            .call(),
        Kind::Create => a
            .post(format!("{base}/api/v1/incidents"))
            .header("Content-Type", "application/json")
            .send(
                format!(
                    r#"{{"category":"failure","priority":"high","title":"load test {i} 接続断","components":["{}"],"description":"bench"}}"#,
                    COMPONENTS[i as usize % COMPONENTS.len()]
                )
                .as_bytes(),
            ),
    }
    .ok()
    .and_then(|r| {
        let good = r.status().is_success();
        r.into_body()
            .with_config()
            .limit(u64::MAX)
            .read_to_vec()
            .ok()
            .filter(|_| good)
    });
    ok.map(|_| t.elapsed().as_micros() as u64)
}

fn sample_ids(base: &str) -> Result<Vec<String>> {
    let a = agent();
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    while ids.len() < 20_000 {
        let mut url = format!("{base}/api/v1/incidents?limit=5000");
        if let Some(c) = &after {
            url.push_str(&format!("&after={c}"));
        }
        let v: serde_json::Value = a
            .get(url)
            .call()?
            .into_body()
            .with_config()
            .limit(u64::MAX)
            .read_json()?;
        for i in v["incidents"].as_array().ok_or("incidents")? {
            ids.push(i["id"].as_str().ok_or("id")?.to_string());
        }
        match v["next_cursor"].as_str() {
            Some(c) => after = Some(c.to_string()),
            None => break,
        }
    }
    Ok(ids)
}

fn mixed(
    base: &str,
    clients: u64,
    requests: u64,
    seconds: u64,
    ids: Arc<Vec<String>>,
) -> (Samples, f64) {
    let counter = Arc::new(AtomicU64::new(0));
    let all = Arc::new(Mutex::new(Samples::default()));
    let start = Instant::now();
    let deadline = start + Duration::from_secs(seconds);
    let handles: Vec<_> = (0..clients)
        .map(|c| {
            let (counter, all, ids, base) =
                (counter.clone(), all.clone(), ids.clone(), base.to_string());
            std::thread::spawn(move || {
                let a = agent();
                let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1000 + c);
                let mut mine = Samples::default();
                loop {
                    let i = counter.fetch_add(1, Ordering::Relaxed);
                    if i >= requests || Instant::now() > deadline {
                        break;
                    }
                    let roll = rng.random_range(0..100u32);
                    let k = if roll < 60 {
                        Kind::List
                    } else if roll < 90 {
                        Kind::Show
                    } else {
                        Kind::Create
                    };
                    match request(&a, &base, k, rng.random_range(0..u64::MAX / 2), &ids) {
                        Some(us) => mine.push(k, us),
                        None => mine.errors += 1,
                    }
                }
                if let Ok(mut all) = all.lock() {
                    all.list.extend(mine.list);
                    all.show.extend(mine.show);
                    all.create.extend(mine.create);
                    all.errors += mine.errors;
                }
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let wall = start.elapsed().as_secs_f64();
    let s = std::mem::take(&mut *all.lock().unwrap_or_else(|e| e.into_inner()));
    (s, wall)
}

fn main() -> Result<()> {
    if std::env::args().any(|a| a == "--list" || a == "--test") {
        return Ok(());
    }
    let n = env_num("BENCH_N", 1_000_000);
    let clients = env_num("BENCH_CLIENTS", 32);
    let requests = env_num("BENCH_REQUESTS", 30_000);
    let seconds = env_num("BENCH_SECONDS", 60);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir)?;
    let pristine = store(&dir, n)?;
    let db = dir.join(format!("server_load-{n}-run.redb"));
    std::fs::copy(&pristine, &db)?;
    let server = serve(&db)?;
    let base = server.url.clone();
    let ids = Arc::new(sample_ids(&base)?);

    let (mut s, wall) = mixed(&base, clients, requests, seconds, ids.clone());
    let total = (s.list.len() + s.show.len() + s.create.len()) as f64;
    println!(
        "\n## incident serve, {n} incidents, {clients} clients, loopback\n\n\
         {total:.0} requests in {wall:.1} s: {:.0} requests/s, {} errors\n",
        total / wall,
        s.errors
    );
    println!("| request | count | p50 ms | p99 ms |\n|---|---:|---:|---:|");
    for (name, v) in [
        ("list (50, open)", &mut s.list),
        ("show", &mut s.show),
        ("create", &mut s.create),
    ] {
        println!(
            "| {name} | {} | {:.2} | {:.2} |",
            v.len(),
            pct(v, 0.5),
            pct(v, 0.99)
        );
    }

    // A second history migrated through the server while 4 clients list.
    let input = dir.join(format!("errors-{n}-43.json"));
    if !input.exists() {
        run(&[
            "bridge",
            "generate",
            &n.to_string(),
            "--seed",
            "43",
            "-o",
            input.to_str().ok_or("path")?,
        ])?;
    }
    let started = Instant::now();
    let mut migrate = Command::new(BIN)
        .args(["--server", &base, "bridge", "migrate", "--quiet"])
        .arg(&input)
        .stdout(Stdio::null())
        .spawn()?;
    let running = Arc::new(AtomicBool::new(true));
    let lat = Arc::new(Mutex::new(Vec::<u64>::new()));
    let errors = Arc::new(AtomicU64::new(0));
    let listers: Vec<_> = (0..4u64)
        .map(|c| {
            let (running, lat, errors, base) =
                (running.clone(), lat.clone(), errors.clone(), base.clone());
            std::thread::spawn(move || {
                let a = agent();
                let mut i = c;
                while running.load(Ordering::Relaxed) {
                    match request(&a, &base, Kind::List, i, &[]) {
                        Some(us) => lat.lock().map(|mut l| l.push(us)).unwrap_or(()),
                        None => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    i += 4;
                }
            })
        })
        .collect();
    let deadline = Duration::from_secs(seconds.max(120));
    let status = loop {
        if let Some(s) = migrate.try_wait()? {
            break Some(s);
        }
        if started.elapsed() > deadline {
            let _ = migrate.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    running.store(false, Ordering::Relaxed);
    for l in listers {
        let _ = l.join();
    }
    let mut lat = std::mem::take(&mut *lat.lock().unwrap_or_else(|e| e.into_inner()));
    println!(
        "\n## list while {n} errors migrate through the same server\n\n\
         migration {} in {:.1} s; {} lists by 4 clients, {} errors: p50 {:.2} ms, p99 {:.2} ms\n",
        match status {
            Some(s) if s.success() => "finished".to_string(),
            Some(s) => format!("failed ({s})"),
            None => "stopped at the time bound".to_string(),
        },
        started.elapsed().as_secs_f64(),
        lat.len(),
        errors.load(Ordering::Relaxed),
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.99)
    );
    // Every run starts from the same store.
    drop(server);
    std::fs::remove_file(&db)?;
    Ok(())
}
