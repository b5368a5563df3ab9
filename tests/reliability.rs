//! Reliability regressions (issue 17): every reproducer runs the real binary on real redb
//! files in a temporary directory.

#![allow(clippy::unwrap_used)]

mod common;

use common::Env;
use serde_json::Value;

const ORIGINAL: &str = include_str!("data/incident_history_original.json");

/// Regression: the original tool's own `incident_history.json` (`incident_id`, `timestamp`,
/// Japanese timeline actions, a statistics block) was refused with "missing field `id`".
#[test]
fn imports_the_original_tools_incident_history() {
    let env = Env::new();
    env.write("incident_history.json", ORIGINAL);
    let v = env.json(&["import", "incident_history.json", "--format", "json"]);
    assert_eq!(v["imported"], 3, "{v}");
    let all = env.list(&["--all", "--oldest-first"]);
    let ids: Vec<&str> = all.iter().map(|i| i["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "INC-20250104-0001",
            "INC-20250104-0002",
            "INC-20250105-0001"
        ]
    );
    let resolved = env.json(&["show", "INC-20250104-0001", "--format", "json"]);
    // Naive local times (TZ=Asia/Tokyo in the tests) become UTC.
    assert_eq!(resolved["created_at"], "2025-01-04T01:00:00.123456+00:00");
    // The original stored no update time: the last timeline entry is it.
    assert_eq!(resolved["updated_at"], "2025-01-04T01:42:09.017733+00:00");
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["assignee"], "ai_system");
    assert_eq!(resolved["origin"], "imported");
    assert_eq!(resolved["timeline"][0]["action"], "インシデント作成");
    assert_eq!(resolved["timeline"][1]["action"], "更新");
    assert_eq!(
        resolved["resolution"]["resolved_at"],
        "2025-01-04T01:42:09.017733+00:00"
    );
    assert_eq!(
        resolved["resolution"]["knowledge_updates"][0],
        "knowledge_base/rabbitmq_troubleshooting.md"
    );
    let updated = env.json(&["show", "INC-20250104-0002", "--format", "json"]);
    assert_eq!(updated["status"], "in_progress");
    assert_eq!(updated["updated_at"], "2025-01-04T05:02:10.000000+00:00");
    assert_eq!(updated["resolution"], Value::Null);

    // Idempotent, and the day counter moved past the imported ids.
    let again = env.json(&["import", "incident_history.json", "--format", "json"]);
    assert_eq!(
        (
            again["imported"].as_u64(),
            again["already_present"].as_u64()
        ),
        (Some(0), Some(3))
    );
    let id = env.create_at("new", "error", "low", &["c"], "2025-01-04T12:00:00+09:00");
    assert_eq!(id, "INC-20250104-0003");
    assert!(env.ok(&["check"]).contains("0 problem(s)"));

    // Our own export of it is still accepted, and round-trips exactly.
    let exported = env.ok(&["export"]);
    let env2 = Env::new();
    env2.write("export.json", &exported);
    assert_eq!(
        env2.json(&["import", "export.json", "--format", "json"])["imported"],
        4
    );
    let strip = |s: &str| {
        let mut v: Value = serde_json::from_str(s).unwrap();
        v["metadata"]["exported_at"] = Value::Null;
        v
    };
    assert_eq!(strip(&exported), strip(&env2.ok(&["export"])));
}

/// An entry with neither id field says that either is accepted.
#[test]
fn an_entry_without_any_id_names_both_fields() {
    let env = Env::new();
    let no_id = ORIGINAL.replacen("\"incident_id\": \"INC-20250104-0002\",", "", 1);
    env.write("h.json", &no_id);
    let e = env.fails(&["import", "h.json"], 1);
    assert!(
        e.contains("incident 1: missing field `id` (or `incident_id`)"),
        "{e}"
    );
    let both = ORIGINAL.replacen(
        "\"incident_id\": \"INC-20250104-0002\",",
        "\"incident_id\": \"INC-20250104-0002\", \"id\": \"INC-20250104-0009\",",
        1,
    );
    env.write("h.json", &both);
    let e = env.fails(&["import", "h.json"], 1);
    assert!(e.contains("incident 1 (INC-20250104-0009): id"), "{e}");
    assert!(e.contains("differ"), "{e}");
}
