//! Metrics with hand-computed expectations, pattern analysis, clustering: the real binary.

#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use serde_json::Value;

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Five incidents with explicit times; every expectation below is computed by hand.
fn scenario(env: &Env) -> Vec<String> {
    let a = env.create_at(
        "DB接続失敗 host 1",
        "failure",
        "high",
        &["db"],
        "2025-03-03T00:00:00Z",
    );
    env.ok(&[
        "update",
        &a,
        "--status",
        "in_progress",
        "--at",
        "2025-03-03T00:20:00Z",
    ]);
    env.ok(&[
        "resolve",
        &a,
        "--actions",
        "restart db",
        "--root-cause",
        "接続数上限",
        "--at",
        "2025-03-03T04:00:00Z",
    ]);

    let b = env.create_at(
        "DB接続失敗 host 2",
        "failure",
        "high",
        &["db"],
        "2025-03-03T06:00:00Z",
    );
    env.ok(&[
        "update",
        &b,
        "--status",
        "in_progress",
        "--at",
        "2025-03-03T07:00:00Z",
    ]);
    // Exactly at the 24 h resolution target: met.
    env.ok(&[
        "resolve",
        &b,
        "--actions",
        "restart db",
        "--root-cause",
        "接続数上限",
        "--at",
        "2025-03-04T06:00:00Z",
    ]);

    let c = env.create_at(
        "ワーカー停止",
        "error",
        "critical",
        &["db"],
        "2025-03-05T00:00:00Z",
    );
    // Exactly at the 15 min response target: met.
    env.ok(&[
        "update",
        &c,
        "--status",
        "in_progress",
        "--at",
        "2025-03-05T00:15:00Z",
    ]);
    env.ok(&[
        "resolve",
        &c,
        "--actions",
        "x",
        "--root-cause",
        "y",
        "--at",
        "2025-03-05T03:00:00Z",
    ]);
    env.ok(&["reopen", &c, "--at", "2025-03-05T05:00:00Z"]);
    // The final resolution counts: 10 h against a 4 h target.
    env.ok(&[
        "resolve",
        &c,
        "--actions",
        "x",
        "--root-cause",
        "y",
        "--at",
        "2025-03-05T10:00:00Z",
    ]);

    let d = env.create_at(
        "API遅延",
        "error",
        "medium",
        &["api"],
        "2025-03-06T00:00:00Z",
    );
    let e = env.create_at(
        "バッチ遅延",
        "performance",
        "low",
        &["api"],
        "2025-03-01T00:00:00Z",
    );
    vec![a, b, c, d, e]
}

#[test]
fn report_metrics_match_hand_computation() {
    let env = Env::new();
    let ids = scenario(&env);
    let m = env.json(&["report", "--format", "json", "--at", "2025-03-06T03:30:00Z"]);
    let s = &m["summary"];
    assert_eq!(s["incidents"], 5);
    // TTR: 4 h, 24 h, 10 h.
    assert_eq!(s["time_to_resolve"]["count"], 3);
    assert!((f(&s["time_to_resolve"]["mean_seconds"]) - 136_800.0 / 3.0).abs() < 1e-6);
    assert_eq!(f(&s["time_to_resolve"]["median_seconds"]), 36_000.0);
    assert_eq!(f(&s["time_to_resolve"]["p90_seconds"]), 86_400.0);
    // TTA: 20 min, 60 min, 15 min.
    assert_eq!(f(&s["time_to_acknowledge"]["mean_seconds"]), 1_900.0);
    assert_eq!(f(&s["time_to_acknowledge"]["median_seconds"]), 1_200.0);
    // B repeats A's normalised title on the same component after A was resolved.
    assert_eq!(s["recurrent"], 1);
    assert_eq!(f(&s["recurrence_rate"]), 0.2);

    let prio = |p: &str| {
        m["by_priority"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["priority"] == p)
            .unwrap()
            .clone()
    };
    let high = prio("high");
    assert_eq!(high["sla"]["response"]["met"], 1);
    assert_eq!(high["sla"]["response"]["breached"], 1);
    assert_eq!(high["sla"]["resolution"]["met"], 2);
    let critical = prio("critical");
    assert_eq!(critical["sla"]["response"]["met"], 1);
    assert_eq!(critical["sla"]["resolution"]["breached"], 1);
    // E is past its 24 h response target; D's 4 h response deadline is 30 min away.
    assert_eq!(s["sla_open_breaching"], 1);
    assert_eq!(s["sla_open_at_risk"], 1);
    assert_eq!(prio("low")["sla"]["open_breaching"], 1);
    assert_eq!(prio("medium")["sla"]["open_at_risk"], 1);

    let comp = |c: &str| {
        m["components"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["component"] == c)
            .unwrap()
            .clone()
    };
    // Failure/error starts on db: 03-03 00:00, 03-03 06:00, 03-05 00:00 -> gaps 6 h and 42 h.
    assert_eq!(f(&comp("db")["mtbf_seconds"]), 86_400.0);
    // api has a single error incident (the other is performance): no MTBF.
    assert!(comp("api")["mtbf_seconds"].is_null());
    // Weighted impact: db = high 4 + high 4 + critical 8; api = medium 2 + low 1.
    assert_eq!(comp("db")["weighted_impact"], 16);
    assert_eq!(comp("api")["weighted_impact"], 3);
    assert_eq!(m["data_issues"]["reopened"]["count"], 1);
    assert_eq!(m["data_issues"]["reopened"]["ids"][0], ids[2]);

    // Window: only March 3 (A and B).
    let w = env.json(&[
        "report",
        "--format",
        "json",
        "--at",
        "2025-03-06T03:30:00Z",
        "--since",
        "2025-03-03T00:00:00Z",
        "--until",
        "2025-03-04T00:00:00Z",
    ]);
    assert_eq!(w["summary"]["incidents"], 2);

    let md = env.ok(&["report", "--at", "2025-03-06T03:30:00Z"]);
    assert!(md.contains("# Incident report"), "{md}");
    assert!(md.contains("| db |"), "{md}");
    let stats = env.ok(&["stats", "--at", "2025-03-06T03:30:00Z"]);
    assert!(stats.contains("MTTR"), "{stats}");
}

#[test]
fn html_report_is_self_contained_and_escaped() {
    let env = Env::new();
    scenario(&env);
    env.create_at(
        "<script>alert(1)</script> 接続",
        "security",
        "high",
        &["web"],
        "2025-03-02T00:00:00Z",
    );
    env.ok(&[
        "report",
        "--html",
        "report.html",
        "--at",
        "2025-03-06T03:30:00Z",
    ]);
    let html = std::fs::read_to_string(env.path("report.html")).unwrap();
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(
        !html.contains("<script"),
        "no scripts, and titles are escaped"
    );
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing external"
    );
}

#[test]
fn bad_data_is_reported_not_fatal() {
    let env = Env::new();
    let history = r#"{"incidents": [{"id": "INC-20250301-0001", "created_at": "2025-03-01T10:00:00Z",
        "updated_at": "2025-03-01T10:00:00Z", "category": "error", "priority": "low", "status": "resolved",
        "title": "bad clock", "affected_components": ["x"],
        "resolution": {"actions_taken": ["a"], "root_cause": "r", "resolved_at": "2025-03-01T09:00:00Z"}}]}"#;
    let f = env.write("h.json", history);
    env.ok(&["import", f.to_str().unwrap()]);
    let m = env.json(&["report", "--format", "json"]);
    assert_eq!(m["data_issues"]["resolved_before_created"]["count"], 1);
    assert_eq!(m["summary"]["time_to_resolve"]["count"], 0);
}

#[test]
fn sla_targets_come_from_a_config_file() {
    let env = Env::new();
    scenario(&env);
    let cfg = env.write("sla.json", r#"{"sla": {"high": {"response_minutes": 60}}}"#);
    let m = env.json(&[
        "report",
        "--format",
        "json",
        "--at",
        "2025-03-06T03:30:00Z",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let high = m["by_priority"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["priority"] == "high")
        .unwrap()
        .clone();
    // B acknowledged after exactly 60 min now meets the response target.
    assert_eq!(high["sla"]["response"]["met"], 2);
    let bad = env.write(
        "bad.json",
        r#"{"sla": {"high": {"response_minutes": "30m"}}}"#,
    );
    let e = env.fails(&["report", "--config", bad.to_str().unwrap()], 1);
    assert!(e.contains("sla.high.response_minutes"), "{e}");
}

/// A fix repeated every time is offered as a script only when it is a command; a
/// configuration or code change repeated every time is one that does not last.
#[test]
fn a_repeated_fix_is_offered_as_a_script_only_when_it_is_a_command() {
    let env = Env::new();
    let fixes = [
        (
            "RabbitMQ接続エラー: 10.0.0.{i}:5672 への接続がタイムアウトしました",
            "systemctl restart rabbitmq-server",
        ),
        (
            "Slack通知に失敗しました (ステータス: 42{i})",
            "リトライ間隔を60秒に延長",
        ),
    ];
    for (title, fix) in fixes {
        for i in 1..=3 {
            let id = env.create_at(
                &title.replace("{i}", &i.to_string()),
                "error",
                "high",
                &["worker"],
                &format!("2025-01-0{i}T10:00:00Z"),
            );
            env.ok(&[
                "resolve",
                &id,
                "--actions",
                fix,
                "--root-cause",
                "不明",
                "--at",
                &format!("2025-01-0{i}T11:00:00Z"),
            ]);
        }
    }
    let text = env.ok(&["analyze", "--quiet"]);
    let line = |needle: &str| {
        text.lines()
            .find(|l| l.contains("by the same actions") && l.contains(needle))
            .unwrap_or_else(|| panic!("no same-fix recommendation for {needle}:\n{text}"))
            .to_string()
    };
    assert!(
        line("systemctl restart")
            .ends_with(": automate it (`incident kb suggest --write` writes a candidate script)"),
        "{text}"
    );
    assert!(
        line("リトライ間隔").ends_with(
            ": make the fix permanent (it is not a shell command, so no script is written)"
        ),
        "{text}"
    );
    // And what the recommendation says is what `kb suggest` does.
    let kb = env.dir.path().join("kb");
    std::fs::create_dir_all(&kb).unwrap();
    env.ok(&["kb", "suggest", "--kb", kb.to_str().unwrap(), "--write"]);
    let scripts: Vec<String> = std::fs::read_dir(kb.join("auto_fix"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    assert_eq!(scripts.len(), 1, "{scripts:?}");
    assert!(scripts[0].contains("systemctl restart rabbitmq-server"));
}

#[test]
fn analyze_stores_patterns_and_create_matches_them() {
    let env = Env::new();
    for i in 1..=4 {
        let id = env.create_at(
            &format!("RabbitMQ接続エラー: 10.0.0.{i}:5672 への接続が{i}0秒でタイムアウトしました"),
            "failure",
            "high",
            &["rabbitmq"],
            &format!("2025-01-0{i}T10:00:00Z"),
        );
        env.ok(&[
            "resolve",
            &id,
            "--actions",
            "systemctl restart rabbitmq-server",
            "--root-cause",
            &format!("RabbitMQ停止 (node {i})"),
            "--at",
            &format!("2025-01-0{i}T12:00:00Z"),
        ]);
    }
    for i in 1..=3 {
        env.create_at(
            &format!("ModuleNotFoundError: No module named 'mod{i}'"),
            "error",
            "medium",
            &["pm_worker"],
            &format!("2025-01-0{i}T11:00:00Z"),
        );
    }
    let a = env.json(&["analyze", "--format", "json"]);
    assert_eq!(a["incidents"], 7);
    let patterns = a["patterns"].as_array().unwrap();
    assert_eq!(patterns.len(), 2);
    let rabbit = &patterns[0];
    assert_eq!(rabbit["count"], 4);
    assert_eq!(
        rabbit["template"],
        "RabbitMQ接続エラー: <*> への接続が<*>秒でタイムアウトしました"
    );
    assert_eq!(rabbit["recurrences"], 3);
    assert_eq!(rabbit["resolved"], 4);
    assert_eq!(f(&rabbit["mean_resolve_secs"]), 7200.0);
    // Root causes are human text: kept as written, never masked.
    assert_eq!(rabbit["root_causes"][0]["value"], "RabbitMQ停止 (node 1)");
    assert_eq!(rabbit["root_causes"].as_array().unwrap().len(), 4);
    assert_eq!(rabbit["action_sets"][0]["count"], 4);
    let kinds: Vec<&str> = a["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"same_fix_every_time"), "{kinds:?}");
    assert!(kinds.contains(&"recurring_pattern"), "{kinds:?}");
    let pid = rabbit["id"].as_str().unwrap().to_string();

    // Stable ids across runs.
    let again = env.json(&["analyze", "--format", "json"]);
    assert_eq!(again["patterns"][0]["id"], pid.as_str());

    let members = env.json(&["list", "--all", "--pattern", &pid, "--format", "json"]);
    assert_eq!(members.as_array().unwrap().len(), 4);

    let created = env.json(&[
        "create",
        "--category",
        "failure",
        "--priority",
        "high",
        "--title",
        "RabbitMQ接続エラー: 10.9.9.9:5672 への接続が99秒でタイムアウトしました",
        "--components",
        "rabbitmq",
        "--format",
        "json",
    ]);
    assert_eq!(created["pattern_match"]["pattern_id"], pid.as_str());
    assert_eq!(created["pattern_match"]["count"], 4);
    assert_eq!(
        created["pattern_match"]["last_fix"][0],
        "systemctl restart rabbitmq-server"
    );
    assert_eq!(created["matched_pattern"]["pattern_id"], pid.as_str());
    let members = env.json(&["list", "--all", "--pattern", &pid, "--format", "json"]);
    assert_eq!(members.as_array().unwrap().len(), 5);

    let out = env
        .cmd()
        .args([
            "create",
            "--category",
            "error",
            "--priority",
            "low",
            "--title",
            "全く新しい問題",
            "--components",
            "x",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).is_empty(),
        "no match, no message"
    );

    // An imported incident that carries a match of a known pattern joins its index.
    let history = format!(
        r#"{{"incidents": [{{"id": "INC-20250301-0001", "created_at": "2025-03-01T00:00:00Z",
        "updated_at": "2025-03-01T00:00:00Z", "category": "failure", "priority": "high",
        "status": "open", "title": "imported", "affected_components": ["rabbitmq"],
        "matched_pattern": {{"pattern_id": "{pid}", "name": "x"}}}}]}}"#
    );
    let f = env.write("h.json", &history);
    env.ok(&["import", f.to_str().unwrap()]);
    let members = env.json(&["list", "--all", "--pattern", &pid, "--format", "json"]);
    assert_eq!(members.as_array().unwrap().len(), 6);

    let shown = env.ok(&["patterns", &pid]);
    assert!(shown.contains("RabbitMQ停止 (node 1) (1)"), "{shown}");
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
}

#[test]
fn cluster_prints_one_object_per_line_in_order() {
    let env = Env::new();
    let out = env
        .cmd()
        .args(["cluster", "--format", "jsonl"])
        .write_stdin("took 5 ms\ndone\ntook 17 ms\r\nRabbitMQ接続エラー: 10.0.0.3:5672 への接続が30秒でタイムアウトしました\n")
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["line"], 1);
    assert_eq!(lines[0]["cluster"], lines[2]["cluster"]);
    assert_ne!(lines[0]["cluster"], lines[1]["cluster"]);
    assert_eq!(lines[0]["template"], "took <*> ms");
    assert_eq!(
        lines[3]["template"],
        "RabbitMQ接続エラー: <*> への接続が<*>秒でタイムアウトしました"
    );
    let summary = env
        .cmd()
        .arg("cluster")
        .write_stdin("a 1\na 2\nb\n")
        .output()
        .unwrap();
    let text = String::from_utf8(summary.stdout).unwrap();
    assert!(text.lines().nth(1).unwrap().contains("a <*>"), "{text}");
}
