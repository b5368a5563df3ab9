//! Migrated errors group by problem, not by file, in `cluster` and in `analyze` alike.

mod common;

use common::Env;
use serde_json::Value;

const FILES: [&str; 6] = [
    "workers/a.py",
    "workers/b.py",
    "services/sync.py",
    "api/export.py",
    "jobs/nightly.py",
    "libs/db.py",
];

/// Title and description of each migrated error: two problems, each from every file.
fn errors() -> Vec<(String, String)> {
    let mut v = Vec::new();
    for (i, file) in FILES.iter().enumerate() {
        v.push((
            format!("KeyError in {file}"),
            format!("'key_{i}'が見つかりません"),
        ));
        v.push((
            format!("psycopg2.OperationalError in {file}"),
            "FATAL: password authentication failed for user \"app\"".to_string(),
        ));
    }
    v
}

/// Regression: a KeyError raised from ten files was ten patterns, and
/// `psycopg2.OperationalError` was masked to `<*>`.
#[test]
fn one_pattern_per_problem_in_cluster_and_analyze() {
    let env = Env::new();
    let input: String = errors()
        .iter()
        .map(|(t, d)| format!("{t} — {d}\n"))
        .collect();
    let out = env
        .cmd()
        .args(["cluster", "-", "--format", "jsonl"])
        .write_stdin(input)
        .output()
        .expect("run");
    assert!(out.status.success());
    let mut clustered: Vec<String> = String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("json");
            v["template"].as_str().expect("template").to_string()
        })
        .collect();
    clustered.sort();
    clustered.dedup();
    let expected = [
        "KeyError in <*> — '<*>'が見つかりません",
        "psycopg2.OperationalError in <*> — FATAL: password authentication failed for user \"app\"",
    ];
    assert_eq!(clustered, expected);

    for (title, description) in errors() {
        env.create(&[
            "--title",
            &title,
            "--description",
            &description,
            "--category",
            "error",
            "--priority",
            "medium",
            "--components",
            "worker",
        ]);
    }
    let a = env.json(&["analyze", "--format", "json"]);
    let mut analyzed: Vec<(String, u64)> = a["patterns"]
        .as_array()
        .expect("patterns")
        .iter()
        .map(|p| {
            (
                p["template"].as_str().expect("template").to_string(),
                p["count"].as_u64().expect("count"),
            )
        })
        .collect();
    analyzed.sort();
    assert_eq!(
        analyzed,
        expected.map(|t| (t.to_string(), FILES.len() as u64))
    );
}
