//! Grouping accuracy (GA) of the default miner on the loghub-2k development sets.
//!
//! `cargo run --release --example loghub_eval -- ../shared/loghub [--errors]`
//!
//! Reads `<dir>/<System>/<System>_2k.log_structured_corrected.csv` for every system folder
//! found, mines the `Content` column with `MinerConfig::default()`, and compares the groups
//! with those of the `EventTemplate` column. `--errors` lists every true group that was
//! split or merged. An ablation table follows: GA with each grouping step turned off.

#[path = "support/ga.rs"]
mod ga;

use std::collections::{BTreeMap, BTreeSet};
use std::error::Error;
use std::path::{Path, PathBuf};

use incident::patterns::miner::{Mined, Miner, MinerConfig};

struct Row {
    content: String,
    truth: String,
}

fn read(path: &Path) -> Result<Vec<Row>, Box<dyn Error>> {
    let mut rdr = csv::Reader::from_path(path)?;
    let headers = rdr.headers()?.clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| format!("{}: no column {name}", path.display()))
    };
    let (content, truth) = (col("Content")?, col("EventTemplate")?);
    let mut rows = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let rec = rec.map_err(|e| format!("{}: record {}: {e}", path.display(), i + 1))?;
        let field = |c: usize| {
            rec.get(c)
                .map(str::to_string)
                .ok_or_else(|| format!("{}: record {} is short", path.display(), i + 1))
        };
        rows.push(Row {
            content: field(content)?,
            truth: field(truth)?,
        });
    }
    Ok(rows)
}

fn report_errors(rows: &[Row], mined: &Mined) {
    let by_pred = ga::groups(mined.assignments.iter().copied());
    for (truth, members) in ga::groups(rows.iter().map(|r| r.truth.as_str())) {
        let preds: BTreeSet<usize> = members.iter().map(|&i| mined.assignments[i]).collect();
        if preds.len() == 1 && preds.iter().all(|p| by_pred[p] == members) {
            continue;
        }
        println!("  truth x{:<4} {truth}", members.len());
        for p in preds {
            let c = &mined.clusters[p];
            let mine = members
                .iter()
                .filter(|&&i| mined.assignments[i] == p)
                .count();
            println!("    {mine:>4} of {:>4} in {}", c.count, c.template);
        }
        println!("         e.g. {}", rows[members[0]].content);
    }
}

fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = PathBuf::from(
        args.iter()
            .find(|a| !a.starts_with("--"))
            .map_or("../shared/loghub", String::as_str),
    );
    let show_errors = args.iter().any(|a| a == "--errors");
    let mut sets = BTreeMap::new();
    for entry in std::fs::read_dir(&root).map_err(|e| format!("{}: {e}", root.display()))? {
        let dir = entry?.path();
        if let Some(name) = dir.file_name().and_then(|n| n.to_str()) {
            let csv = dir.join(format!("{name}_2k.log_structured_corrected.csv"));
            if csv.is_file() {
                sets.insert(name.to_string(), csv);
            }
        }
    }
    if sets.is_empty() {
        return Err(format!(
            "{}: no <System>/<System>_2k.log_structured_corrected.csv",
            root.display()
        )
        .into());
    }
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>7}",
        "system", "messages", "clusters", "truth", "GA"
    );
    let mut total = 0.0;
    let configs = ga::ablations();
    let mut ablation: Vec<(String, Vec<f64>)> = Vec::new();
    for (name, path) in &sets {
        let rows = read(path)?;
        let truth: Vec<&str> = rows.iter().map(|r| r.truth.as_str()).collect();
        let scores = configs
            .iter()
            .map(|(_, cfg)| {
                let mut miner = Miner::new(cfg.clone());
                for r in &rows {
                    miner.add(&r.content);
                }
                ga::grouping_accuracy(&miner.finish().assignments, &truth)
            })
            .collect();
        ablation.push((name.clone(), scores));
        let mut miner = Miner::new(MinerConfig::default());
        for r in &rows {
            miner.add(&r.content);
        }
        let mined = miner.finish();
        let ga = ga::grouping_accuracy(&mined.assignments, &truth);
        let n_truth = truth.iter().collect::<BTreeSet<_>>().len();
        println!(
            "{:<10} {:>8} {:>8} {:>8} {:>7.4}",
            name,
            rows.len(),
            mined.clusters.len(),
            n_truth,
            ga
        );
        if show_errors {
            report_errors(&rows, &mined);
        }
        total += ga;
    }
    println!(
        "{:<10} {:>8} {:>8} {:>8} {:>7.4}",
        "mean",
        "",
        "",
        "",
        total / sets.len() as f64
    );
    println!();
    print!("{:<10}", "ablation");
    for (name, _) in &configs {
        print!(" {name:>9}");
    }
    println!();
    let mut means = vec![0.0; configs.len()];
    for (name, scores) in &ablation {
        print!("{name:<10}");
        for (m, s) in means.iter_mut().zip(scores) {
            print!(" {s:>9.4}");
            *m += s / ablation.len() as f64;
        }
        println!();
    }
    print!("{:<10}", "mean");
    for m in means {
        print!(" {m:>9.4}");
    }
    println!();
    Ok(())
}
