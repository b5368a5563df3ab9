//! Migration benchmark (issue: `bridge migrate` of 1M errors in under 2.5 s, at least
//! 1.5 times faster than the SQLite import a user would build instead, under 300 MiB).
//!
//! `cargo bench --bench migrate` generates error histories (fixed seeds) and migrates each
//! into an empty store and into a store already holding `BENCH_BASE` errors (default 1M,
//! a different seed), by running the real `incident` binary under `/usr/bin/time`. In the
//! same run the same files go into SQLite (rusqlite, bundled) in one transaction, in a
//! child process (this benchmark re-executed as `sqlite-child FILE DB`) so that its wall
//! time and peak memory are measured the same way.
//!
//! Environment: `BENCH_SIZES` (default `100000,1000000`), `BENCH_BASE` (default 1000000),
//! `BENCH_REPS` (default 3; the median run is reported), `BENCH_REPS_ONTO_BASE` (default 1,
//! for the runs into the base store, which take longest), `BENCH_SQLITE_CACHE_MIB` (default:
//! SQLite's own page cache size, about 2 MiB).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde::Deserialize;

// The same allocator as the `incident` binary, so the Rust half of both sides is alike.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "support/sqlite.rs"]
mod sqlite;

use sqlite::{Result, SqliteSummary, sqlite_cache_mib, sqlite_child};

const TIME: &str = "/usr/bin/time";
const MIGRATED_SHARE: f64 = 0.02;
/// Seed of the histories migrated into an empty store, and of the base store.
const SEED_EMPTY: u64 = 1;
/// Seed of the histories migrated into the base store: different records.
const SEED_ONTO_BASE: u64 = 2;

/// What `incident bridge migrate --format json` prints (the part used here).
#[derive(Deserialize)]
struct RedbSummary {
    migrated: u64,
    linked: u64,
    phases: RedbPhases,
}

#[derive(Clone, Deserialize)]
struct RedbPhases {
    reserve: f64,
    parse: f64,
    encode: f64,
    write: f64,
}

/// One process run.
struct Run<T> {
    wall: f64,
    peak_kib: Option<u64>,
    out: T,
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if let [_, cmd, file, db, ..] = args.as_slice()
        && cmd == "sqlite-child"
    {
        return sqlite_child(Path::new(file), Path::new(db));
    }
    let sizes: Vec<usize> = std::env::var("BENCH_SIZES")
        .unwrap_or_else(|_| "100000,1000000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<std::result::Result<_, _>>()?;
    let base: usize = env_or("BENCH_BASE", 1_000_000)?;
    let reps: usize = env_or::<usize>("BENCH_REPS", 3)?.max(1);
    let reps_onto_base: usize = env_or::<usize>("BENCH_REPS_ONTO_BASE", 1)?.max(1);
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_incident"));
    let have_time = Path::new(TIME).exists();
    let dir = tempfile::tempdir()?;

    print_header(&sizes, base, (reps, reps_onto_base), have_time)?;

    // Generated first, so every input is in the OS page cache for both sides.
    let mut inputs: HashMap<(usize, u64), PathBuf> = HashMap::new();
    let wanted = sizes
        .iter()
        .flat_map(|&n| [(n, SEED_EMPTY), (n, SEED_ONTO_BASE)])
        .chain([(base, SEED_EMPTY)]);
    for (n, seed) in wanted {
        if inputs.contains_key(&(n, seed)) {
            continue;
        }
        let path = dir.path().join(format!("errors-{n}-seed{seed}.json"));
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        incident::import::error_history::generate(n, seed, MIGRATED_SHARE, &mut w)?;
        w.flush()?;
        inputs.insert((n, seed), path);
    }
    let input = |n: usize, seed: u64| inputs[&(n, seed)].clone();

    let base_redb = dir.path().join("base.redb");
    let base_sqlite = dir.path().join("base.sqlite");
    let t = Instant::now();
    redb_run(&bin, &base_redb, &input(base, SEED_EMPTY), have_time)?;
    let redb_base_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    sqlite_run(&base_sqlite, &input(base, SEED_EMPTY), have_time)?;
    let sqlite_base_s = t.elapsed().as_secs_f64();
    println!(
        "Base stores ({base} errors, seed {SEED_EMPTY}) built in {redb_base_s:.2} s (redb) \
         and {sqlite_base_s:.2} s (SQLite); each \"into {}\" run starts from a copy.\n",
        count(base)
    );

    let ctx = Ctx {
        bin: &bin,
        dir: dir.path(),
        have_time,
    };
    let mut rows = Vec::new();
    for onto_base in [false, true] {
        for &n in &sizes {
            let (seed, start) = if onto_base {
                (SEED_ONTO_BASE, Some((&base_redb, &base_sqlite)))
            } else {
                (SEED_EMPTY, None)
            };
            let file = input(n, seed);
            let name = if onto_base {
                format!("{} into {}", count(n), count(base))
            } else {
                format!("{} into empty", count(n))
            };
            let reps = if onto_base { reps_onto_base } else { reps };
            rows.push(ctx.scenario(&name, n, &file, start, reps)?);
        }
    }
    print_results(&rows);
    Ok(())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Result<T>
where
    T::Err: std::error::Error + 'static,
{
    match std::env::var(name) {
        Ok(v) => Ok(v.trim().parse()?),
        Err(_) => Ok(default),
    }
}

/// `1000000` -> `1M`, `100000` -> `100k`.
fn count(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}

fn print_header(
    sizes: &[usize],
    base: usize,
    (reps, reps_onto_base): (usize, usize),
    have_time: bool,
) -> Result<()> {
    let mut cmd = String::new();
    for var in [
        "BENCH_SIZES",
        "BENCH_BASE",
        "BENCH_REPS",
        "BENCH_REPS_ONTO_BASE",
        "BENCH_SQLITE_CACHE_MIB",
    ] {
        if let Ok(v) = std::env::var(var) {
            cmd.push_str(&format!("{var}={v} "));
        }
    }
    cmd.push_str("cargo bench --bench migrate");
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    println!("# Migration benchmark\n");
    println!("Command: `{cmd}`\n");
    println!("Machine: {cores} cores, {cpu}\n");
    println!(
        "Sizes {sizes:?}, base store {base} errors; {reps} run(s) per cell into an empty \
         store and {reps_onto_base} into the base store (each from a fresh store or a fresh \
         copy), the median reported. Inputs from `incident::import::error_history::generate` (seeds {SEED_EMPTY} and \
         {SEED_ONTO_BASE}, {:.0}% carrying an incident_id), generated first so both sides \
         read from the page cache.\n",
        MIGRATED_SHARE * 100.0
    );
    println!(
        "redb: `incident --db DB bridge migrate FILE --quiet --format json` (defaults: \
         batches growing from 1000 to 25000, a synced commit at most every 5 s and at the \
         end, the others unsynced).\n"
    );
    println!(
        "SQLite {} (bundled): one transaction; PRAGMA journal_mode=WAL, \
         synchronous=NORMAL, default page cache; schema and indexes (status, category, \
         priority, component, fingerprint primary key) created before the import; \
         `INSERT OR IGNORE` on the fingerprint as the duplicate check; prepared cached \
         statements; each record parsed with `incident::import::error_history::ErrorReader`, mapped with \
         `incident::import::error_history::to_incident`, stored as columns plus the incident as JSON. Run in a child \
         process, same allocator (mimalloc). Unlike the migration it does not reserve or \
         link carried incident ids, so it never does less work.\n",
        rusqlite::version()
    );
    if let Some(mib) = sqlite_cache_mib()? {
        println!(
            "SQLite page cache raised: PRAGMA cache_size=-{}.\n",
            mib * 1024
        );
    }
    if !have_time {
        println!("{TIME} not found: peak memory is n/a.\n");
    }
    Ok(())
}

/// Runs `cmd` (under `/usr/bin/time` when there is one) and returns its wall time, peak
/// RSS and standard output.
fn measure(cmd: &Path, args: &[&std::ffi::OsStr], have_time: bool) -> Result<Run<String>> {
    let mut c = if have_time {
        let mut c = Command::new(TIME);
        c.args(["-f", "%M"]).arg(cmd);
        c
    } else {
        Command::new(cmd)
    };
    c.args(args).stdin(Stdio::null());
    let t = Instant::now();
    let out = c.output()?;
    let wall = t.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("{} failed: {stderr}", cmd.display()).into());
    }
    let peak_kib = if have_time {
        stderr.lines().rev().find_map(|l| l.trim().parse().ok())
    } else {
        None
    };
    Ok(Run {
        wall,
        peak_kib,
        out: String::from_utf8(out.stdout)?,
    })
}

fn redb_run(bin: &Path, db: &Path, file: &Path, have_time: bool) -> Result<Run<RedbSummary>> {
    let args = [
        "--db".as_ref(),
        db.as_os_str(),
        "bridge".as_ref(),
        "migrate".as_ref(),
        file.as_os_str(),
        "--quiet".as_ref(),
        "--format".as_ref(),
        "json".as_ref(),
    ];
    let r = measure(bin, &args, have_time)?;
    Ok(Run {
        wall: r.wall,
        peak_kib: r.peak_kib,
        out: serde_json::from_str(&r.out)?,
    })
}

fn sqlite_run(db: &Path, file: &Path, have_time: bool) -> Result<Run<SqliteSummary>> {
    let me = std::env::current_exe()?;
    let args = ["sqlite-child".as_ref(), file.as_os_str(), db.as_os_str()];
    let r = measure(&me, &args, have_time)?;
    Ok(Run {
        wall: r.wall,
        peak_kib: r.peak_kib,
        out: serde_json::from_str(&r.out)?,
    })
}

/// Removes a SQLite database with its WAL and shared-memory files.
fn remove_sqlite(db: &Path) -> Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut p = db.as_os_str().to_owned();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
            _ => {}
        }
    }
    Ok(())
}

/// Puts a copy of `base` (or nothing) at `db`.
fn reset(db: &Path, base: Option<&Path>, sqlite: bool) -> Result<()> {
    if sqlite {
        remove_sqlite(db)?;
    } else if db.exists() {
        std::fs::remove_file(db)?;
    }
    if let Some(base) = base {
        std::fs::copy(base, db)?;
        // Otherwise the first fsync of the timed run would write the whole copy back.
        File::open(db)?.sync_all()?;
    }
    Ok(())
}

/// The run with the median wall time.
fn median<T>(mut runs: Vec<Run<T>>) -> (Run<T>, Vec<f64>) {
    runs.sort_by(|a, b| a.wall.total_cmp(&b.wall));
    let walls = runs.iter().map(|r| r.wall).collect();
    let mid = runs.len() / 2;
    (runs.swap_remove(mid), walls)
}

struct Row {
    name: String,
    records: usize,
    bytes: u64,
    redb: Run<RedbSummary>,
    redb_walls: Vec<f64>,
    sqlite: Run<SqliteSummary>,
    sqlite_walls: Vec<f64>,
}

/// What every scenario shares.
struct Ctx<'a> {
    bin: &'a Path,
    dir: &'a Path,
    have_time: bool,
}

impl Ctx<'_> {
    /// Migrates `file` into empty stores, or into copies of the `base` stores.
    fn scenario(
        &self,
        name: &str,
        records: usize,
        file: &Path,
        base: Option<(&PathBuf, &PathBuf)>,
        reps: usize,
    ) -> Result<Row> {
        eprintln!("running {name} ...");
        let redb_db = self.dir.join("run.redb");
        let sqlite_db = self.dir.join("run.sqlite");
        let mut redb = Vec::new();
        let mut sqlite = Vec::new();
        for _ in 0..reps {
            reset(&redb_db, base.map(|b| b.0.as_path()), false)?;
            redb.push(redb_run(self.bin, &redb_db, file, self.have_time)?);
            reset(&sqlite_db, base.map(|b| b.1.as_path()), true)?;
            sqlite.push(sqlite_run(&sqlite_db, file, self.have_time)?);
        }
        reset(&redb_db, None, false)?;
        reset(&sqlite_db, None, true)?;
        let (redb, redb_walls) = median(redb);
        let (sqlite, sqlite_walls) = median(sqlite);
        Ok(Row {
            name: name.to_string(),
            records,
            bytes: std::fs::metadata(file)?.len(),
            redb,
            redb_walls,
            sqlite,
            sqlite_walls,
        })
    }
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "n/a".into(), |k| format!("{:.0}", k as f64 / 1024.0))
}

fn walls(w: &[f64]) -> String {
    w.iter()
        .map(|s| format!("{s:.2}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_results(rows: &[Row]) {
    println!(
        "| scenario | records | redb wall s | redb peak MiB | phases parse/encode/write s \
         | SQLite wall s | SQLite peak MiB | speedup |"
    );
    println!("|---|---:|---:|---:|---|---:|---:|---:|");
    for r in rows {
        let p = &r.redb.out.phases;
        println!(
            "| {} | {} | {:.2} | {} | {:.2} / {:.2} / {:.2} | {:.2} | {} | {:.2}x |",
            r.name,
            r.records,
            r.redb.wall,
            mib(r.redb.peak_kib),
            p.parse,
            p.encode,
            p.write,
            r.sqlite.wall,
            mib(r.sqlite.peak_kib),
            r.sqlite.wall / r.redb.wall,
        );
    }
    println!(
        "\nredb phases are thread times (parsing and encoding run beside writing, so they add \
         up to more than the wall); before them a scan for carried ids (reserve). SQLite \
         phases run one after another in one thread.\n"
    );
    println!(
        "| scenario | input MB | redb rec/s | redb MB/s | SQLite rec/s | SQLite MB/s \
         | redb reserve s | redb migrated / linked | SQLite parse+map / insert / commit s \
         | SQLite inserted / duplicates |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---|---|---|");
    for r in rows {
        let mb = r.bytes as f64 / 1e6;
        let s = &r.sqlite.out;
        println!(
            "| {} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.2} | {} / {} \
             | {:.2} / {:.2} / {:.2} | {} / {} |",
            r.name,
            mb,
            r.records as f64 / r.redb.wall,
            mb / r.redb.wall,
            r.records as f64 / r.sqlite.wall,
            mb / r.sqlite.wall,
            r.redb.out.phases.reserve,
            r.redb.out.migrated,
            r.redb.out.linked,
            s.parse + s.map,
            s.insert,
            s.commit,
            s.inserted,
            s.duplicates,
        );
    }
    println!("\nAll runs, wall s (sorted):\n");
    for r in rows {
        println!(
            "- {}: redb {}; SQLite {}",
            r.name,
            walls(&r.redb_walls),
            walls(&r.sqlite_walls)
        );
    }
    let target: Vec<&Row> = rows.iter().filter(|r| r.records == 1_000_000).collect();
    if !target.is_empty() {
        println!("\nTargets (1M errors: under 2.5 s, at least 1.5x SQLite, under 300 MiB):\n");
    }
    for r in target {
        let peak = r.redb.peak_kib.map(|k| k as f64 / 1024.0);
        let speedup = r.sqlite.wall / r.redb.wall;
        println!(
            "- {}: wall {:.2} s {}, speedup {:.2}x {}, peak {} MiB {}",
            r.name,
            r.redb.wall,
            verdict(r.redb.wall < 2.5),
            speedup,
            verdict(speedup >= 1.5),
            mib(r.redb.peak_kib),
            peak.map_or("(not measured)", |p| verdict(p < 300.0)),
        );
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok { "(met)" } else { "(NOT met)" }
}
