//! Structure-aware input fuzzing, bounded: error histories and incident histories built
//! from their real fields, with wrong types, bad and edge times, repeated and unknown
//! keys, control characters, long values, byte order marks and both shapes. Reading,
//! migrating and importing them must never panic, must account for every record, and
//! must leave a store that `check` finds consistent. The seed is printed; set
//! `INCIDENT_FUZZ_SEED` to replay, `INCIDENT_FUZZ_CASES` to change the size.

#![allow(clippy::unwrap_used)]

use std::time::{Duration, Instant};

use incident::IncidentManager;
use incident::import::{ExportFormat, MigrateOptions};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// A JSON string literal.
fn lit(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_./]{1,12}",
        "[ぁ-んァ-ン一-龥]{1,6}",
        Just("pwn\u{1b}[2J\r\u{7}\u{9b}".to_string()),
        Just(String::new()),
        Just("  ".to_string()),
        (1usize..3).prop_map(|k| "y".repeat(k * 40_000)),
    ]
}

fn time() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("2025-07-09T13:20:00.123456+00:00".to_string()),
        Just("2025-07-09T13:20:00Z".to_string()),
        Just("2025-07-09T22:20:00.5+09:00".to_string()),
        Just("2025-07-09T13:20:00".to_string()),
        Just("2025-07-09 13:20".to_string()),
        Just("2025-07-09".to_string()),
        Just("0000-01-01T00:00:00Z".to_string()),
        Just("0001-01-01T00:00:00Z".to_string()),
        Just("9999-12-31T23:59:59Z".to_string()),
        Just("+10000-01-01T00:00:00".to_string()),
        Just("2025-02-30T00:00:00Z".to_string()),
        Just("yesterday".to_string()),
        (2020u32..2027, 1u32..13, 1u32..29, 0u32..24)
            .prop_map(|(y, m, d, h)| format!("{y}-{m:02}-{d:02}T{h:02}:00:00Z")),
    ]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..40).prop_map(|n| format!("INC-20250709-{n:04}")),
        Just("INC-20250709-4294967295".to_string()),
        Just("INC-20250709-1000000".to_string()),
        Just("INC-2025-1".to_string()),
        Just("inc-20250709-0001".to_string()),
    ]
}

/// Any JSON value, as text: the wrong type for most fields.
fn other() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("null".to_string()),
        Just("true".to_string()),
        Just("42".to_string()),
        Just("-1.5e3".to_string()),
        Just("[1, \"a\", {\"b\": null}]".to_string()),
        Just("{\"nested\": {\"x\": [true]}}".to_string()),
    ]
}

/// One member of an error record: a known field with a fitting or unfitting value, or
/// an unknown one.
fn error_member() -> impl Strategy<Value = (String, String)> {
    let s = |k: &'static str| text().prop_map(move |v| (k.to_string(), lit(&v)));
    prop_oneof![
        4 => time().prop_map(|t| ("timestamp".to_string(), lit(&t))),
        3 => s("error_type"),
        3 => s("file"),
        3 => s("error_message"),
        1 => s("pattern_id"),
        1 => s("fix_applied"),
        1 => any::<bool>().prop_map(|b| ("success".to_string(), b.to_string())),
        1 => id().prop_map(|i| ("incident_id".to_string(), lit(&i))),
        1 => time().prop_map(|t| ("resolved_at".to_string(), lit(&t))),
        1 => other().prop_map(|v| ("success".to_string(), v)),
        1 => other().prop_map(|v| ("timestamp".to_string(), v)),
        1 => other().prop_map(|v| ("extra".to_string(), v)),
    ]
}

/// A complete record most of the time (so that migration has work), then mutated.
fn error_record() -> impl Strategy<Value = String> {
    (
        time(),
        text(),
        text(),
        text(),
        proptest::collection::vec(error_member(), 0..4),
    )
        .prop_map(|(t, ty, f, m, extra)| {
            let mut members = vec![
                ("timestamp".to_string(), lit(&t)),
                ("error_type".to_string(), lit(&ty)),
                ("file".to_string(), lit(&f)),
                ("error_message".to_string(), lit(&m)),
            ];
            members.extend(extra);
            let body: Vec<String> = members
                .iter()
                .map(|(k, v)| format!("{}: {v}", lit(k)))
                .collect();
            format!("{{{}}}", body.join(", "))
        })
}

fn error_history() -> impl Strategy<Value = String> {
    (
        proptest::collection::vec(error_record(), 0..12),
        0u8..3,
        any::<bool>(),
    )
        .prop_map(|(records, shape, bom)| {
            let body = match shape {
                0 => records.join("\n") + "\n",
                1 => format!("[{}]", records.join(",\n")),
                _ => format!(
                    "{{\"metadata\": {{\"total_errors\": {}}}, \"error_history\": [{}]}}",
                    records.len(),
                    records.join(",\n")
                ),
            };
            if bom { format!("\u{feff}{body}") } else { body }
        })
}

/// An incident entry in the original tool's shape or ours, then mutated.
fn incident_entry() -> impl Strategy<Value = String> {
    (
        id(),
        any::<bool>(),
        time(),
        text(),
        prop_oneof![Just("failure"), Just("error"), Just("outage")],
        prop_oneof![Just("open"), Just("in_progress"), Just("resolved"), Just("closed")],
        proptest::collection::vec(text(), 0..3),
        proptest::collection::vec((time(), text()), 0..3),
        prop_oneof![
            Just(None),
            (time(), text()).prop_map(Some),
        ],
        proptest::collection::vec((Just("title".to_string()), text().prop_map(|t| lit(&t))), 0..2),
    )
        .prop_map(
            |(id, original, t, title, category, status, components, timeline, resolution, dup)| {
                let mut m = vec![
                    if original {
                        format!("\"incident_id\": {}, \"timestamp\": {}", lit(&id), lit(&t))
                    } else {
                        format!(
                            "\"id\": {}, \"created_at\": {}, \"updated_at\": {}",
                            lit(&id),
                            lit(&t),
                            lit(&t)
                        )
                    },
                    format!("\"category\": {}", lit(category)),
                    "\"priority\": \"high\"".to_string(),
                    format!("\"status\": {}", lit(status)),
                    format!("\"title\": {}", lit(&title)),
                    format!(
                        "\"affected_components\": [{}]",
                        components.iter().map(|c| lit(c)).collect::<Vec<_>>().join(", ")
                    ),
                    "\"assignee\": \"ai_system\"".to_string(),
                    format!(
                        "\"timeline\": [{}]",
                        timeline
                            .iter()
                            .map(|(t, d)| format!(
                                "{{\"timestamp\": {}, \"action\": \"更新\", \"details\": {}}}",
                                lit(t),
                                lit(d)
                            ))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    match resolution {
                        None => "\"resolution\": null".to_string(),
                        Some((t, r)) => format!(
                            "\"resolution\": {{\"actions_taken\": [{}], \"root_cause\": {}, \"resolved_at\": {}}}",
                            lit(&r),
                            lit(&r),
                            lit(&t)
                        ),
                    },
                ];
                m.extend(dup.into_iter().map(|(k, v)| format!("{}: {v}", lit(&k))));
                format!("{{{}}}", m.join(", "))
            },
        )
}

fn incident_history() -> impl Strategy<Value = String> {
    (proptest::collection::vec(incident_entry(), 0..6), any::<bool>()).prop_map(|(e, bom)| {
        let body = format!(
            "{{\"metadata\": {{\"version\": \"1.0\"}}, \"incidents\": [{}], \"statistics\": {{\"total_incidents\": {}}}}}",
            e.join(",\n"),
            e.len()
        );
        if bom { format!("\u{feff}{body}") } else { body }
    })
}

fn seed_and_cases() -> (u64, u32) {
    let seed = std::env::var("INCIDENT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    let cases = std::env::var("INCIDENT_FUZZ_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256);
    (seed, cases)
}

fn runner(name: &str, seed: u64, cases: u32) -> TestRunner {
    eprintln!("{name}: seed {seed} (INCIDENT_FUZZ_SEED={seed} replays), {cases} cases");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &bytes),
    )
}

/// Within the time budget; later cases pass untried.
fn in_budget(start: Instant) -> bool {
    start.elapsed() < Duration::from_secs(25)
}

#[test]
fn error_histories_migrate_or_are_refused_cleanly() {
    // Fixed zone: naive times are local.
    let (seed, cases) = seed_and_cases();
    let start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let counter = std::cell::Cell::new(0u32);
    let totals = std::cell::Cell::new((0u64, 0u64));
    runner("error histories", seed, cases)
        .run(&error_history(), |input| {
            if !in_budget(start) {
                return Ok(());
            }
            let n = counter.get() + 1;
            counter.set(n);
            let file = dir.path().join(format!("eh-{n}.json"));
            std::fs::write(&file, &input).unwrap();
            let db = dir.path().join(format!("db-{n}.redb"));
            let m = IncidentManager::open(&db).unwrap();
            let opts = MigrateOptions {
                skip_invalid: true,
                ..MigrateOptions::default()
            };
            match incident::import::migrate(&m, &file, &opts, &|_| {}) {
                Ok(s) => {
                    totals.set((totals.get().0 + s.migrated, totals.get().1 + s.rejected));
                    prop_assert_eq!(
                        s.records,
                        s.migrated + s.already_present + s.linked + s.rejected,
                        "every record is counted once"
                    );
                    prop_assert_eq!(m.count().unwrap(), s.migrated);
                }
                // A malformed document stops the migration with a message, cleanly.
                Err(e) => prop_assert!(!e.to_string().is_empty()),
            }
            let report = m.check().unwrap();
            prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
            let _ = std::fs::remove_file(&file);
            drop(m);
            let _ = std::fs::remove_file(&db);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    eprintln!(
        "error histories: {} cases in {:.1} s: {} records migrated, {} rejected",
        counter.get(),
        start.elapsed().as_secs_f64(),
        totals.get().0,
        totals.get().1
    );
}

#[test]
fn incident_histories_import_exactly_or_are_refused_cleanly() {
    let (seed, cases) = seed_and_cases();
    let start = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let counter = std::cell::Cell::new(0u32);
    let imported = std::cell::Cell::new(0u32);
    runner("incident histories", seed, cases)
        .run(&incident_history(), |input| {
            if !in_budget(start) {
                return Ok(());
            }
            let n = counter.get() + 1;
            counter.set(n);
            let Ok(incidents) = incident::import::read_history(input.as_bytes()) else {
                return Ok(());
            };
            imported.set(imported.get() + 1);
            let db = dir.path().join(format!("db-{n}.redb"));
            let m = IncidentManager::open(&db).unwrap();
            if incident::import::import_incidents(&m, incidents).is_err() {
                // Refused as a whole: nothing was written.
                prop_assert_eq!(m.count().unwrap(), 0);
                return Ok(());
            }
            let report = m.check().unwrap();
            prop_assert!(report.problems.is_empty(), "{:?}", report.problems);
            // What was imported exports and imports again unchanged.
            let mut out = Vec::new();
            incident::import::export(&m, ExportFormat::Json, &mut out).unwrap();
            let again = incident::import::read_history(out.as_slice()).unwrap();
            let mut all = Vec::new();
            m.for_each(|i| {
                all.push(i);
                Ok(())
            })
            .unwrap();
            prop_assert_eq!(again, all);
            drop(m);
            let _ = std::fs::remove_file(&db);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    eprintln!(
        "incident histories: {} cases in {:.1} s, {} read whole",
        counter.get(),
        start.elapsed().as_secs_f64(),
        imported.get()
    );
}
