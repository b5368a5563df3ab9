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

const E1: &str = r#"{"timestamp": "2025-01-24T10:00:00+09:00", "error_type": "ConnectionError", "file": "a.py", "error_message": "refused", "success": false}"#;
const E2: &str = r#"{"timestamp": "2025-01-24T11:00:00+09:00", "error_type": "KeyError", "file": "b.py", "error_message": "'user'", "success": false, "incident_id": "INC-20250124-0001"}"#;

/// Regression: a grown history whose new error carries the original tool's id of a
/// different incident was linked to the incident our store gave that id, and `bridge
/// check` called both records consistent.
#[test]
fn a_carried_id_of_another_errors_incident_is_a_conflict_not_a_link() {
    let env = Env::new();
    env.write("f1.jsonl", &format!("{E1}\n"));
    let s = env.json(&["bridge", "migrate", "f1.jsonl", "--format", "json"]);
    assert_eq!(s["migrated"], 1);
    assert_eq!(env.list_ids(&["--all"]), ["INC-20250124-0001"]);

    env.write("f2.jsonl", &format!("{E1}\n{E2}\n"));
    let out = env
        .cmd()
        .args(["bridge", "migrate", "f2.jsonl"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("linked 0"), "{stdout}");
    assert!(stdout.contains("carried id conflicts 1"), "{stdout}");
    assert!(
        stderr.contains("conflict: record 1 carries incident_id INC-20250124-0001"),
        "{stderr}"
    );
    // The second error became an incident of its own.
    assert_eq!(
        env.list_ids(&["--all", "--oldest-first"]),
        ["INC-20250124-0001", "INC-20250124-0002"]
    );
    let second = env.json(&["show", "INC-20250124-0002", "--format", "json"]);
    assert_eq!(second["title"], "KeyError in b.py");
    // The file's id still disagrees with the store: check says where.
    let e = env
        .cmd()
        .args(["bridge", "check", "f2.jsonl"])
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(3));
    let text = String::from_utf8_lossy(&e.stdout);
    assert!(text.contains("record 1: id_mismatch"), "{text}");
    // Written back, the file and the store agree.
    env.ok(&["bridge", "migrate", "f2.jsonl", "--write-back"]);
    assert!(
        env.ok(&["bridge", "check", "f2.jsonl"])
            .contains("2 consistent")
    );
}

/// An id carried by a history whose incident was imported from the original tool (not
/// migrated from another error) is proof of identity: the error links to it.
#[test]
fn a_carried_id_of_an_imported_incident_links() {
    let env = Env::new();
    env.write("incident_history.json", ORIGINAL);
    env.ok(&["import", "incident_history.json"]);
    let e = E2.replace("INC-20250124-0001", "INC-20250104-0001");
    env.write("f.jsonl", &format!("{e}\n"));
    let s = env.json(&["bridge", "migrate", "f.jsonl", "--format", "json"]);
    assert_eq!(
        (s["linked"].as_u64(), s["migrated"].as_u64()),
        (Some(1), Some(0)),
        "{s}"
    );
    assert!(
        env.ok(&["bridge", "check", "f.jsonl"])
            .contains("1 consistent")
    );
}

/// `bridge check` finds the wrong link in a store an older build left it in.
#[test]
fn bridge_check_detects_wrong_links_already_stored() {
    let env = Env::new();
    env.write("f1.jsonl", &format!("{E1}\n"));
    env.ok(&["bridge", "migrate", "f1.jsonl"]);
    env.write("f2.jsonl", &format!("{E1}\n{E2}\n"));
    // What the older build stored: E2's fingerprint mapped to E1's incident.
    env.write("e2.jsonl", &format!("{E2}\n"));
    incident::testing::link_errors(
        &env.db(),
        &env.path("e2.jsonl"),
        "INC-20250124-0001".parse().unwrap(),
    )
    .unwrap();
    let e = env
        .cmd()
        .args(["bridge", "check", "f2.jsonl"])
        .output()
        .unwrap();
    assert_eq!(e.status.code(), Some(3));
    let text = String::from_utf8_lossy(&e.stdout);
    assert!(text.contains("record 1: id_conflict"), "{text}");
    assert!(text.contains("1 consistent"), "{text}");
}

/// Regression: redb panics on a stored string key that is not UTF-8 (exit 101 with a
/// trace). Every command now ends with an error that names the file and what to do.
#[test]
fn a_damaged_string_key_is_an_error_naming_the_file_not_a_panic() {
    let env = Env::redb();
    env.create_at(
        "t",
        "error",
        "low",
        &["zzcomponentzz"],
        "2025-01-04T10:00:00Z",
    );
    let mut bytes = std::fs::read(env.db()).unwrap();
    let needle = b"zzcomponentzz";
    let mut hits = 0;
    for i in 0..bytes.len() - needle.len() {
        if &bytes[i..i + needle.len()] == needle {
            bytes[i + 2] = 0xff;
            hits += 1;
        }
    }
    assert!(hits > 0);
    std::fs::write(env.db(), bytes).unwrap();
    for args in [
        &["list", "--all"][..],
        &["export"],
        &["check"],
        &["check", "--repair"],
        &["stats"],
    ] {
        let out = env.cmd().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        assert!(
            stderr.contains(env.db().to_str().unwrap()),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains("restore a backup"), "{args:?}: {stderr}");
    }
}

/// What a damaged file still holds can be exported: undecodable records are listed.
#[test]
fn export_skip_damaged_keeps_what_is_readable() {
    let env = Env::redb();
    env.create_at("good", "error", "low", &["a"], "2025-01-04T10:00:00Z");
    env.create_at(
        "zzbadrecordzz",
        "error",
        "low",
        &["b"],
        "2025-01-04T11:00:00Z",
    );
    let mut bytes = std::fs::read(env.db()).unwrap();
    let needle = b"zzbadrecordzz";
    let i = (0..bytes.len() - needle.len())
        .find(|&i| &bytes[i..i + needle.len()] == needle)
        .unwrap();
    bytes[i + 2] = 0xff;
    std::fs::write(env.db(), bytes).unwrap();
    let e = env.fails(&["export", "--format", "jsonl"], 1);
    assert!(e.contains("INC-20250104-0002 cannot be decoded"), "{e}");
    let out = env
        .cmd()
        .args(["export", "--format", "jsonl", "--skip-damaged"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 1);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("skipped 1 damaged record(s)"), "{stderr}");
}

/// Regression: opening a file written by a newer schema was refused, but the refused open
/// still grew the file. Refused opens (read or write commands) leave it byte-identical.
#[test]
fn a_refused_newer_schema_leaves_the_file_byte_identical() {
    let env = Env::redb();
    env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    incident::testing::set_schema_version(&env.db(), 99).unwrap();
    let before = std::fs::read(env.db()).unwrap();
    for args in [
        &["list", "--all"][..],
        &["check"],
        &["check", "--repair"],
        &[
            "create",
            "--category",
            "error",
            "--priority",
            "low",
            "--title",
            "x",
            "--components",
            "c",
        ],
    ] {
        let e = env.fails(args, 1);
        assert!(e.contains("schema 99"), "{args:?}: {e}");
        assert!(
            std::fs::read(env.db()).unwrap() == before,
            "{args:?} changed the file"
        );
    }
}

/// Regression: a read-only command on an empty file silently made it a database.
#[test]
fn a_read_only_command_on_an_empty_file_leaves_it_empty() {
    let env = Env::redb();
    std::fs::write(env.db(), b"").unwrap();
    for args in [&["list", "--all"][..], &["check"], &["export"], &["stats"]] {
        let e = env.fails(args, 1);
        assert!(e.contains("is an empty file (0 bytes)"), "{args:?}: {e}");
        assert_eq!(std::fs::metadata(env.db()).unwrap().len(), 0);
    }
}

/// Regression: schema version 0 gave a confusing table type error.
#[test]
fn schema_version_0_and_foreign_files_are_named_as_not_ours() {
    let env = Env::redb();
    env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    incident::testing::set_schema_version(&env.db(), 0).unwrap();
    let before = std::fs::read(env.db()).unwrap();
    let e = env.fails(&["list", "--all"], 1);
    assert!(
        e.contains("is not an incident database: schema version 0"),
        "{e}"
    );
    assert!(std::fs::read(env.db()).unwrap() == before);
}

fn temporaries(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp") || n.ends_with("-tmp"))
        .collect()
}

/// Regression: `export -o backup.json` wrote through a fixed `backup.tmp`, deleting a
/// user's file of that name; a failed export left its temporary file behind.
#[test]
fn export_to_a_file_is_atomic_and_leaves_no_temporary() {
    let env = Env::redb();
    env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    env.write("backup.tmp", "mine");
    env.ok(&["export", "-o", "backup.json"]);
    assert_eq!(
        std::fs::read_to_string(env.path("backup.tmp")).unwrap(),
        "mine"
    );
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(env.path("backup.json")).unwrap()).unwrap();
    assert_eq!(v["statistics"]["total_incidents"], 1);
    assert_eq!(temporaries(env.dir.path()), ["backup.tmp"]);

    // Written through a symbolic link, which stays one.
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink("backup.json", env.path("latest.json")).unwrap();
        env.ok(&["export", "--format", "jsonl", "-o", "latest.json"]);
        let meta = std::fs::symlink_metadata(env.path("latest.json")).unwrap();
        assert!(meta.file_type().is_symlink());
        assert_eq!(
            std::fs::read_to_string(env.path("backup.json"))
                .unwrap()
                .lines()
                .count(),
            1
        );
    }

    // A failed export (a damaged record) leaves the target as it was, and no temporary.
    let before = std::fs::read(env.path("backup.json")).unwrap();
    env.create_at("zzbadzz", "error", "low", &["c"], "2025-01-04T11:00:00Z");
    let mut bytes = std::fs::read(env.db()).unwrap();
    let j = (0..bytes.len() - 7)
        .find(|&i| &bytes[i..i + 7] == b"zzbadzz")
        .unwrap();
    bytes[j + 2] = 0xff;
    std::fs::write(env.db(), bytes).unwrap();
    let e = env.fails(&["export", "-o", "backup.json"], 1);
    assert!(e.contains("cannot be decoded"), "{e}");
    assert_eq!(std::fs::read(env.path("backup.json")).unwrap(), before);
    assert_eq!(temporaries(env.dir.path()), ["backup.tmp"]);

    // An output that cannot be created names the file and the operation.
    let e = env.fails(
        &["export", "--skip-damaged", "-o", "no/such/dir/out.json"],
        1,
    );
    assert!(
        e.contains("cannot create a temporary file in no/such/dir"),
        "{e}"
    );
}

/// A temporary file a killed export left behind is removed by the next export to the
/// same file.
#[test]
fn a_stale_temporary_of_the_same_output_is_cleaned() {
    let env = Env::new();
    env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    let stale = env.write(".out.json.x1y2z3.incident-tmp", "partial");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    env.ok(&["export", "-o", "out.json"]);
    assert!(!stale.exists());
    assert!(temporaries(env.dir.path()).is_empty());
}

/// Regression: `report --html` wrote through a fixed `*.html.tmp` name.
#[test]
fn report_html_is_written_atomically() {
    let env = Env::new();
    env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    env.write("r.html.tmp", "mine");
    env.ok(&["report", "--html", "r.html"]);
    assert_eq!(
        std::fs::read_to_string(env.path("r.html.tmp")).unwrap(),
        "mine"
    );
    assert!(
        std::fs::read_to_string(env.path("r.html"))
            .unwrap()
            .contains("<html")
    );
}

/// Regression: `--write-back` into a directory it cannot write said "cannot read input".
#[cfg(unix)]
#[test]
fn write_back_into_a_read_only_directory_names_the_file() {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    if std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0) {
        eprintln!("skipped: root may write into a read-only directory");
        return;
    }
    let env = Env::new();
    let dir = env.path("ro");
    std::fs::create_dir(&dir).unwrap();
    std::fs::write(dir.join("f.jsonl"), format!("{E1}\n")).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).unwrap();
    let e = env.fails(&["bridge", "migrate", "ro/f.jsonl", "--write-back"], 1);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(e.contains("cannot create a temporary file in ro"), "{e}");
    assert!(!e.contains("cannot read input"), "{e}");
}

/// A file written by schema 3 (no checksums) is upgraded in place: every record gets its
/// checksum and reads exactly as before (`tests/data/schema-v3.*` were written by that
/// build: `bridge generate 200 --seed 7`, migrate, one created and resolved incident,
/// `analyze`).
#[test]
fn version_3_database_gets_checksums_and_reads_the_same() {
    let env = Env::redb();
    std::fs::copy("tests/data/schema-v3.redb", env.db()).unwrap();
    let out = env.ok(&["check"]);
    assert!(out.contains("checked 201 incidents"), "{out}");
    assert!(out.contains("0 problem(s)"), "{out}");
    let expected = std::fs::read_to_string("tests/data/schema-v3.jsonl").unwrap();
    assert!(env.ok(&["export", "--format", "jsonl"]) == expected);
    let patterns: Value = serde_json::from_str(
        &std::fs::read_to_string("tests/data/schema-v3.patterns.json").unwrap(),
    )
    .unwrap();
    assert_eq!(env.json(&["patterns", "--format", "json"]), patterns);
}

/// Regression: a changed byte inside a record that still decoded (a letter of a title)
/// passed `check` with "0 problems" while the exported data differed.
#[test]
fn a_changed_byte_in_a_record_is_found_by_check_and_on_read() {
    let env = Env::redb();
    env.create_at("zzquietzz", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    let mut bytes = std::fs::read(env.db()).unwrap();
    let i = (0..bytes.len() - 9)
        .find(|&i| &bytes[i..i + 9] == b"zzquietzz")
        .unwrap();
    bytes[i + 2] = b'x';
    std::fs::write(env.db(), bytes).unwrap();
    let out = env.cmd().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("INC-20250104-0001 cannot be decoded: checksum mismatch"),
        "{text}"
    );
    let e = env.fails(&["show", "INC-20250104-0001"], 1);
    assert!(e.contains("checksum mismatch"), "{e}");
    // A database error that names no file says which file it is about.
    assert!(
        e.starts_with(&format!("error: database {}: record", env.db().display())),
        "{e}"
    );
    assert!(e.contains("restore a backup"), "{e}");
}

/// Regression: year-10000 times were accepted, then broke export, import and ids. Only
/// 0001-9999 is accepted, on every way in, naming the field.
#[test]
fn times_outside_years_1_to_9999_are_refused_everywhere() {
    let env = Env::new();
    let e = env.fails(
        &[
            "create",
            "--category",
            "error",
            "--priority",
            "low",
            "--title",
            "t",
            "--components",
            "c",
            "--at",
            "+10000-01-01T00:00:00",
        ],
        1,
    );
    assert!(e.contains("--at"), "{e}");
    assert!(e.contains("outside the years 0001 to 9999"), "{e}");

    let far = ORIGINAL.replacen(
        "2025-01-04T10:00:00.123456",
        "+10000-01-04T10:00:00.123456",
        1,
    );
    env.write("h.json", &far);
    let e = env.fails(&["import", "h.json"], 1);
    assert!(
        e.contains("incident 0 (INC-20250104-0001): field created_at: time \"+10000-01-04T10:00:00.123456\" is outside the years 0001 to 9999"),
        "{e}"
    );
    let zero = ORIGINAL.replacen(
        "\"2025-01-04T10:42:09.017733\"\n",
        "\"0000-12-31T10:42:09Z\"\n",
        1,
    );
    env.write("h.json", &zero);
    let e = env.fails(&["import", "h.json"], 1);
    assert!(e.contains("field resolution.resolved_at: time"), "{e}");

    let rec = |t: &str| E1.replace("2025-01-24T10:00:00+09:00", t);
    env.write(
        "f.jsonl",
        &format!(
            "{}\n{}\n{}\n",
            rec("+10000-01-24T10:00:00"),
            rec("0000-01-24T10:00:00Z"),
            E1
        ),
    );
    let e = env.fails(&["bridge", "migrate", "f.jsonl"], 1);
    assert!(e.contains("record 0"), "{e}");
    assert!(
        e.contains("field \"timestamp\": time \"+10000-01-24T10:00:00\" is outside"),
        "{e}"
    );
    let s = migrate_skipping(&env, "f.jsonl");
    assert_eq!(
        (s["rejected"].as_u64(), s["migrated"].as_u64()),
        (Some(2), Some(1)),
        "{s}"
    );
}

/// Regression: one imported id `INC-<day>-4294967295` exhausted that day's counter (every
/// later create failed), and as a carried id in migrate it aborted the whole file, even
/// with --skip-invalid, naming no record. Such ids are refused with the record named.
#[test]
fn an_id_past_999999_is_refused_and_cannot_block_creation() {
    let env = Env::new();
    let huge = ORIGINAL.replacen("INC-20250105-0001", "INC-20250105-4294967295", 1);
    env.write("h.json", &huge);
    let e = env.fails(&["import", "h.json"], 1);
    assert!(
        e.contains("incident 2 (INC-20250105-4294967295): incident id \"INC-20250105-4294967295\" has a sequence number above 999999"),
        "{e}"
    );
    let id = env.create_at("t", "error", "low", &["c"], "2025-01-05T10:00:00+09:00");
    assert_eq!(id, "INC-20250105-0001");

    let carried = E2.replace("INC-20250124-0001", "INC-20250124-4294967295");
    env.write("f.jsonl", &format!("{E1}\n{carried}\n"));
    let e = env.fails(&["bridge", "migrate", "f.jsonl"], 1);
    assert!(e.contains("record 1"), "{e}");
    assert!(e.contains("above 999999"), "{e}");
    let s = migrate_skipping(&env, "f.jsonl");
    assert_eq!(s["rejected"], 1, "{s}");
    let id = env.create_at("t", "error", "low", &["c"], "2025-01-24T12:00:00+09:00");
    assert_eq!(id, "INC-20250124-0002");
}

/// What one record may hold is limited on every way in, with the field named.
#[test]
fn record_limits_hold_on_every_way_in() {
    let env = Env::new();
    let many: Vec<String> = (0..1001).map(|i| format!("c{i}")).collect();
    let mut args = vec![
        "create",
        "--category",
        "error",
        "--priority",
        "low",
        "--title",
        "t",
        "--components",
    ];
    args.extend(many.iter().map(String::as_str));
    let e = env.fails(&args, 1);
    assert!(
        e.contains("invalid components: 1001 items, more than the limit of 1000"),
        "{e}"
    );

    // Adding components one update at a time stops at the limit too.
    let id = env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    let mut args = vec!["update", id.as_str(), "--add-component"];
    args.extend(many[..1000].iter().map(String::as_str));
    let e = env.fails(&args, 1);
    assert!(e.contains("invalid components: 1001 items"), "{e}");

    let long = "x".repeat(70_000);
    let big = ORIGINAL.replacen(
        "\"description\": \"Slack 通知が 5 分以上遅れて届く\"",
        &format!("\"description\": \"{long}\""),
        1,
    );
    env.write("h.json", &big);
    let e = env.fails(&["import", "h.json"], 1);
    assert!(
        e.contains("incident 1 (INC-20250104-0002): invalid description: 70000 bytes, more than the limit of 65536"),
        "{e}"
    );

    let rec = E1.replace("\"refused\"", &format!("\"{long}\""));
    env.write("f.jsonl", &format!("{rec}\n{E1}\n"));
    let e = env.fails(&["bridge", "migrate", "f.jsonl"], 1);
    assert!(e.contains("record 0"), "{e}");
    assert!(
        e.contains("field \"error_message\": 70000 bytes, more than the limit of 65536"),
        "{e}"
    );
    let s = migrate_skipping(&env, "f.jsonl");
    assert_eq!(
        (s["rejected"].as_u64(), s["migrated"].as_u64()),
        (Some(1), Some(1)),
        "{s}"
    );
}

/// Regression: `show`, `patterns ID`, `analyze` and the Markdown report passed raw
/// ESC/CR/BEL (and C1 controls) from incident text to the terminal.
#[test]
fn terminal_renderers_never_emit_control_characters() {
    let env = Env::new();
    let evil = "pwn\u{1b}]0;title\u{7}\u{1b}[2J\rfake\u{9b}31m";
    for i in 0..3 {
        let at = format!("2025-01-0{}T10:00:00Z", i + 4);
        let id = env.create_at(
            &format!("{evil} disk full"),
            "failure",
            "high",
            &[evil],
            &at,
        );
        env.ok(&["resolve", &id, "--actions", evil, "--root-cause", evil]);
        env.ok(&["note", &id, evil]);
    }
    let analyzed = env.ok(&["analyze"]);
    let pattern = env.json(&["patterns", "--format", "json"])[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let outputs = [
        ("analyze", analyzed),
        ("show", env.ok(&["show", "INC-20250104-0001"])),
        ("list", env.ok(&["list", "--all"])),
        ("patterns", env.ok(&["patterns"])),
        ("patterns ID", env.ok(&["patterns", &pattern])),
        ("report", env.ok(&["report"])),
        ("report --summary", env.ok(&["report", "--summary"])),
        ("stats", env.ok(&["stats"])),
    ];
    for (name, out) in outputs {
        assert!(
            out.contains("fake"),
            "{name}: the text itself is kept: {out}"
        );
        for bad in ['\u{1b}', '\r', '\u{7}', '\u{9b}'] {
            assert!(!out.contains(bad), "{name} printed {bad:?}: {out:?}");
        }
    }
    // The data itself is kept exactly: JSON escapes it.
    let v = env.json(&["show", "INC-20250104-0001", "--format", "json"]);
    assert!(v["title"].as_str().unwrap().starts_with(evil));
}

/// Regression: a reader waited silently for up to 10 s behind a long migration. One line
/// says why once the wait passes a second.
#[test]
fn a_wait_for_another_process_is_announced_once() {
    let env = Env::redb();
    env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    let held = incident::IncidentManager::open(env.db()).unwrap();
    let child = env
        .process()
        .args(["list", "--all"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1800));
    drop(held);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.matches("waiting for the database").count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("held by another process..."), "{stderr}");
}

/// Regression: `bridge migrate -` held the database while it waited for its input.
#[test]
fn a_migration_from_stdin_does_not_hold_the_database_while_reading() {
    use std::io::Write;
    let env = Env::new();
    env.create_at("t", "error", "low", &["c"], "2025-01-04T10:00:00Z");
    let mut child = env
        .process()
        .args(["bridge", "migrate", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(format!("{E1}\n").as_bytes()).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The input is still open: the database must be free.
    let out = env
        .cmd()
        .env("INCIDENT_BUSY_TIMEOUT_MS", "200")
        .args(["list", "--all"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("migrated 1"));
}

/// Regression: `import` refused a UTF-8 byte order mark that `migrate` accepted, and an
/// empty file was an error for `import` but "0 records" for `migrate`. Both accept the
/// mark and refuse an empty input the same way.
#[test]
fn bom_and_empty_inputs_are_treated_alike() {
    let env = Env::new();
    env.write("h.json", &format!("\u{feff}{ORIGINAL}"));
    assert_eq!(
        env.json(&["import", "h.json", "--format", "json"])["imported"],
        3
    );
    env.write("f.jsonl", &format!("\u{feff}{E1}\n"));
    assert_eq!(
        env.json(&["bridge", "migrate", "f.jsonl", "--format", "json"])["migrated"],
        1
    );
    for content in ["", " \n", "\u{feff}"] {
        env.write("empty.json", content);
        let e = env.fails(&["import", "empty.json"], 1);
        assert!(
            e.contains("the input is empty (no JSON at all)"),
            "{content:?}: {e}"
        );
        let e = env.fails(&["bridge", "migrate", "empty.json"], 1);
        assert!(
            e.contains("the input is empty (no JSON at all)"),
            "{content:?}: {e}"
        );
    }
}

/// Regression: a repeated JSON key silently kept its last value. Now the entry is refused,
/// naming the key and the record.
#[test]
fn duplicate_keys_are_refused_with_the_key_and_record() {
    let env = Env::new();
    let dup = ORIGINAL.replacen(
        "\"title\": \"Slack通知の遅延\",",
        "\"title\": \"Slack通知の遅延\", \"title\": \"別の件\",",
        1,
    );
    env.write("h.json", &dup);
    let e = env.fails(&["import", "h.json"], 1);
    assert!(e.contains("incident 1: duplicate key \"title\""), "{e}");

    let rec = E1.replace(
        "\"file\": \"a.py\",",
        "\"file\": \"a.py\", \"file\": \"b.py\",",
    );
    // Both parsers (the flat fast path and the general one, with a nested member).
    let nested = rec.replace(
        "\"success\": false",
        "\"success\": false, \"x\": {\"y\": [1]}",
    );
    env.write("f.jsonl", &format!("{rec}\n{nested}\n{E1}\n"));
    let e = env.fails(&["bridge", "migrate", "f.jsonl"], 1);
    assert!(e.contains("record 0"), "{e}");
    assert!(e.contains("field \"file\" appears more than once"), "{e}");
    let s = migrate_skipping(&env, "f.jsonl");
    assert_eq!(
        (s["rejected"].as_u64(), s["migrated"].as_u64()),
        (Some(2), Some(1)),
        "{s}"
    );
}

/// A stdin spool a killed `bridge migrate -` left beside the database is removed by the
/// next one.
#[test]
fn a_stale_stdin_spool_is_cleaned() {
    use std::io::Write;
    let env = Env::redb();
    let stale = env.write(".incident-stdin-99999999.json", "partial");
    let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(old)
        .unwrap();
    let mut child = env
        .process()
        .args(["bridge", "migrate", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{E1}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
    assert!(!stale.exists());
}

/// A timeline at its limit takes no more notes, but the incident can still be resolved.
#[test]
fn a_full_timeline_refuses_notes_but_still_resolves() {
    let env = Env::new();
    let entry = r#"{"timestamp": "2025-01-04T10:00:00", "action": "更新", "details": "x"}"#;
    let full = vec![entry; 10_000].join(",");
    let h = ORIGINAL.replacen(
        r#""timeline": [
        {
          "timestamp": "2025-01-05T08:31:47.550913","#,
        &format!(
            r#""timeline": [{full},
        {{
          "timestamp": "2025-01-05T08:31:47.550913","#
        ),
        1,
    );
    env.write("h.json", &h);
    let e = env.fails(&["import", "h.json"], 1);
    assert!(
        e.contains("invalid timeline: 10001 entries, more than the limit of 10000"),
        "{e}"
    );
    let h = h.replacen(&format!("{entry},"), "", 1);
    env.write("h.json", &h);
    env.ok(&["import", "h.json"]);
    let e = env.fails(&["note", "INC-20250105-0001", "one more"], 1);
    assert!(e.contains("invalid timeline: 10001 entries"), "{e}");
    env.ok(&[
        "resolve",
        "INC-20250105-0001",
        "--actions",
        "a",
        "--root-cause",
        "r",
    ]);
}

/// `bridge migrate FILE --skip-invalid --format json`: the summary.
fn migrate_skipping(env: &Env, file: &str) -> serde_json::Value {
    env.json(&[
        "bridge",
        "migrate",
        file,
        "--skip-invalid",
        "--format",
        "json",
    ])
}
