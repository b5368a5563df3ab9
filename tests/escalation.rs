//! Escalation and SLA events through the real binary: `escalate --at` against a
//! hand-computed firing list, idempotence, the dry-run replay, and the metrics text.

#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use common::receiver::{Receiver, Reply};

/// The issue's policy, with SLA targets far away so that only the steps fire.
const POLICY: &str = r#"
  "escalation": {
    "critical": [{"after_minutes": 10, "unless": "acknowledged", "notify": ["hook"], "assign": "oncall-lead"},
                 {"after_minutes": 60, "unless": "resolved", "note": "エスカレーション: 1時間未解決"}],
    "high": [{"after_minutes": 30, "unless": "acknowledged", "raise_priority": "critical"}]
  },
  "sla": {"critical": {"response_minutes": 10000, "resolution_minutes": 10000},
          "high": {"response_minutes": 10000, "resolution_minutes": 10000}}"#;

fn fired(env: &Env, cfg: &str, at: &str) -> Vec<(String, String)> {
    let v = env.json(&["escalate", "--at", at, "--config", cfg, "--format", "json"]);
    v["fired"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["id"].as_str().unwrap().to_string(),
                f["step"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pairs(list: &[(&String, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(i, s)| ((*i).clone(), s.to_string()))
        .collect()
}

#[test]
fn steps_fire_once_each_as_hand_computed() {
    let env = Env::new();
    let rx = Receiver::start(|_| Reply::Status(200));
    let text = format!(
        r#"{{"notify": [{{"name": "hook", "url": "{}", "events": ["created"]}}], {POLICY}}}"#,
        rx.url
    );
    let cfg = env.write("incident.json", &text).display().to_string();
    let at = |hm: &str| format!("2025-07-01T{hm}:00Z");
    let a = env.create_at("A 決済停止", "failure", "critical", &["pay"], &at("10:00"));
    let b = env.create_at("B", "failure", "critical", &["db"], &at("10:00"));
    let c = env.create_at("C", "failure", "high", &["api"], &at("10:00"));
    let d = env.create_at("D", "failure", "high", &["web"], &at("10:00"));
    let e = env.create_at("E", "failure", "critical", &["mq"], &at("10:00"));
    env.ok(&[
        "update",
        &b,
        "--status",
        "in_progress",
        "--at",
        &at("10:05"),
    ]);
    env.ok(&[
        "update",
        &d,
        "--status",
        "in_progress",
        "--at",
        &at("10:20"),
    ]);

    // 10:15: critical[0] is due (10:10) for A and E; B was acknowledged at 10:05. The
    // high step is due at 10:30.
    let want_1015 = pairs(&[(&a, "critical[0]"), (&e, "critical[0]")]);
    assert_eq!(fired(&env, &cfg, &at("10:15")), want_1015);
    assert_eq!(fired(&env, &cfg, &at("10:15")), vec![], "idempotent");

    env.ok(&[
        "resolve",
        &e,
        "--actions",
        "restart",
        "--root-cause",
        "mq down",
        "--at",
        &at("10:40"),
    ]);
    // 10:45: C's high[0] (10:30) raises it to critical, whose step 0 (due 10:10, C not
    // acknowledged) fires in the same run. D was acknowledged at 10:20; E is resolved.
    assert_eq!(
        fired(&env, &cfg, &at("10:45")),
        pairs(&[(&c, "high[0]"), (&c, "critical[0]")])
    );
    assert_eq!(fired(&env, &cfg, &at("10:45")), vec![]);
    // 11:05: critical[1] (60 min, unless resolved) for every unresolved critical one.
    assert_eq!(
        fired(&env, &cfg, &at("11:05")),
        pairs(&[
            (&a, "critical[1]"),
            (&b, "critical[1]"),
            (&c, "critical[1]")
        ])
    );
    assert_eq!(fired(&env, &cfg, &at("11:05")), vec![]);
    assert_eq!(fired(&env, &cfg, &at("12:00")), vec![]);

    // What the steps did, on the records and their timelines.
    let show = |id: &str| env.json(&["show", id, "--format", "json"]);
    let ia = show(&a);
    assert_eq!(ia["assignee"], "oncall-lead");
    let actions: Vec<&str> = ia["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["created", "escalated", "updated", "escalated", "note"]
    );
    assert_eq!(
        ia["timeline"][4]["details"],
        "エスカレーション: 1時間未解決"
    );
    assert!(ia["timeline"][1]["details"].as_str().unwrap().starts_with(
        "step critical[0] (after 10 min, unless acknowledged): assigned oncall-lead; notified hook"
    ));
    let ic = show(&c);
    assert_eq!(ic["priority"], "critical");
    assert_eq!(ic["assignee"], "oncall-lead");
    assert_eq!(show(&d)["priority"], "high");
    assert!(show(&b)["assignee"].is_null());

    // The replay over the same history: every step at the moment it was first due.
    let v = env.json(&[
        "escalate",
        "--dry-run",
        "--since",
        "2025-07-01",
        "--until",
        "2025-07-02",
        "--config",
        &cfg,
        "--format",
        "json",
    ]);
    let got: Vec<(String, String, String)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["at"].as_str().unwrap()[11..16].to_string(),
                f["id"].as_str().unwrap().to_string(),
                f["step"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let w = |t: &str, id: &String, s: &str| (t.to_string(), id.clone(), s.to_string());
    assert_eq!(
        got,
        vec![
            w("10:10", &a, "critical[0]"),
            w("10:10", &e, "critical[0]"),
            w("10:30", &c, "critical[0]"),
            w("10:30", &c, "high[0]"),
            w("11:00", &a, "critical[1]"),
            w("11:00", &b, "critical[1]"),
            w("11:00", &c, "critical[1]"),
        ]
    );
    let state = || {
        (
            env.ok(&["export", "--format", "json"])
                .lines()
                .filter(|l| !l.contains("exported_at"))
                .collect::<Vec<_>>()
                .join("\n"),
            env.ok(&["outbox", "--format", "json"]),
        )
    };
    let before = state();
    let text = env.ok(&[
        "escalate",
        "--dry-run",
        "--until",
        "2025-07-02",
        "--config",
        &cfg,
    ]);
    assert!(
        text.contains("7 step(s) would have fired for 4 incident(s)"),
        "{text}"
    );
    assert!(state() == before, "a dry run writes nothing");

    // Escalated events go to the step's `notify` targets, other events by `events`.
    env.ok(&["outbox", "deliver", "--once", "--config", &cfg]);
    let mut got: Vec<(String, String)> = rx
        .requests()
        .iter()
        .map(|r| {
            let j = r.json();
            (
                j["event"].as_str().unwrap().to_string(),
                j["incident"]["id"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want: Vec<(String, String)> = [&a, &b, &c, &d, &e]
        .iter()
        .map(|i| ("created".to_string(), (*i).clone()))
        .chain(
            [&a, &c, &e]
                .iter()
                .map(|i| ("escalated".to_string(), (*i).clone())),
        )
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn sla_events_fire_once_per_deadline_state() {
    let env = Env::new();
    let cfg = env
        .write(
            "incident.json",
            r#"{"sla": {"critical": {"response_minutes": 15, "resolution_minutes": 240}}}"#,
        )
        .display()
        .to_string();
    let id = env.create_at(
        "DB down",
        "failure",
        "critical",
        &["db"],
        "2025-07-01T10:00:00Z",
    );
    let steps =
        |at: &str| -> Vec<String> { fired(&env, &cfg, at).into_iter().map(|(_, s)| s).collect() };
    assert_eq!(steps("2025-07-01T10:00:30Z"), ["sla:response:at_risk"]);
    assert_eq!(steps("2025-07-01T10:05:00Z"), Vec::<String>::new());
    assert_eq!(steps("2025-07-01T10:20:00Z"), ["sla:response:breached"]);
    assert_eq!(steps("2025-07-01T13:30:00Z"), ["sla:resolution:at_risk"]);
    assert_eq!(steps("2025-07-01T14:30:00Z"), ["sla:resolution:breached"]);
    assert_eq!(steps("2025-07-01T15:00:00Z"), Vec::<String>::new());
    let v = env.json(&["outbox", "--format", "json"]);
    let kinds: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["incident"] == id.as_str())
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "created",
            "sla_at_risk",
            "sla_breached",
            "sla_at_risk",
            "sla_breached"
        ]
    );
}

#[test]
fn bad_escalation_config_names_the_field() {
    let env = Env::new();
    env.create_at("x", "failure", "high", &["db"], "2025-07-01T10:00:00Z");
    let cfg = env.write(
        "bad.json",
        r#"{"notify": [], "escalation": {"high": [{"after_minutes": 30, "notify": ["ops-slack"]}]}}"#,
    );
    let err = env.fails(
        &["escalate", "--once", "--config", cfg.to_str().unwrap()],
        1,
    );
    assert!(
        err.contains("escalation.high[0].notify[0]: no notify target is named \"ops-slack\""),
        "{err}"
    );
    let err = env.fails(&["escalate", "--at", "yesterday"], 1);
    assert!(err.contains("--at"), "{err}");
}

#[test]
fn metrics_text_counts_open_incidents_sla_and_outbox() {
    let env = Env::new();
    let a = env.create_at("A", "failure", "critical", &["db"], "2025-07-01T10:00:00Z");
    env.create_at("B", "failure", "low", &["db"], "2025-07-01T10:00:00Z");
    env.ok(&[
        "update",
        &a,
        "--status",
        "in_progress",
        "--at",
        "2025-07-01T10:10:00Z",
    ]);
    env.ok(&[
        "resolve",
        &a,
        "--actions",
        "restart",
        "--root-cause",
        "x",
        "--at",
        "2025-07-01T11:00:00Z",
    ]);
    env.create_at("C", "failure", "critical", &["db"], "2025-07-01T10:00:00Z");
    let text = env.ok(&["metrics", "--at", "2025-07-01T10:20:00Z"]);
    let line = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("{prefix} missing in\n{text}"))
            .rsplit(' ')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(
        line(r#"incident_open_incidents{priority="critical",status="open"}"#),
        1.0
    );
    assert_eq!(
        line(r#"incident_open_incidents{priority="low",status="open"}"#),
        1.0
    );
    assert_eq!(
        line(r#"incident_open_incidents{priority="high",status="open"}"#),
        0.0
    );
    // C: critical response (15 min) breached at 10:20, resolution (4 h) not yet at risk.
    assert_eq!(
        line(r#"incident_sla_breaching{priority="critical",measure="response"}"#),
        1.0
    );
    assert_eq!(
        line(r#"incident_sla_at_risk{priority="critical",measure="resolution"}"#),
        0.0
    );
    // A: acknowledged after 600 s, resolved after 3600 s.
    assert_eq!(
        line(r#"incident_time_to_acknowledge_seconds_sum{priority="critical"}"#),
        600.0
    );
    assert_eq!(
        line(r#"incident_time_to_resolve_seconds_count{priority="critical"}"#),
        1.0
    );
    assert_eq!(
        line(r#"incident_time_to_resolve_seconds_bucket{le="3600.0",priority="critical"}"#),
        1.0
    );
    // Five changes, none routed yet.
    assert_eq!(line(r#"incident_outbox_messages{state="unrouted"}"#), 5.0);
    assert!(text.trim_end().ends_with("# EOF"));
}

#[test]
fn the_escalation_timer_acts_on_its_own() {
    let env = Env::new();
    let cfg = env
        .write(
            "incident.json",
            r#"{"escalation": {"critical": [{"after_minutes": 10, "assign": "oncall-lead"}]}}"#,
        )
        .display()
        .to_string();
    let started =
        incident::Timestamp::from_micros(incident::Timestamp::now().micros() - 20 * 60 * 1_000_000);
    let id = env.create_at(
        "DB down",
        "failure",
        "critical",
        &["db"],
        &started.to_rfc3339(),
    );
    let mut timer = env
        .process()
        .args(["escalate", "--every", "1", "--config", &cfg])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let begun = std::time::Instant::now();
    let assignee = loop {
        let a = env.json(&["show", &id, "--format", "json"])["assignee"].clone();
        if !a.is_null() || begun.elapsed() > std::time::Duration::from_secs(20) {
            break a;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    timer.kill().unwrap();
    let out = timer.wait_with_output().unwrap();
    assert_eq!(assignee, "oncall-lead");
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(printed.contains("critical[0]"), "{printed}");
}
