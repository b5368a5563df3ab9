//! Does the migration's hand-written JSON parser earn its place? The single-pass object
//! parser (`flat_object` + `flat_wire`) against serde_json's borrowed path into the same
//! struct, on generated error records (fixed seed); both must give the same records, and
//! the bench checks that. Times: chrono's RFC 3339 parser (what the reader uses) against
//! `Timestamp::parse`, which also takes the original's naive local shapes.
//!
//! cargo bench --bench parsers [-- RECORDS]

use std::time::Instant;

use incident::Timestamp;
use incident::import::error_history::parse_paths;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut last = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        last = Some(v);
    }
    (best, last.expect("at least one run"))
}

fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let mut json = Vec::new();
    incident::import::error_history::generate(n, 42, 0.02, &mut json).expect("generate");
    let doc: serde_json::Value = serde_json::from_slice(&json).expect("generated JSON");
    let objects: Vec<String> = doc["error_history"]
        .as_array()
        .expect("error_history")
        .iter()
        .map(|v| serde_json::to_string_pretty(v).expect("object"))
        .collect();
    let times: Vec<String> = doc["error_history"]
        .as_array()
        .expect("error_history")
        .iter()
        .filter_map(|v| v["timestamp"].as_str().map(str::to_string))
        .collect();
    let bytes: usize = objects.iter().map(String::len).sum();

    let (flat_s, flat_n) = best_of(5, || {
        objects
            .iter()
            .filter(|o| parse_paths::flat(o).is_some())
            .count()
    });
    let (serde_s, serde_n) = best_of(5, || {
        objects
            .iter()
            .filter(|o| parse_paths::serde(o).is_some())
            .count()
    });
    let same = objects
        .iter()
        .all(|o| parse_paths::flat(o) == parse_paths::serde(o));
    let (chrono_t, chrono_n) = best_of(5, || {
        times
            .iter()
            .filter(|t| chrono::DateTime::parse_from_rfc3339(t).is_ok())
            .count()
    });
    let (model_t, _) = best_of(5, || {
        times.iter().filter(|t| Timestamp::parse(t).is_ok()).count()
    });

    println!(
        "{n} records, {:.1} MB of objects; best of 5 runs",
        bytes as f64 / 1e6
    );
    println!("| parser | records | time | per record |");
    println!("|---|--:|--:|--:|");
    for (name, count, s) in [
        ("single pass (flat_object + flat_wire)", flat_n, flat_s),
        ("serde_json borrowed (Wire)", serde_n, serde_s),
        ("chrono parse_from_rfc3339", chrono_n, chrono_t),
        (
            "Timestamp::parse (chrono, all shapes)",
            times.len(),
            model_t,
        ),
    ] {
        println!(
            "| {name} | {count} | {:.1} ms | {:.0} ns |",
            s * 1e3,
            s * 1e9 / count.max(1) as f64
        );
    }
    println!("both JSON paths give the same records: {same}");
    println!("single pass is {:.2}x serde_json", serde_s / flat_s);
}
