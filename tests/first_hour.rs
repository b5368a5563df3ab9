//! What a new user meets first: the original tool's command lines, output that fits the
//! terminal, help that lists values, and figures kept apart by origin.

#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use unicode_width::UnicodeWidthStr;

/// Every command line of the original tool's README, as written there (`--id` forms,
/// multi-value `--components`, `--actions A B`, `--preventive X Y`).
#[test]
fn the_original_readme_command_lines_run_unchanged() {
    let env = Env::new();
    let id = env
        .ok(&[
            "create",
            "--category",
            "failure",
            "--priority",
            "critical",
            "--title",
            "データベース接続断",
            "--description",
            "PostgreSQLへの接続が切断された",
            "--components",
            "db_client",
            "worker_analytics",
            "--impact",
            "分析処理の停止",
        ])
        .trim()
        .to_string();
    env.ok(&["list"]);
    env.ok(&["list", "--status", "open"]);
    env.ok(&["list", "--category", "failure"]);
    env.ok(&["show", "--id", &id]);
    env.ok(&["update", "--id", &id, "--status", "in_progress"]);
    env.ok(&[
        "resolve",
        "--id",
        &id,
        "--actions",
        "接続プール再初期化",
        "タイムアウト値調整",
        "--root-cause",
        "接続プールの枯渇",
        "--preventive",
        "接続プール監視追加",
        "アラート設定",
    ]);
    env.ok(&["report"]);
    env.ok(&["analyze"]);
    let inc = env.json(&["show", "--id", &id, "--format", "json"]);
    assert_eq!(inc["status"], "resolved");
    assert_eq!(inc["resolution"]["actions_taken"][1], "タイムアウト値調整");
    assert_eq!(inc["resolution"]["preventive_measures"][1], "アラート設定");
    assert_eq!(inc["origin"], "manual");
}

#[test]
fn every_id_command_takes_id_as_a_flag_and_in_lower_case() {
    let env = Env::new();
    let id = env.create(&[
        "--category",
        "error",
        "--priority",
        "low",
        "--title",
        "t",
        "--components",
        "c",
    ]);
    let lower = id.to_lowercase();
    assert!(env.ok(&["show", &lower]).contains(&id));
    env.ok(&["note", "--id", &id, "メモ"]);
    env.ok(&["note", &lower, "second"]);
    env.ok(&["resolve", &lower, "--actions", "a", "--root-cause", "r"]);
    env.ok(&["close", "--id", &id]);
    env.ok(&["reopen", "--id", &id, "--note", "again"]);
    let inc = env.json(&["show", &id, "--format", "json"]);
    let notes: Vec<&str> = inc["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "note")
        .map(|e| e["details"].as_str().unwrap())
        .collect();
    assert_eq!(notes, ["メモ", "second"]);
    assert_eq!(inc["status"], "open");
    let err = env.fails(&["note", "--id", &id, "a", "b"], 1);
    assert!(err.contains("with --id, give only the note text"), "{err}");
    // Both forms at once are a usage error.
    env.fails(&["show", &id, "--id", &id], 2);
}

fn widest_line(s: &str) -> usize {
    s.lines().map(UnicodeWidthStr::width).max().unwrap_or(0)
}

#[test]
fn list_fits_columns_with_japanese_titles_and_a_pipe_gets_everything() {
    let env = Env::new();
    let title = "RabbitMQ接続エラー: キュー pm_notifications への再接続が30秒でタイムアウトし通知処理が停止しました";
    for n in 0..3 {
        let t = format!("{title} {n}");
        env.create(&[
            "--category",
            "performance",
            "--priority",
            "critical",
            "--title",
            &t,
            "--components",
            "rabbitmq_cluster_primary",
            "pm_worker_notifications",
            "db_client",
            "--assignee",
            "田中太郎(オンコール)",
        ]);
    }
    for cols in ["100", "80", "60"] {
        let out = env.cmd().env("COLUMNS", cols).arg("list").output().unwrap();
        let text = String::from_utf8(out.stdout).unwrap();
        let width: usize = cols.parse().unwrap();
        assert!(widest_line(&text) <= width, "COLUMNS={cols}:\n{text}");
        assert!(text.contains('…'), "{text}");
        assert!(text.contains("INC-"), "{text}");
    }
    let full = env.ok(&["list"]);
    assert!(full.contains(&format!("{title} 2")), "{full}");
    assert!(full.contains("rabbitmq_cluster_primary,pm_worker_notifications,db_client"));
    assert!(widest_line(&full) > 100);
}

#[test]
fn stats_fit_100_columns() {
    let env = Env::new();
    env.create(&[
        "--category",
        "failure",
        "--priority",
        "high",
        "--title",
        "ディスク使用率が閾値を超えました。ログローテーションが止まっている可能性があります",
        "--components",
        "storage_node_with_a_rather_long_name_01",
        "--at",
        "2025-01-04T10:00:00+09:00",
    ]);
    let out = env.ok(&["stats"]);
    assert!(widest_line(&out) <= 100, "{out}");
}

#[test]
fn help_lists_values_and_examples() {
    let env = Env::new();
    let create = env.ok(&["create", "--help"]);
    for v in [
        "error",
        "failure",
        "request",
        "change",
        "security",
        "performance",
    ] {
        assert!(create.contains(v), "{create}");
    }
    assert!(
        create.contains("critical") && create.contains("Example"),
        "{create}"
    );
    let list = env.ok(&["list", "--help"]);
    assert!(
        list.contains("in_progress") && list.contains("migrated"),
        "{list}"
    );
    let update = env.ok(&["update", "--help"]);
    assert!(
        update.contains("--id <ID>") && update.contains("RFC 3339"),
        "{update}"
    );
    let bash = env.ok(&["completions", "bash"]);
    assert!(
        bash.contains("error failure request change security performance"),
        "{bash}"
    );
    // A value outside the list is still the library's error, naming the valid ones.
    let err = env.fails(
        &[
            "create",
            "--category",
            "bug",
            "--priority",
            "low",
            "--title",
            "t",
            "--components",
            "c",
        ],
        1,
    );
    assert!(
        err.contains("expected one of") || err.contains("error, failure"),
        "{err}"
    );
}

#[test]
fn an_empty_incident_db_variable_does_not_break_db() {
    let env = Env::new();
    let db = env.path("other.redb");
    let out = env
        .cmd()
        .env("INCIDENT_DB", "")
        .args([
            "--db",
            db.to_str().unwrap(),
            "create",
            "--category",
            "error",
        ])
        .args(["--priority", "low", "--title", "t", "--components", "c"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
}

#[test]
fn origin_filters_and_migrated_errors_are_reported_apart() {
    let env = Env::new();
    env.create(&[
        "--category",
        "failure",
        "--priority",
        "high",
        "--title",
        "手動",
        "--components",
        "c",
        "--at",
        "2025-07-09T10:00:00+09:00",
    ]);
    env.write(
        "eh.json",
        r#"[{"timestamp": "2025-07-09T13:20:00Z", "error_type": "psycopg2.OperationalError",
            "file": "libs/db.py", "error_message": "could not connect", "pattern_id": "PATTERN_005",
            "fix_applied": "restart", "success": true},
           {"timestamp": "2025-07-09T13:21:00Z", "error_type": "KeyError", "file": "a.py",
            "error_message": "'x'", "success": false}]"#,
    );
    env.ok(&["bridge", "migrate", "eh.json", "--quiet"]);
    assert_eq!(env.list_ids(&["--all", "--origin", "manual"]).len(), 1);
    assert_eq!(env.list_ids(&["--all", "--origin", "migrated"]).len(), 2);
    assert_eq!(
        env.list_ids(&["--all", "--origin", "migrated", "--limit", "1"])
            .len(),
        1
    );
    let j = env.json(&["report", "--format", "json", "--at", "2025-07-10T00:00:00Z"]);
    assert_eq!(j["summary"]["incidents"], 1);
    assert_eq!(j["error_history"]["errors"], 2);
    assert_eq!(j["error_history"]["by_type"][0]["name"], "KeyError");
    assert_eq!(j["error_history"]["by_pattern"][1]["name"], "PATTERN_005");
    // The migrated error's fix time is unknown: no MTTR of zero seconds anywhere.
    let all = env.json(&["report", "--format", "json", "--origin", "migrated"]);
    assert_eq!(all["summary"]["incidents"], 2);
    assert_eq!(all["summary"]["time_to_resolve"]["count"], 0);
    assert!(all["error_history"].is_null());
    let md = env.ok(&["report", "--at", "2025-07-10T00:00:00Z"]);
    assert!(md.contains("## Error history (migrated errors)"), "{md}");
    assert!(md.contains("| psycopg2.OperationalError | 1 | 0 |"), "{md}");
    assert!(!md.contains("| MTTR (median, p90) | 0s"), "{md}");
}

#[test]
fn report_html_writes_the_file_and_prints_no_markdown() {
    let env = Env::new();
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
    let out = env.ok(&["report", "--html", "r.html"]);
    assert_eq!(out, "");
    assert!(
        std::fs::read_to_string(env.path("r.html"))
            .unwrap()
            .contains("<html")
    );
    let md = env.ok(&["report", "--html", "r2.html", "--format", "markdown"]);
    assert!(md.contains("# Incident report"));
}
