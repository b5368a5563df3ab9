//! PostgreSQL backend benchmark (issue 15).
//!
//! `cargo bench --bench postgres` on one generated `error_history.json` (fixed seed):
//! 1. `incident bridge migrate` into redb, into PostgreSQL (binary `COPY`), and the SQLite
//!    import a user would build (`support/sqlite.rs`), each a whole process;
//! 2. the same migration through the library in this process into PostgreSQL twice: with
//!    `COPY`, and with one `INSERT` per row through the same driver (target: `COPY` at least
//!    3x faster);
//! 3. `list` latency on the migrated PostgreSQL store (p50/p99 over repeated queries, in
//!    process, and whole `incident list` processes);
//! 4. creates per second with 8 concurrent `incident create` processes, PostgreSQL and redb.
//!
//! The server is `$INCIDENT_TEST_PG` if set, else a throwaway cluster from `.ci/pg start`.
//! Environment: `BENCH_PG_SIZE` (default 1000000), `BENCH_PG_ROWS_SIZE` (default the same:
//! the row-by-row run), `BENCH_LIST_REPS` (default 200), `BENCH_CREATES` (per process,
//! default 50), `BENCH_PG_PARTS` (default `migrate,copy,list,creates`: which parts run;
//! `list` migrates its store first when `migrate` does not run).

#[path = "support/sqlite.rs"]
mod sqlite;

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use incident::import::MigrateOptions;
use incident::{Filter, IncidentManager, Order, Status};
use sqlite::{Result, sqlite_child};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_or(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(v) => Ok(v.trim().parse()?),
        Err(_) => Ok(default),
    }
}

/// A PostgreSQL server for the run, stopped at the end when this run started it.
struct Server {
    url: String,
    started: Option<String>,
}

impl Server {
    fn get() -> Result<Server> {
        if let Ok(url) = std::env::var("INCIDENT_TEST_PG") {
            return Ok(Server { url, started: None });
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/pg");
        let out = Command::new(&script).arg("start").output()?;
        if !out.status.success() {
            return Err(format!(
                "{} start: {}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            )
            .into());
        }
        let text = String::from_utf8(out.stdout)?;
        let var = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("export {name}=")))
                .map(str::to_string)
        };
        Ok(Server {
            url: var("INCIDENT_TEST_PG").ok_or("no URL from .ci/pg")?,
            started: var("INCIDENT_PG_DIR"),
        })
    }

    /// A fresh, empty database; returns its URL.
    fn fresh(&self, name: &str) -> Result<String> {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls)?;
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        c.batch_execute(&format!("CREATE DATABASE {name}"))?;
        let base = self
            .url
            .rsplit_once('/')
            .map_or(self.url.as_str(), |(b, _)| b);
        Ok(format!("{base}/{name}"))
    }

    fn drop_db(&self, name: &str) -> Result<()> {
        let mut c = postgres::Client::connect(&self.url, postgres::NoTls)?;
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(dir) = &self.started {
            let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/pg");
            let _ = Command::new(script).args(["stop", dir]).status();
        }
    }
}

fn timed(mut c: Command) -> Result<f64> {
    c.stdin(Stdio::null()).stdout(Stdio::null());
    let t = Instant::now();
    let out = c.output()?;
    if !out.status.success() {
        return Err(format!("{c:?} failed: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    Ok(t.elapsed().as_secs_f64())
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_incident"))
}

fn migrate_process(db: &str, file: &Path) -> Result<f64> {
    let mut c = Command::new(bin());
    c.args(["--db", db, "bridge", "migrate"])
        .arg(file)
        .arg("--quiet");
    timed(c)
}

/// The library's migration in this process, `COPY` or row by row.
fn migrate_in_process(url: &str, file: &Path, rows: bool) -> Result<(f64, u64)> {
    incident::testing::postgres_row_inserts(rows);
    let m = IncidentManager::open(url)?;
    let t = Instant::now();
    let s = incident::import::migrate(&m, file, &MigrateOptions::default(), &|_| {})?;
    let wall = t.elapsed().as_secs_f64();
    incident::testing::postgres_row_inserts(false);
    Ok((wall, s.migrated))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(s: f64) -> String {
    format!("{:.2}", s * 1000.0)
}

/// 8 processes, `per` creates each, on `db`: creates per second over the whole run.
fn concurrent_creates(db: &str, per: usize) -> Result<f64> {
    let t = Instant::now();
    let children: Vec<_> = (0..8)
        .map(|p| {
            Command::new("bash")
                .arg("-c")
                .arg(format!(
                    "for i in $(seq 1 {per}); do \"$BIN\" create --category error --priority low \
                     --title \"w{p} $i\" --components c{p} || exit 1; done"
                ))
                .env("BIN", bin())
                .env("INCIDENT_DB", db)
                .stdout(Stdio::null())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    for mut c in children {
        if !c.wait()?.success() {
            return Err("a create failed".into());
        }
    }
    Ok((8 * per) as f64 / t.elapsed().as_secs_f64())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, cmd, file, db, ..] = args.as_slice()
        && cmd == "sqlite-child"
    {
        return sqlite_child(Path::new(file), Path::new(db));
    }
    let n = env_or("BENCH_PG_SIZE", 1_000_000)?;
    let rows_n = env_or("BENCH_PG_ROWS_SIZE", n)?;
    let list_reps = env_or("BENCH_LIST_REPS", 200)?.max(1);
    let per = env_or("BENCH_CREATES", 50)?.max(1);
    let parts =
        std::env::var("BENCH_PG_PARTS").unwrap_or_else(|_| "migrate,copy,list,creates".into());
    let part = |name: &str| parts.split(',').any(|p| p.trim() == name);
    let server = Server::get()?;
    let dir = tempfile::tempdir()?;

    println!("# PostgreSQL backend benchmark\n");
    println!(
        "Command: `cargo bench --bench postgres` (BENCH_PG_SIZE={n}, BENCH_PG_ROWS_SIZE={rows_n}, \
         BENCH_LIST_REPS={list_reps}, BENCH_CREATES={per}, BENCH_PG_PARTS={parts})\n"
    );
    let generate = |count: usize, name: &str| -> Result<PathBuf> {
        let path = dir.path().join(name);
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        incident::import::error_history::generate(count, 1, 0.02, &mut w)?;
        w.flush()?;
        Ok(path)
    };
    let input = generate(n, "errors.json")?;

    // 1. Whole processes, the same file.
    let pg_url = server.fresh("bench_copy")?;
    if part("migrate") {
        let redb_db = dir.path().join("bench.redb");
        let redb_s = migrate_process(redb_db.to_str().ok_or("path")?, &input)?;
        let pg_s = migrate_process(&pg_url, &input)?;
        let sqlite_db = dir.path().join("bench.sqlite");
        let sqlite_s = timed({
            let mut c = Command::new(std::env::current_exe()?);
            c.arg("sqlite-child").arg(&input).arg(&sqlite_db);
            c
        })?;
        println!("## `incident bridge migrate`, {n} errors (whole process, wall)\n");
        println!("| store | wall s | errors/s |\n|---|---:|---:|");
        for (name, s) in [
            ("redb", redb_s),
            ("PostgreSQL (COPY)", pg_s),
            ("SQLite (one transaction, prepared INSERTs)", sqlite_s),
        ] {
            println!("| {name} | {s:.2} | {:.0} |", n as f64 / s);
        }
    } else if part("list") {
        migrate_process(&pg_url, &input)?;
    }

    // 2. COPY against row-by-row INSERT, same driver, same process.
    if part("copy") {
        let rows_input = if rows_n == n {
            input.clone()
        } else {
            generate(rows_n, "errors-rows.json")?
        };
        let url = server.fresh("bench_inproc_copy")?;
        let (copy_s, copied) = migrate_in_process(&url, &rows_input, false)?;
        server.drop_db("bench_inproc_copy")?;
        let url = server.fresh("bench_inproc_rows")?;
        let (rows_s, inserted) = migrate_in_process(&url, &rows_input, true)?;
        server.drop_db("bench_inproc_rows")?;
        assert_eq!(copied, inserted);
        let ratio = rows_s / copy_s;
        println!(
            "\n## COPY against one INSERT per row ({rows_n} errors, in process, same driver)\n"
        );
        println!("| write path | wall s | errors/s |\n|---|---:|---:|");
        println!(
            "| binary COPY | {copy_s:.2} | {:.0} |",
            rows_n as f64 / copy_s
        );
        println!(
            "| INSERT per row | {rows_s:.2} | {:.0} |",
            rows_n as f64 / rows_s
        );
        println!(
            "\nCOPY is {ratio:.2}x faster (target at least 3x: {})",
            if ratio >= 3.0 { "met" } else { "NOT met" }
        );
    }

    // 3. list on the migrated store.
    if part("list") {
        let m = IncidentManager::open(&pg_url)?;
        let queries: Vec<(&str, Filter)> = vec![
            (
                "default (open + in_progress, 50 newest)",
                Filter {
                    statuses: vec![Status::Open, Status::InProgress],
                    limit: Some(50),
                    ..Filter::default()
                },
            ),
            (
                "--component libs/db.py --status open",
                Filter {
                    statuses: vec![Status::Open],
                    components: vec!["libs/db.py".into()],
                    limit: Some(50),
                    ..Filter::default()
                },
            ),
            (
                "--all --since 2025-03-01 --until 2025-03-02",
                Filter {
                    since: Some(incident::Timestamp::parse("2025-03-01T00:00:00Z")?),
                    until: Some(incident::Timestamp::parse("2025-03-02T00:00:00Z")?),
                    ..Filter::default()
                },
            ),
            (
                "--all --oldest-first --limit 50",
                Filter {
                    limit: Some(50),
                    order: Order::OldestFirst,
                    ..Filter::default()
                },
            ),
        ];
        println!(
            "\n## `list` on {n} incidents in PostgreSQL ({list_reps} queries each, in process)\n"
        );
        println!("| query | results | p50 ms | p99 ms |\n|---|---:|---:|---:|");
        for (name, f) in &queries {
            let mut times = Vec::with_capacity(list_reps);
            let mut found = 0;
            for _ in 0..list_reps {
                let t = Instant::now();
                found = m.query(f)?.len();
                times.push(t.elapsed().as_secs_f64());
            }
            times.sort_by(f64::total_cmp);
            println!(
                "| {name} | {found} | {} | {} |",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99))
            );
        }
        let reps = (list_reps / 4).max(1);
        println!(
            "\n## Whole `incident list` processes on {n} incidents in PostgreSQL ({reps} runs \
             each, connection and rendering included)\n"
        );
        println!("| command | p50 ms | p99 ms |\n|---|---:|---:|");
        for extra in [&["--limit", "50"][..], &[][..]] {
            let mut times = Vec::with_capacity(reps);
            for _ in 0..reps {
                let mut c = Command::new(bin());
                c.args([
                    "--db",
                    &pg_url,
                    "list",
                    "--component",
                    "libs/db.py",
                    "--status",
                    "open",
                ]);
                c.args(extra);
                times.push(timed(c)?);
            }
            times.sort_by(f64::total_cmp);
            let shown = if extra.is_empty() {
                let every = m.query(&Filter {
                    statuses: vec![Status::Open],
                    components: vec!["libs/db.py".into()],
                    ..Filter::default()
                })?;
                format!("` (all {} matches)", every.len())
            } else {
                format!(" {}`", extra.join(" "))
            };
            println!(
                "| `incident list --component libs/db.py --status open{shown} | {} | {} |",
                ms(percentile(&times, 0.5)),
                ms(percentile(&times, 0.99))
            );
        }
        drop(m);
    }

    // 4. Concurrent writers.
    if part("creates") {
        let url = server.fresh("bench_creates")?;
        let pg_rate = concurrent_creates(&url, per)?;
        server.drop_db("bench_creates")?;
        let redb_file = dir.path().join("creates.redb");
        let redb_rate = concurrent_creates(redb_file.to_str().ok_or("path")?, per)?;
        println!(
            "\n## 8 concurrent `incident create` processes, {per} creates each\n\n\
         | store | creates/s |\n|---|---:|\n| PostgreSQL | {pg_rate:.0} |\n| redb (one file, \
         processes take turns) | {redb_rate:.0} |"
        );
    }
    server.drop_db("bench_copy")?;
    std::thread::sleep(Duration::from_millis(10));
    Ok(())
}
