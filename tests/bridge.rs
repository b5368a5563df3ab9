//! The error-history bridge, run as a real process against real redb files.

#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::Env;
use serde_json::Value;

const SMALL: &str = r#"{"metadata": {"total_errors": 3, "resolved_errors": 1},
 "error_history": [
   {"timestamp": "2025-07-09T13:20:00.123456+00:00", "error_type": "ConnectionRefusedError",
    "file": "libs/rabbitmq_client.py", "error_message": "Connection refused to 10.0.0.3:5672",
    "pattern_id": "PATTERN_001", "fix_applied": "systemctl restart rabbitmq-server", "success": true},
   {"error_type": "ModuleNotFoundError", "timestamp": "2025-07-09T14:00:00Z", "file": "workers/pm_worker.py",
    "error_message": "No module named 'pika'", "pattern_id": "PATTERN_002",
    "fix_applied": "pending", "success": false, "extra": {"nested": [1, 2, 3]}},
   {"timestamp": "2025-07-10T01:00:00+09:00", "error_type": "FatalWorkerCrash", "file": "workers/a.py",
    "error_message": "ワーカーが異常終了しました (exit 137)", "success": false}],
 "pattern_statistics": {"PATTERN_001": {"count": 1, "resolution_rate": 100.0}}}"#;

fn migrate_json(env: &Env, file: &str, extra: &[&str]) -> Value {
    let mut args = vec!["bridge", "migrate", file, "--format", "json"];
    args.extend_from_slice(extra);
    env.json(&args)
}

#[test]
fn migrates_as_the_original_bridge_did_and_is_idempotent() {
    let env = Env::new();
    env.write("eh.json", SMALL);
    let s = migrate_json(&env, "eh.json", &[]);
    assert_eq!(s["records"], 3);
    assert_eq!(s["migrated"], 3);
    let all = env.json(&["list", "--all", "--format", "json", "--oldest-first"]);
    let first = &all[0];
    assert_eq!(first["id"], "INC-20250709-0001");
    assert_eq!(
        first["title"],
        "ConnectionRefusedError in libs/rabbitmq_client.py"
    );
    assert_eq!(first["category"], "error");
    assert_eq!(first["priority"], "high");
    assert_eq!(first["status"], "resolved");
    assert_eq!(first["impact"], "システムエラーによる処理中断");
    assert_eq!(first["assignee"], "error_handler");
    assert_eq!(first["created_at"], "2025-07-09T13:20:00.123456+00:00");
    assert_eq!(
        first["resolution"]["actions_taken"][0],
        "systemctl restart rabbitmq-server"
    );
    assert_eq!(first["resolution"]["root_cause"], "Pattern: PATTERN_001");
    // The history records no resolution time: unknown, not "at the error's own time".
    assert_eq!(first["resolution"]["resolved_at"], serde_json::Value::Null);
    assert_eq!(first["origin"], "migrated");
    assert_eq!(all[1]["priority"], "medium");
    assert_eq!(all[1]["status"], "open");
    assert_eq!(all[2]["priority"], "critical");
    // 2025-07-10T01:00+09:00 is July 9 in UTC but July 10 in Tokyo: the id has the local date.
    assert_eq!(all[2]["id"], "INC-20250710-0001");

    let again = migrate_json(&env, "eh.json", &[]);
    assert_eq!(again["migrated"], 0);
    assert_eq!(again["already_present"], 3);

    // A grown file adds only the new error.
    let grown = SMALL.replace(
        "\"success\": false}],",
        "\"success\": false},\n {\"timestamp\": \"2025-07-11T09:00:00Z\", \"error_type\": \"TypeError\", \"file\": \"x.py\", \"error_message\": \"bad\"}],",
    );
    env.write("eh.json", &grown);
    let g = migrate_json(&env, "eh.json", &[]);
    assert_eq!(
        (g["migrated"].as_u64(), g["already_present"].as_u64()),
        (Some(1), Some(3))
    );
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
    assert!(
        env.ok(&["bridge", "check", "eh.json"])
            .contains("4 records, 4 consistent, 0 inconsistencies")
    );
}

#[test]
fn carried_incident_ids_are_linked_not_duplicated() {
    let env = Env::new();
    let id = env.create(&[
        "--category",
        "error",
        "--priority",
        "medium",
        "--title",
        "pika missing",
        "--components",
        "pm_worker",
        "--at",
        "2025-07-09T10:00:00+09:00",
    ]);
    assert_eq!(id, "INC-20250709-0001");
    let doc = SMALL
        .replace(
            "\"success\": false, \"extra\"",
            "\"success\": false, \"incident_id\": \"INC-20250709-0001\", \"extra\"",
        )
        .replace(
            "\"success\": false}]",
            "\"success\": false, \"incident_id\": \"INC-20250710-0007\"}]",
        );
    env.write("eh.json", &doc);
    let s = migrate_json(&env, "eh.json", &[]);
    assert_eq!(s["linked"], 1, "{s}");
    assert_eq!(s["migrated"], 2, "{s}");
    assert_eq!(s["created_under_carried_id"], 1, "{s}");
    // The carried id was created as is; new ids of that day never take it.
    let v = env.json(&["show", "INC-20250710-0007", "--format", "json"]);
    assert_eq!(v["title"], "FatalWorkerCrash in workers/a.py");
    assert_eq!(env.list(&["--all"]).len(), 3);
    assert!(
        env.ok(&["bridge", "check", "eh.json"])
            .contains("3 consistent, 0 inconsistencies")
    );
    let next = env.create(&[
        "--category",
        "error",
        "--priority",
        "low",
        "--title",
        "t",
        "--components",
        "c",
        "--at",
        "2025-07-10T10:00:00+09:00",
    ]);
    assert_eq!(next, "INC-20250710-0008");
}

#[test]
fn write_back_adds_ids_atomically_and_check_agrees() {
    let env = Env::new();
    env.write("eh.json", SMALL);
    let s = migrate_json(&env, "eh.json", &["--write-back"]);
    assert_eq!(s["written_back"]["updated"], 3);
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("eh.json")).unwrap()).unwrap();
    assert_eq!(doc["error_history"][0]["incident_id"], "INC-20250709-0001");
    assert_eq!(doc["error_history"][1]["extra"]["nested"][2], 3);
    assert_eq!(doc["pattern_statistics"]["PATTERN_001"]["count"], 1);
    // Written-back ids keep the fingerprint: nothing new, everything consistent.
    let again = migrate_json(&env, "eh.json", &[]);
    assert_eq!(again["already_present"], 3);
    assert!(
        env.ok(&["bridge", "check", "eh.json"])
            .contains("0 inconsistencies")
    );
    let e = env.fails(&["bridge", "migrate", "-", "--write-back"], 1);
    assert!(e.contains("--write-back needs a file"), "{e}");
    let e = env.fails(&["bridge", "migrate", "eh.json", "--checkpoint", "-1"], 2);
    assert!(e.contains("expected a number of seconds"), "{e}");
}

#[test]
fn json_lines_and_stdin_work() {
    let env = Env::new();
    let lines = "{\"timestamp\": \"2025-01-01T00:00:00Z\", \"error_type\": \"KeyError\", \"file\": \"a.py\", \"error_message\": \"'x'\"}\n\n{\"timestamp\": \"2025-01-01T00:01:00Z\", \"error_type\": \"KeyError\", \"file\": \"a.py\", \"error_message\": \"'y'\", \"success\": true, \"fix_applied\": \"restart\"}\r\n";
    let out = env
        .cmd()
        .args(["bridge", "migrate", "-", "--format", "json"])
        .write_stdin(lines)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["migrated"], 2);
    let leftovers: Vec<_> = std::fs::read_dir(env.dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("stdin"))
        .collect();
    assert!(leftovers.is_empty(), "spooled stdin is removed");
}

#[test]
fn bad_input_stops_at_the_first_invalid_record_and_resumes() {
    let env = Env::new();
    let bad = SMALL.replace(
        "\"timestamp\": \"2025-07-09T14:00:00Z\"",
        "\"timestamp\": \"14:00 yesterday\"",
    );
    env.write("eh.json", &bad);
    let e = env.fails(&["bridge", "migrate", "eh.json"], 1);
    assert!(e.contains("record 1 (byte"), "{e}");
    assert!(e.contains("field \"timestamp\""), "{e}");
    assert!(e.contains("migrated 1"), "{e}");
    // What came before stays; nothing at or after it was written.
    assert_eq!(env.list(&["--all"]).len(), 1);
    env.write("eh.json", SMALL);
    let s = migrate_json(&env, "eh.json", &[]);
    assert_eq!(
        (s["migrated"].as_u64(), s["already_present"].as_u64()),
        (Some(2), Some(1))
    );

    let cases = [
        (
            "missing",
            SMALL.replacen("\"error_type\": \"ModuleNotFoundError\",", "", 1),
            "record 1 (byte",
            "missing field \"error_type\"",
        ),
        (
            "wrong_type",
            SMALL.replacen("\"success\": true", "\"success\": \"yes\"", 1),
            "record 0 (byte",
            "field \"success\": expected",
        ),
        (
            "bad_id",
            SMALL.replacen(
                "\"success\": false, \"extra\"",
                "\"success\": false, \"incident_id\": \"INC-1\", \"extra\"",
                1,
            ),
            "record 1 (byte",
            "incident_id",
        ),
        (
            "malformed",
            SMALL.replacen(
                "\"file\": \"workers/a.py\",",
                "\"file\": \"workers/a.py\" \"x\",",
                1,
            ),
            "malformed JSON at byte",
            "line 9",
        ),
    ];
    for (name, content, where_, what) in cases {
        let env = Env::new();
        env.write("eh.json", &content);
        let e = env.fails(&["bridge", "migrate", "eh.json"], 1);
        assert!(e.contains(where_) && e.contains(what), "{name}: {e}");
        assert!(env.ok(&["check"]).contains("0 problem(s)"), "{name}");
    }
}

#[test]
fn skip_invalid_writes_rejects_with_reasons() {
    let env = Env::new();
    let bad = SMALL.replacen("\"error_type\": \"ModuleNotFoundError\",", "", 1);
    env.write("eh.json", &bad);
    let s = migrate_json(
        &env,
        "eh.json",
        &["--skip-invalid", "--rejects", "rej.jsonl"],
    );
    assert_eq!(
        (s["migrated"].as_u64(), s["rejected"].as_u64()),
        (Some(2), Some(1))
    );
    let rej = std::fs::read_to_string(env.path("rej.jsonl")).unwrap();
    let line: Value = serde_json::from_str(rej.lines().next().unwrap()).unwrap();
    assert_eq!(line["index"], 1);
    assert_eq!(line["reason"], "missing field \"error_type\"");
    assert_eq!(line["record"]["file"], "workers/pm_worker.py");
    let c = env
        .cmd()
        .args(["bridge", "check", "eh.json"])
        .output()
        .unwrap();
    assert_eq!(c.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&c.stdout).contains("record 1: invalid"));
}

#[test]
fn check_reports_each_inconsistency_with_its_index() {
    let env = Env::new();
    env.write("eh.json", SMALL);
    migrate_json(&env, "eh.json", &[]);
    let grown = SMALL.replace("\"success\": false}]", "\"success\": false, \"incident_id\": \"INC-20990101-0001\"},\n{\"timestamp\": \"2025-08-01T00:00:00Z\", \"error_type\": \"E\", \"file\": \"f\", \"error_message\": \"m\"}]");
    env.write("eh.json", &grown);
    let out = env
        .cmd()
        .args(["bridge", "check", "eh.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "record 2: unknown_incident_id: record 2 names incident_id INC-20990101-0001"
        ),
        "{text}"
    );
    assert!(text.contains("record 3: not_migrated"), "{text}");
}

#[test]
fn integrated_report_has_error_and_incident_statistics() {
    let env = Env::new();
    env.write("eh.json", SMALL);
    migrate_json(&env, "eh.json", &[]);
    let md = env.ok(&["bridge", "report", "eh.json"]);
    assert!(md.contains("| Total errors | 3 |"), "{md}");
    assert!(md.contains("| PATTERN_001 | 1 | 1 | 100.0% |"), "{md}");
    assert!(md.contains("# Incident report"), "{md}");
    let j = env.json(&["bridge", "report", "eh.json", "--format", "json"]);
    assert_eq!(j["errors"]["total_errors"], 3);
    assert_eq!(j["errors"]["resolved_errors"], 1);
    // Migrated errors are reported apart from the incidents people handle.
    assert_eq!(j["incidents"]["summary"]["incidents"], 0);
    assert_eq!(j["incidents"]["error_history"]["errors"], 3);
    assert_eq!(j["incidents"]["error_history"]["unresolved"], 2);
}

#[test]
fn generated_history_is_deterministic() {
    let env = Env::new();
    env.ok(&["bridge", "generate", "2000", "--seed", "7", "-o", "a.json"]);
    env.ok(&["bridge", "generate", "2000", "--seed", "7", "-o", "b.json"]);
    let a = std::fs::read(env.path("a.json")).unwrap();
    assert_eq!(a, std::fs::read(env.path("b.json")).unwrap());
    let s = migrate_json(&env, "a.json", &[]);
    let linked_or_carried =
        s["created_under_carried_id"].as_u64().unwrap() + s["linked"].as_u64().unwrap();
    assert!(
        linked_or_carried > 0,
        "some records are already migrated: {s}"
    );
    assert_eq!(s["migrated"], 2000);
    assert!(
        env.ok(&["bridge", "check", "a.json"])
            .contains("2000 consistent")
    );
}

/// A second history over the same months puts every new entry of the time-keyed tables
/// (`by_created`, `fingerprints`) between two stored ones; the writer then rewrites the
/// ranges a batch spans instead of inserting key by key. Nothing may be lost or doubled.
#[test]
fn second_history_over_the_same_months_interleaves_cleanly() {
    let env = Env::new();
    for (seed, file) in [("1", "a.json"), ("2", "b.json")] {
        env.ok(&[
            "bridge",
            "generate",
            "6000",
            "--seed",
            seed,
            "--migrated-share",
            "0",
            "-o",
            file,
        ]);
        assert_eq!(migrate_json(&env, file, &[])["migrated"], 6000);
    }
    let out = env.ok(&["check"]);
    assert!(out.contains("checked 12000 incidents"), "{out}");
    assert!(out.contains("0 problem(s)"), "{out}");
    for file in ["a.json", "b.json"] {
        assert!(
            env.ok(&["bridge", "check", file])
                .contains("6000 consistent, 0 inconsistencies")
        );
        assert_eq!(migrate_json(&env, file, &[])["already_present"], 6000);
    }
    // --since/--until (driven by by_created) equals filtering every incident by its time.
    let (from, to) = ("2025-02-01T00:00:00+00:00", "2025-03-01T00:00:00+00:00");
    let expected = env
        .list(&["--all"])
        .iter()
        .filter(|i| {
            let t = i["created_at"].as_str().unwrap();
            t >= from && t < to
        })
        .count();
    assert!(expected > 500, "{expected}");
    let window = env.list(&["--all", "--since", from, "--until", to]);
    assert_eq!(window.len(), expected);
}

/// A damaged day counter (behind the stored ids) must not make a new incident take, and
/// overwrite, a stored one's id.
#[test]
fn new_ids_pass_stored_ones_even_when_the_day_counter_is_behind() {
    let env = Env::new();
    env.write("eh.json", SMALL);
    migrate_json(&env, "eh.json", &[]);
    incident::testing::corrupt_index(&env.db()).unwrap();
    env.write(
        "more.json",
        r#"[{"timestamp": "2025-07-09T15:00:00+09:00", "error_type": "TimeoutError",
             "file": "libs/slack.py", "error_message": "timed out", "success": false}]"#,
    );
    let s = migrate_json(&env, "more.json", &[]);
    assert_eq!(s["migrated"], 1);
    let mut ids = env.list_ids(&["--all"]);
    ids.sort_unstable();
    assert_eq!(
        ids,
        [
            "INC-20250709-0001",
            "INC-20250709-0002",
            "INC-20250709-0003",
            "INC-20250710-0001"
        ]
    );
    let first = env.json(&["show", "INC-20250709-0001", "--format", "json"]);
    assert_eq!(
        first["title"],
        "ConnectionRefusedError in libs/rabbitmq_client.py"
    );
}

/// kill -9 at six points of a real migration: the file opens cleanly, holds only
/// whole incidents with their index entries, and a rerun finishes with no duplicates.
#[test]
fn killed_migration_resumes_without_duplicates_or_losses() {
    let env = Env::new();
    env.ok(&[
        "bridge", "generate", "60000", "--seed", "3", "-o", "eh.json",
    ]);
    let mut seen_partial = false;
    // Batches of 500, each synced: every commit is a point the rerun can resume from.
    for delay in [200u64, 500, 900, 1400, 2000, 2700] {
        let mut child = env
            .process()
            .args([
                "bridge",
                "migrate",
                "eh.json",
                "--batch",
                "500",
                "--checkpoint",
                "0",
                "--quiet",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay));
        let _ = child.kill();
        let _ = child.wait();
        let out = env.ok(&["check"]);
        assert!(
            out.contains("0 problem(s)"),
            "after kill at {delay} ms: {out}"
        );
        let n = env.list(&["--all"]).len();
        seen_partial |= n > 0 && n < 60000;
    }
    let s = migrate_json(&env, "eh.json", &[]);
    assert_eq!(
        s["migrated"].as_u64().unwrap() + s["already_present"].as_u64().unwrap(),
        60000
    );
    assert!(env.ok(&["check"]).contains("checked 60000 incidents"));
    assert!(
        env.ok(&["bridge", "check", "eh.json"])
            .contains("60000 consistent, 0 inconsistencies")
    );
    assert!(
        seen_partial,
        "no kill landed between two commits: the test proved nothing"
    );
}

/// Regression: timestamps without an offset (the original tool wrote them that way) were
/// fingerprinted as local instants, so a rerun in another time zone duplicated everything.
#[test]
fn rerun_in_another_time_zone_finds_every_error() {
    let env = Env::new();
    let naive = SMALL
        .replace(
            "2025-07-09T13:20:00.123456+00:00",
            "2025-07-09T13:20:00.123456",
        )
        .replace("2025-07-09T14:00:00Z", "2025-07-09T14:00:00");
    env.write("eh.json", &naive);
    let first = migrate_json(&env, "eh.json", &[]);
    assert_eq!(first["migrated"], 3);
    let out = env
        .cmd()
        .env("TZ", "UTC")
        .args(["bridge", "migrate", "eh.json", "--format", "json"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["already_present"], 3, "{again}");
    assert_eq!(again["migrated"], 0, "{again}");
    let check = env
        .cmd()
        .env("TZ", "America/New_York")
        .args(["bridge", "check", "eh.json"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// The breakdown counts every problem, not only the first 1,000 that are listed.
#[test]
fn check_breakdown_counts_past_the_listed_problems() {
    let env = Env::new();
    env.ok(&[
        "bridge",
        "generate",
        "1500",
        "--seed",
        "3",
        "--migrated-share",
        "0",
        "-o",
        "g.json",
    ]);
    env.create(&[
        "--category",
        "error",
        "--priority",
        "low",
        "--title",
        "t",
        "--components",
        "c",
    ]);
    let out = env
        .cmd()
        .args(["bridge", "check", "g.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.ends_with("1500 records, 0 consistent, 1500 inconsistencies (not_migrated 1500)\n"),
        "{}",
        text.lines().last().unwrap_or("")
    );
}
