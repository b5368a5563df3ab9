//! Report, analysis and create-time matching over a store of generated incidents.
//!
//! `cargo bench --bench analysis` generates an error history of `BENCH_N` records
//! (default 1,000,000, seed 42), migrates it with the real binary, then times whole
//! `incident` processes under `/usr/bin/time` (wall seconds, peak RSS):
//! `report --format json`, `report` (markdown), `stats`, `analyze`, and `create` before
//! and after analysis (the difference is what the pattern match adds).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

/// Runs the binary under /usr/bin/time; returns (wall s, peak MiB).
fn timed(db: &Path, args: &[&str]) -> Res<(f64, Option<f64>)> {
    let bin = env!("CARGO_BIN_EXE_incident");
    let have_time = Path::new("/usr/bin/time").exists();
    let start = Instant::now();
    let out = if have_time {
        Command::new("/usr/bin/time")
            .args(["-f", "%e %M", bin, "--db"])
            .arg(db)
            .args(args)
            .stdout(Stdio::null())
            .output()?
    } else {
        Command::new(bin)
            .arg("--db")
            .arg(db)
            .args(args)
            .stdout(Stdio::null())
            .output()?
    };
    let wall = start.elapsed().as_secs_f64();
    if !out.status.success() {
        return Err(format!(
            "incident {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let peak = String::from_utf8_lossy(&out.stderr)
        .lines()
        .last()
        .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        .and_then(|k| k.parse::<f64>().ok())
        .map(|kib| kib / 1024.0);
    Ok((wall, peak.filter(|_| have_time)))
}

fn median_of(db: &Path, args: &[&str], runs: usize) -> Res<(f64, Option<f64>)> {
    let mut v = Vec::new();
    for _ in 0..runs {
        v.push(timed(db, args)?);
    }
    v.sort_by(|a, b| a.0.total_cmp(&b.0));
    Ok(v[v.len() / 2])
}

fn row(name: &str, (wall, peak): (f64, Option<f64>)) {
    let peak = peak
        .map(|p| format!("{p:.0}"))
        .unwrap_or_else(|| "n/a".into());
    println!("| {name} | {wall:.3} | {peak} |");
}

fn main() -> Res<()> {
    let n: usize = std::env::var("BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let input = dir.path().join("error_history.json");
    let db = dir.path().join("bench.redb");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&input)?);
    incident::import::error_history::generate(n, 42, 0.02, &mut w)?;
    drop(w);
    let (mig, _) = timed(
        &db,
        &[
            "bridge",
            "migrate",
            input.to_str().ok_or("path")?,
            "--quiet",
        ],
    )?;
    println!(
        "cargo bench --bench analysis  (BENCH_N={n}; store built by `bridge migrate` in {mig:.2} s)\n"
    );
    println!("| command (whole process, median of 3) | wall s | peak MiB |");
    println!("|---|--:|--:|");
    let create = [
        "create",
        "--category",
        "failure",
        "--priority",
        "high",
        "--title",
        "ConnectionRefusedError in libs/rabbitmq_client.py",
        "--description",
        "[Errno 111] Connection refused to 10.0.0.3:5672",
        "--components",
        "libs/rabbitmq_client.py",
    ];
    row("create (no patterns stored)", median_of(&db, &create, 11)?);
    row(
        "report --format json",
        median_of(&db, &["report", "--format", "json"], 3)?,
    );
    row("report (markdown)", median_of(&db, &["report"], 3)?);
    row("stats", median_of(&db, &["stats"], 3)?);
    row("analyze", median_of(&db, &["analyze", "--quiet"], 3)?);
    row(
        "create (matched against stored patterns)",
        median_of(&db, &create, 11)?,
    );
    row(
        "report --format json (with patterns)",
        median_of(&db, &["report", "--format", "json"], 3)?,
    );
    Ok(())
}
