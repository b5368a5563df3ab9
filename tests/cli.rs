//! The store and its CLI, run as a real process against real redb files.

#![allow(clippy::unwrap_used)]

mod common;

use common::{Env, on_postgres};
use serde_json::Value;

const BASIC: &[&str] = &[
    "--category",
    "failure",
    "--priority",
    "high",
    "--title",
    "RabbitMQ接続断",
    "--description",
    "Connection refused to 10.0.0.3:5672",
    "--components",
    "rabbitmq",
    "pm_worker",
    "--impact",
    "通知停止",
];

#[test]
fn whole_lifecycle_with_timeline() {
    let env = Env::new();
    let mut args = BASIC.to_vec();
    args.extend(["--at", "2025-01-04T10:00:00+09:00"]);
    let id = env.create(&args);
    assert_eq!(id, "INC-20250104-0001");

    env.ok(&[
        "update",
        &id,
        "--status",
        "in_progress",
        "--assignee",
        "田中",
        "--at",
        "2025-01-04T10:20:00+09:00",
    ]);
    env.ok(&[
        "update",
        &id,
        "--priority",
        "critical",
        "--note",
        "影響拡大",
        "--at",
        "2025-01-04T10:30:00+09:00",
    ]);
    env.ok(&[
        "resolve",
        &id,
        "--actions",
        "systemctl restart rabbitmq-server",
        "キュー再作成",
        "--root-cause",
        "RabbitMQ停止",
        "--preventive",
        "監視追加",
        "--knowledge",
        "KB更新",
        "--at",
        "2025-01-04T12:00:00+09:00",
    ]);
    env.ok(&["close", &id, "--at", "2025-01-04T13:00:00+09:00"]);
    env.ok(&[
        "reopen",
        &id,
        "--note",
        "再発",
        "--at",
        "2025-01-05T09:00:00+09:00",
    ]);

    let v = env.json(&["show", &id, "--format", "json"]);
    assert_eq!(v["status"], "open");
    assert_eq!(v["priority"], "critical");
    assert_eq!(v["assignee"], "田中");
    assert_eq!(v["acknowledged_at"], "2025-01-04T01:20:00.000000+00:00");
    // Reopen keeps the old resolution on record.
    assert_eq!(v["resolution"]["root_cause"], "RabbitMQ停止");
    assert_eq!(v["resolution"]["actions_taken"][1], "キュー再作成");
    let actions: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "created",
            "status_changed",
            "updated",
            "updated",
            "note",
            "resolved",
            "closed",
            "reopened"
        ]
    );
    let details: Vec<&str> = v["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"].as_str().unwrap())
        .collect();
    assert!(
        details.contains(&"priority: high -> critical"),
        "{details:?}"
    );
    assert!(details.contains(&"assignee: (none) -> 田中"), "{details:?}");
    assert!(
        details
            .iter()
            .any(|d| d.contains("previous resolution: root cause \"RabbitMQ停止\""))
    );

    let text = env.ok(&["show", "--id", &id]);
    assert!(text.contains("resolution (before reopen)"), "{text}");
    assert!(text.contains("reopened"), "{text}");
}

#[test]
fn refused_operations_change_nothing() {
    let env = Env::new();
    let id = env.create(BASIC);
    let before = env.ok(&["show", &id, "--format", "json"]);

    let e = env.fails(&["close", &id], 1);
    assert!(
        e.contains(&format!(
            "error: cannot close {id}: it is open; resolve it first"
        )),
        "{e}"
    );
    let e = env.fails(&["reopen", &id], 1);
    assert!(e.contains("not resolved or closed"), "{e}");
    let e = env.fails(&["update", &id, "--status", "resolved"], 1);
    assert!(e.contains("use `incident resolve`"), "{e}");
    let e = env.fails(&["resolve", &id, "--actions", " ", "--root-cause", "x"], 1);
    assert!(
        e.contains("invalid actions: resolving needs at least one action"),
        "{e}"
    );
    let e = env.fails(&["resolve", &id, "--actions", "a", "--root-cause", "  "], 1);
    assert!(e.contains("invalid root cause: must not be empty"), "{e}");
    let e = env.fails(
        &["update", &id, "--note", "x", "--at", "2000-01-01T00:00:00Z"],
        1,
    );
    assert!(e.contains("is before"), "{e}");
    assert_eq!(env.ok(&["show", &id, "--format", "json"]), before);

    env.ok(&["resolve", &id, "--actions", "a", "--root-cause", "b"]);
    let e = env.fails(&["resolve", &id, "--actions", "a", "--root-cause", "b"], 1);
    assert!(e.contains("it is already resolved"), "{e}");
    env.ok(&["close", &id]);
    let e = env.fails(&["resolve", &id, "--actions", "a", "--root-cause", "b"], 1);
    assert!(e.contains("it is already closed"), "{e}");
    let e = env.fails(&["update", &id, "--status", "in_progress"], 1);
    assert!(e.contains("use `incident reopen`"), "{e}");
    // The timeline stays in time order: nothing is dated before the last change.
    env.ok(&["note", &id, "later", "--at", "2030-01-01T00:00:00Z"]);
    let e = env.fails(&["note", &id, "x", "--at", "2029-01-01T00:00:00Z"], 1);
    assert!(e.contains("is before the last change of"), "{e}");
}

#[test]
fn bad_input_gets_one_clear_line() {
    let env = Env::new();
    // Reading commands never create a database on a mistyped path (a file; a PostgreSQL
    // URL names a database that exists).
    if !env.is_postgres() {
        let e = env.fails(&["list"], 1);
        assert!(
            e.starts_with("error: database ") && e.contains("does not exist"),
            "{e}"
        );
        assert!(!env.db().exists());
    }
    env.create(BASIC);
    let cases: &[(&[&str], &str)] = &[
        (
            &["show", "INC-20250104-0001"],
            "error: incident INC-20250104-0001 not found",
        ),
        (
            &["show", "INC-2025"],
            "error: invalid incident id \"INC-2025\"",
        ),
        (
            &[
                "create",
                "--category",
                "bug",
                "--priority",
                "high",
                "--title",
                "t",
                "--components",
                "c",
            ],
            "error: --category: unknown category \"bug\" (expected one of: error, failure, request, change, security, performance)",
        ),
        (
            &[
                "create",
                "--category",
                "error",
                "--priority",
                "urgent",
                "--title",
                "t",
                "--components",
                "c",
            ],
            "error: --priority: unknown priority \"urgent\"",
        ),
        (
            &[
                "create",
                "--category",
                "error",
                "--priority",
                "high",
                "--title",
                "t",
                "--components",
                "c",
                "--at",
                "yesterday",
            ],
            "error: --at: invalid time \"yesterday\"",
        ),
        (
            &[
                "create",
                "--category",
                "error",
                "--priority",
                "high",
                "--title",
                "  ",
                "--components",
                "c",
            ],
            "error: invalid title: must not be empty",
        ),
        (
            &["list", "--status", "done"],
            "error: --status: unknown status \"done\"",
        ),
    ];
    for (args, expected) in cases {
        let e = env.fails(args, 1);
        assert!(e.starts_with(expected), "{args:?}: {e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }
    // Missing required flag: clap's usage error.
    let e = env.fails(
        &[
            "create",
            "--category",
            "error",
            "--priority",
            "high",
            "--components",
            "c",
        ],
        2,
    );
    assert!(e.contains("--title"), "{e}");
    let e = env.fails(&["resolve", "INC-20250104-0001", "--actions", "a"], 2);
    assert!(e.contains("--root-cause"), "{e}");
}

#[test]
fn every_filter_uses_its_index() {
    let env = Env::new();
    let a = env.create_at(
        "DB接続失敗",
        "failure",
        "critical",
        &["db_client"],
        "2025-01-01T09:00:00+09:00",
    );
    let b = env.create_at(
        "Slack通知失敗",
        "error",
        "medium",
        &["slack", "notifier"],
        "2025-01-02T09:00:00+09:00",
    );
    let c = env.create_at(
        "遅い処理",
        "performance",
        "low",
        &["db_client", "batch"],
        "2025-01-03T09:00:00+09:00",
    );
    let d = env.create_at(
        "認証エラー",
        "security",
        "high",
        &["auth"],
        "2025-01-04T09:00:00+09:00",
    );
    env.ok(&[
        "update",
        &b,
        "--assignee",
        "sato",
        "--status",
        "in_progress",
    ]);
    env.ok(&[
        "resolve",
        &c,
        "--actions",
        "index追加",
        "--root-cause",
        "index不足",
    ]);
    env.ok(&["resolve", &d, "--actions", "x", "--root-cause", "y"]);
    env.ok(&["close", &d]);

    let ids = |args: &[&str]| env.list_ids(args);
    assert_eq!(ids(&[]), [b.clone(), a.clone()]);
    assert_eq!(
        ids(&["--all"]),
        [d.clone(), c.clone(), b.clone(), a.clone()]
    );
    assert_eq!(
        ids(&["--all", "--oldest-first", "--limit", "2"]),
        [a.clone(), b.clone()]
    );
    assert_eq!(ids(&["--component", "db_client"]), vec![a.clone()]);
    assert_eq!(
        ids(&["--component", "db_client", "--all"]),
        [c.clone(), a.clone()]
    );
    assert_eq!(
        ids(&["--component", "db_client", "--status", "resolved"]),
        vec![c.clone()]
    );
    assert_eq!(
        ids(&["--status", "open", "--status", "closed"]),
        [d.clone(), a.clone()]
    );
    assert_eq!(ids(&["--category", "error"]), vec![b.clone()]);
    assert_eq!(
        ids(&["--priority", "critical", "--priority", "high", "--all"]),
        [d.clone(), a.clone()]
    );
    assert_eq!(ids(&["--assignee", "sato"]), vec![b.clone()]);
    assert_eq!(
        ids(&["--all", "--since", "2025-01-02", "--until", "2025-01-04"]),
        [c.clone(), b.clone()]
    );
    assert_eq!(
        ids(&["--all", "--component", "slack", "--component", "auth"]),
        [d.clone(), b.clone()]
    );
    assert!(ids(&["--component", "nope"]).is_empty());
    assert!(ids(&["--all", "--category", "failure", "--component", "slack"]).is_empty());

    let csv = env.ok(&["list", "--all", "--format", "csv"]);
    assert_eq!(csv.lines().count(), 5);
    assert!(csv.contains("slack; notifier"));
}

#[test]
fn table_lines_up_with_japanese_titles() {
    let env = Env::new();
    env.create_at(
        "RabbitMQ接続エラーが発生しました",
        "failure",
        "high",
        &["rabbitmq"],
        "2025-01-01T09:00:00Z",
    );
    env.create_at(
        "plain ascii title",
        "error",
        "low",
        &["x"],
        "2025-01-01T10:00:00Z",
    );
    let out = env.ok(&["list"]);
    let lines: Vec<&str> = out.lines().collect();
    let col = |l: &str| {
        let i = l
            .find("TITLE")
            .or_else(|| l.find("RabbitMQ"))
            .or_else(|| l.find("plain"))
            .or_else(|| l.rfind(" -"));
        incident::text::display_width(&l[..i.unwrap()])
    };
    assert_eq!(col(lines[0]), col(lines[2]), "{out}");
    assert_eq!(col(lines[0]), col(lines[3]), "{out}");
}

#[test]
fn ids_count_per_local_day_and_sort_past_9999() {
    let env = Env::new();
    // 23:30 UTC on Jan 3 is Jan 4 in Tokyo: the id carries the local date.
    let a = env.create_at("t", "error", "low", &["c"], "2025-01-03T23:30:00Z");
    assert_eq!(a, "INC-20250104-0001");
    let b = env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00+09:00");
    assert_eq!(b, "INC-20250104-0002");
    let c = env.create_at("t", "error", "low", &["c"], "2025-01-05T10:00:00+09:00");
    assert_eq!(c, "INC-20250105-0001");
    let v = env.json(&["show", &a, "--format", "json"]);
    assert_eq!(v["created_at"], "2025-01-03T23:30:00.000000+00:00");
}

fn history_json() -> String {
    let inc = |id: &str, status: &str, extra: &str| {
        format!(
            r#"{{"id": "{id}", "created_at": "2025-07-09T13:20:00.123456+00:00", "updated_at": "2025-07-09T15:00:00Z",
               "category": "failure", "priority": "high", "status": "{status}", "title": "ワーカー起動失敗 {id}",
               "description": "pm_worker が起動しない", "affected_components": ["pm_worker"], "impact": "処理停止",
               "assignee": null, "unknown_field": {{"nested": [1, 2]}},
               "timeline": [{{"timestamp": "2025-07-09T13:20:00.123456+00:00", "action": "created", "details": "作成"}}]{extra}}}"#
        )
    };
    let resolved = r#", "resolution": {"actions_taken": ["pip install pika"], "root_cause": "依存不足",
        "preventive_measures": ["requirements固定"], "knowledge_updates": [], "resolved_at": "2025-07-09T15:00:00Z"}"#;
    format!(
        r#"{{"metadata": {{"version": "1.0", "total_incidents": 3}},
            "incidents": [{}, {}, {}],
            "statistics": {{"by_category": {{"failure": 3}}}}}}"#,
        inc("INC-20250709-0001", "resolved", resolved),
        inc("INC-20250709-0002", "open", ", \"resolution\": null"),
        inc("INC-20250709-12345", "closed", resolved),
    )
}

#[test]
fn import_export_round_trips_exactly() {
    let env = Env::new();
    let file = env.write("incident_history.json", &history_json());
    let v = env.json(&["import", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(v["imported"], 3);
    // Re-importing adds nothing.
    let v = env.json(&["import", file.to_str().unwrap(), "--format", "json"]);
    assert_eq!(v["imported"], 0);
    assert_eq!(v["already_present"], 3);
    // The day counter moved past imported ids.
    let id = env.create_at("new", "error", "low", &["c"], "2025-07-09T20:00:00Z");
    assert_eq!(id, "INC-20250710-0001");
    let id = env.create_at("new", "error", "low", &["c"], "2025-07-09T10:00:00Z");
    assert_eq!(id, "INC-20250709-12346");

    let exported = env.ok(&["export"]);
    let out = env.write("export.json", &exported);
    let env2 = Env::new();
    std::fs::copy(&out, env2.path("export.json")).unwrap();
    env2.ok(&["import", "export.json"]);
    let again = env2.ok(&["export"]);
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).unwrap();
        v["metadata"]["exported_at"] = Value::Null;
        v
    };
    assert_eq!(strip(&exported), strip(&again));
    let v = strip(&again);
    assert_eq!(v["incidents"].as_array().unwrap().len(), 5);
    assert_eq!(v["incidents"][2]["id"], "INC-20250709-12345");
    assert_eq!(v["incidents"][0]["resolution"]["root_cause"], "依存不足");
    assert_eq!(v["statistics"]["total_incidents"], 5);

    let jsonl = env.ok(&["export", "--format", "jsonl"]);
    assert_eq!(jsonl.lines().count(), 5);
    let csv = env.ok(&["export", "--format", "csv"]);
    assert_eq!(csv.lines().count(), 6);
    assert!(env2.ok(&["check"]).contains("0 problem(s)"));
}

#[test]
fn bad_import_entries_name_their_index_and_write_nothing() {
    let env = Env::new();
    let good = history_json();
    let cases = [
        (
            "bad_time",
            good.replacen("2025-07-09T15:00:00Z", "15:00 yesterday", 1),
            "incident 0 (INC-20250709-0001): field updated_at: invalid time \"15:00 yesterday\"",
        ),
        (
            "bad_category",
            good.replace("\"category\": \"failure\"", "\"category\": \"outage\""),
            "incident 0 (INC-20250709-0001): unknown category \"outage\"",
        ),
        (
            "missing_title",
            good.replacen("\"title\": \"ワーカー起動失敗 INC-20250709-0002\",", "", 1),
            "incident 1 (INC-20250709-0002): missing field `title`",
        ),
        (
            "bad_id",
            good.replace("INC-20250709-12345\"", "INC-2025-1\""),
            "incident 2 (INC-2025-1): invalid incident id",
        ),
        (
            "malformed",
            good.replacen("\"metadata\": {", "\"metadata\": {,", 1),
            "malformed JSON at line 1, column",
        ),
        (
            "no_incidents",
            "{\"metadata\": {}}".to_string(),
            "the file has no \"incidents\" list",
        ),
    ];
    for (name, content, expected) in cases {
        let f = env.write(&format!("{name}.json"), &content);
        let e = env.fails(&["import", f.to_str().unwrap()], 1);
        assert!(e.contains(expected), "{name}: {e}");
        assert!(e.contains("nothing was written"), "{name}: {e}");
    }
    // A file is read whole before the database is opened: a bad one does not create it.
    assert!(!env.db().exists());
}

#[test]
fn check_finds_and_repairs_broken_indexes() {
    let env = Env::new();
    for i in 0..5 {
        env.create_at(
            &format!("t{i}"),
            "error",
            "low",
            &["a", "b"],
            "2025-01-01T00:00:00Z",
        );
    }
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
    // Break the file from the outside: drop one index table's entries via the library.
    incident::testing::corrupt_index(&env.db()).unwrap();
    let out = env.cmd().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    if env.is_postgres() {
        assert!(
            text.contains("by_component: components column of INC-20250101-0001 is"),
            "{text}"
        );
    } else {
        assert!(
            text.contains("by_component: missing index entry (\"a\", INC-20250101-0001)"),
            "{text}"
        );
        assert!(
            text.contains("by_component: entry of INC-20250101-0001 has unknown name id 1"),
            "{text}"
        );
    }
    assert!(text.contains("day_counters"), "{text}");
    let out = env.cmd().args(["check", "--repair"]).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // It says what it rebuilt and where the problems were, not only the check's line.
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("repaired: rebuilt every index"), "{said}");
    assert!(
        said.contains("the problems were in by_component, day_counters"),
        "{said}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("after repair: 0 problem(s)"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
    let id = env.create_at("t", "error", "low", &["a"], "2025-01-01T00:00:00Z");
    assert_eq!(id, "INC-20250101-0006");
}

#[test]
fn completions_and_help() {
    let env = Env::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = env.ok(&["completions", shell]);
        assert!(out.contains("incident"), "{shell}");
    }
    let help = env.ok(&["--help"]);
    assert!(help.contains("Examples:"), "{help}");
}

#[test]
fn newer_database_is_refused() {
    let env = Env::new();
    env.create(BASIC);
    incident::testing::set_schema_version(&env.db(), incident::db::SCHEMA_VERSION + 1).unwrap();
    let e = env.fails(&["list"], 1);
    assert!(
        e.contains("was written by a newer version of incident"),
        "{e}"
    );
}

#[test]
fn old_database_file_still_opens() {
    if on_postgres() {
        return; // redb files
    }
    let env = Env::new();
    std::fs::copy("tests/data/schema-v1.redb", env.db()).unwrap();
    assert_eq!(env.list(&["--all"]).len(), 3);
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
    let v = env.json(&["show", "INC-20250104-0001", "--format", "json"]);
    assert_eq!(v["title"], "RabbitMQ接続断");
    // Version 3 keys the component and assignee indexes by name id: the upgrade converted them.
    let ids = |args: &[&str]| env.list_ids(&[&["--all"], args].concat());
    assert_eq!(ids(&["--component", "pm_worker"]), ["INC-20250104-0001"]);
    assert_eq!(ids(&["--assignee", "sato"]), ["INC-20250105-0001"]);
    assert!(ids(&["--component", "nowhere"]).is_empty());
    // Opening upgraded it: the bridge (schema 2) works on it.
    let m = incident::IncidentManager::open(env.db()).unwrap();
    assert_eq!(m.schema_version().unwrap(), incident::db::SCHEMA_VERSION);
    drop(m);
    env.write("eh.json", r#"[{"timestamp": "2025-01-04T00:00:00Z", "error_type": "E", "file": "f", "error_message": "m"}]"#);
    env.ok(&["bridge", "migrate", "eh.json"]);
    assert!(env.ok(&["check"]).contains("checked 4 incidents"));
}

/// A version 2 file (written by the build before schema 3: tuple-keyed indexes, names in the
/// component index) holding `bridge generate 300 --seed 7` migrated and one created incident;
/// the expected counts are what that build answered.
#[test]
fn version_2_database_file_is_upgraded_whole() {
    if on_postgres() {
        return; // redb files
    }
    let env = Env::new();
    std::fs::copy("tests/data/schema-v2.redb", env.db()).unwrap();
    assert!(env.ok(&["check"]).contains("checked 301 incidents"));
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
    let count = |args: &[&str]| env.list(&[&["--all"], args].concat()).len();
    assert_eq!(count(&["--component", "libs/auth.py"]), 8);
    assert_eq!(
        count(&["--component", "pm_worker", "--priority", "high"]),
        1
    );
    assert_eq!(count(&["--assignee", "error_handler"]), 300);
    assert_eq!(
        count(&["--since", "2025-01-01", "--until", "2025-02-01"]),
        42
    );
    // The fingerprints were converted: the same history is already there, whole.
    env.ok(&["bridge", "generate", "300", "--seed", "7", "-o", "eh.json"]);
    let s = env.json(&["bridge", "migrate", "eh.json", "--format", "json"]);
    assert_eq!(s["migrated"], 0, "{s}");
    assert_eq!(s["already_present"], 300, "{s}");
    assert!(
        env.ok(&["bridge", "check", "eh.json"])
            .contains("300 consistent, 0 inconsistencies")
    );
}

#[test]
fn two_processes_creating_at_once_get_distinct_ids() {
    let env = Env::new();
    env.create(BASIC);
    let create_200 = || {
        for i in 0..200 {
            let out = env
                .process()
                .args([
                    "create",
                    "--category",
                    "error",
                    "--priority",
                    "low",
                    "--title",
                    &format!("c{i}"),
                    "--components",
                    "x",
                ])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    };
    std::thread::scope(|s| {
        s.spawn(create_200);
        s.spawn(create_200);
    });
    let ids: std::collections::BTreeSet<String> = env.list_ids(&["--all"]).into_iter().collect();
    assert_eq!(ids.len(), 401);
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
}

#[test]
fn busy_database_gives_a_clear_message() {
    // A redb file is held by one process; a PostgreSQL database is shared.
    let env = Env::redb();
    env.create(BASIC);
    let _held = incident::IncidentManager::open(env.db()).unwrap();
    let out = env
        .cmd()
        .env("INCIDENT_BUSY_TIMEOUT_MS", "300")
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(e.contains("is in use by another process"), "{e}");
    let e = env
        .cmd()
        .env("INCIDENT_BUSY_TIMEOUT_MS", "soon")
        .arg("list")
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&e.stderr).contains("INCIDENT_BUSY_TIMEOUT_MS must be"));
}

#[test]
fn database_left_by_a_killed_process_opens_whole() {
    let env = Env::new();
    // A large import is one transaction: after kill -9 either all of it or none is there.
    let s = common::history_json(30000, 0);
    let f = env.write("big.json", &s);
    // The database exists before the kills (an import opens it only once its input is read).
    env.write("empty.json", r#"{"incidents": []}"#);
    env.ok(&["import", "empty.json"]);
    for delay_ms in [50u64, 150, 400] {
        let mut child = env
            .process()
            .args(["import", f.to_str().unwrap()])
            .spawn()
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        let _ = child.kill();
        let _ = child.wait();
        // Killed before it opened the database: nothing was written, not even the file.
        if !env.db().exists() {
            continue;
        }
        let out = env.ok(&["check"]);
        assert!(out.contains("0 problem(s)"), "{out}");
        let n = env.list(&["--all"]).len();
        assert!(n == 0 || n == 30000, "partial import visible: {n}");
    }
    env.ok(&["import", f.to_str().unwrap()]);
    assert!(env.ok(&["check"]).contains("checked 30000 incidents"));
}

/// Regression: a closed pipe during export was reported as an error with exit code 1.
#[test]
fn export_into_a_closed_pipe_is_a_normal_exit() {
    let env = Env::new();
    let s = common::history_json(2000, 200);
    let f = env.write("h.json", &s);
    env.ok(&["import", f.to_str().unwrap()]);
    for format in ["jsonl", "csv", "json"] {
        let mut child = env
            .process()
            .args(["export", "--format", format])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut first = [0u8; 16];
        std::io::Read::read_exact(&mut out, &mut first).unwrap();
        drop(out);
        let result = child.wait_with_output().unwrap();
        assert!(
            result.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&result.stderr)
        );
    }
}

#[test]
fn compact_keeps_every_incident() {
    let env = Env::new();
    for i in 0..50 {
        env.create_at(
            &format!("t{i}"),
            "error",
            "low",
            &["a"],
            "2025-01-01T00:00:00Z",
        );
    }
    let out = env.ok(&["compact"]);
    assert!(out.starts_with("compacted "), "{out}");
    assert!(
        env.ok(&["check"])
            .contains("checked 50 incidents, 250 index entries: 0 problem(s)")
    );
}
