//! What only the PostgreSQL backend promises, against a real server (`$INCIDENT_TEST_PG`,
//! started by `.ci/pg start`; skipped with a printed reason when unset, failing in CI):
//! several processes creating at once, `copy` between backends verified by `export`,
//! idempotent and resumable migrations, and the same output as redb for every command.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{Env, pg_server};

fn generate(env: &Env, n: usize, name: &str) -> std::path::PathBuf {
    let path = env.path(name);
    env.ok(&[
        "bridge",
        "generate",
        &n.to_string(),
        "--seed",
        "7",
        "-o",
        path.to_str().unwrap(),
    ]);
    path
}

fn export(env: &Env) -> String {
    env.ok(&["export", "--format", "jsonl"])
}

#[test]
fn four_processes_creating_at_once_get_400_distinct_ids() {
    let Some(server) = pg_server() else { return };
    let env = Env::postgres(&server);
    let children: Vec<_> = (0..4)
        .map(|p| {
            let script = format!(
                "for i in $(seq 1 100); do \"$BIN\" create --category failure --priority high \
                 --title \"p{p} $i\" --components c{p} shared --at 2025-01-04T10:00:00+09:00 || exit 1; done"
            );
            std::process::Command::new("bash")
                .arg("-c")
                .arg(script)
                .current_dir(env.dir.path())
                .env("BIN", assert_cmd::cargo::cargo_bin("incident"))
                .env("INCIDENT_DB", env.db())
                .env("TZ", "Asia/Tokyo")
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut ids = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success());
        ids.extend(
            String::from_utf8(out.stdout)
                .unwrap()
                .lines()
                .map(str::to_string),
        );
    }
    let distinct: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), 400);
    assert_eq!(distinct.len(), 400, "duplicate ids handed out");
    // No gaps: the day's ids are exactly 0001..0400.
    let expected: BTreeSet<String> = (1..=400).map(|i| format!("INC-20250104-{i:04}")).collect();
    assert_eq!(distinct, expected.iter().collect());
    assert_eq!(env.list_ids(&["--component", "c2"]).len(), 100);
    assert_eq!(
        env.list_ids(&["--component", "shared", "--status", "open"])
            .len(),
        400
    );
    let target = env.list_ids(&["--component", "c0"])[6].clone();
    env.ok(&["update", &target, "--status", "in_progress"]);
    assert_eq!(
        env.list_ids(&["--component", "c0", "--status", "in_progress"]),
        [target]
    );
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
}

#[test]
fn copy_to_postgres_and_back_exports_the_same() {
    let Some(server) = pg_server() else { return };
    let redb = Env::redb();
    let history = generate(&redb, 5_000, "errors.json");
    redb.ok(&["bridge", "migrate", history.to_str().unwrap(), "--quiet"]);
    redb.ok(&["analyze"]);
    let pg = Env::postgres(&server);
    let out = redb.ok(&[
        "copy",
        "--from",
        redb.db().to_str().unwrap(),
        "--to",
        pg.db().to_str().unwrap(),
        "--quiet",
    ]);
    assert!(out.starts_with("copied 5000 incidents"), "{out}");
    assert_eq!(export(&pg), export(&redb));
    assert_eq!(pg.ok(&["patterns"]), redb.ok(&["patterns"]));
    assert!(pg.ok(&["check"]).contains("0 problem(s)"));
    // The fingerprints came along: migrating the same history again adds nothing.
    let again = pg.json(&[
        "bridge",
        "migrate",
        history.to_str().unwrap(),
        "--quiet",
        "--format",
        "json",
    ]);
    assert_eq!(again["migrated"], 0, "{again}");
    // And back into a new file.
    let back = Env::redb();
    back.ok(&[
        "copy",
        "--from",
        pg.db().to_str().unwrap(),
        "--to",
        back.db().to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(export(&back), export(&redb));
    assert!(back.ok(&["check"]).contains("0 problem(s)"));
    // Counters came along: the next id of a copied day follows the source's.
    let next = |env: &Env| env.create_at("next", "error", "low", &["x"], "2025-01-04T10:00:00Z");
    assert_eq!(next(&pg), next(&redb));
}

#[test]
fn copy_refuses_a_destination_that_holds_incidents() {
    let Some(server) = pg_server() else { return };
    let (redb, pg) = (Env::redb(), Env::postgres(&server));
    redb.create_at("a", "error", "low", &["x"], "2025-01-04T10:00:00Z");
    pg.create_at("b", "error", "low", &["x"], "2025-01-04T10:00:00Z");
    let e = redb.fails(
        &[
            "copy",
            "--from",
            redb.db().to_str().unwrap(),
            "--to",
            pg.db().to_str().unwrap(),
        ],
        1,
    );
    assert!(
        e.contains("already holds 1 incidents and 0 patterns; copy only into an empty database"),
        "{e}"
    );
    assert_eq!(pg.list_ids(&[]).len(), 1);
}

#[test]
fn migrating_the_same_history_twice_adds_nothing() {
    let Some(server) = pg_server() else { return };
    let pg = Env::postgres(&server);
    let history = generate(&pg, 20_000, "errors.json");
    let path = history.to_str().unwrap();
    let first = pg.json(&["bridge", "migrate", path, "--quiet", "--format", "json"]);
    // A load this large leaves the planner statistics of its tables fresh (`ANALYZE`
    // sets reltuples; a table never analysed has -1).
    let tuples: f32 = pg
        .pg()
        .unwrap()
        .client()
        .query_one(
            "SELECT reltuples FROM pg_class WHERE oid = 'incidents'::regclass",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(
        tuples > 10_000.0,
        "incidents not analysed: reltuples {tuples}"
    );
    let before = export(&pg);
    let second = pg.json(&["bridge", "migrate", path, "--quiet", "--format", "json"]);
    assert_eq!(second["migrated"], 0, "{second}");
    assert_eq!(
        second["already_present"].as_u64().unwrap() + second["linked"].as_u64().unwrap(),
        first["migrated"].as_u64().unwrap()
            + first["already_present"].as_u64().unwrap()
            + first["linked"].as_u64().unwrap(),
        "{first} {second}"
    );
    assert_eq!(export(&pg), before);
    // The same as migrating into redb.
    let redb = Env::redb();
    redb.ok(&["bridge", "migrate", path, "--quiet"]);
    assert_eq!(export(&redb), before);
}

#[test]
fn a_killed_migration_resumes_to_exactly_the_expected_set() {
    let Some(server) = pg_server() else { return };
    let pg = Env::postgres(&server);
    let history = generate(&pg, 150_000, "errors.json");
    let path = history.to_str().unwrap();
    let mut child = pg
        .process()
        .args(["bridge", "migrate", path, "--quiet", "--batch", "5000"])
        .spawn()
        .unwrap();
    // Killed once some batches are in, before it ends.
    let start = Instant::now();
    let mut client = pg.pg().unwrap().client();
    loop {
        let n: i64 = client
            .query_one("SELECT count(*) FROM incidents", &[])
            .map(|r| r.get(0))
            .unwrap_or(0);
        if n > 0 || start.elapsed() > Duration::from_secs(60) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let finished = child.try_wait().unwrap().is_some();
    child.kill().unwrap();
    child.wait().unwrap();
    let stored: i64 = client
        .query_one("SELECT count(*) FROM incidents", &[])
        .unwrap()
        .get(0);
    eprintln!("killed after {stored} incidents (finished first: {finished})");
    let rerun = pg.json(&["bridge", "migrate", path, "--quiet", "--format", "json"]);
    assert!(
        rerun["migrated"].as_u64().unwrap() > 0 || finished,
        "{rerun}"
    );
    assert!(pg.ok(&["check"]).contains("0 problem(s)"));
    // Exactly what one uninterrupted migration gives.
    let redb = Env::redb();
    redb.ok(&["bridge", "migrate", path, "--quiet"]);
    assert_eq!(export(&pg), export(&redb));
}

/// Every reading command prints the same on both backends, over the same history.
#[test]
fn every_command_prints_the_same_on_both_backends() {
    let Some(server) = pg_server() else { return };
    let (redb, pg) = (Env::redb(), Env::postgres(&server));
    let history = generate(&redb, 3_000, "errors.json");
    for env in [&redb, &pg] {
        env.ok(&["bridge", "migrate", history.to_str().unwrap(), "--quiet"]);
        let a = env.create_at(
            "RabbitMQ接続断",
            "failure",
            "critical",
            &["rabbitmq", "通知"],
            "2025-01-05T09:00:00+09:00",
        );
        env.ok(&[
            "update",
            &a,
            "--assignee",
            "田中",
            "--at",
            "2025-01-05T09:10:00+09:00",
        ]);
        env.ok(&[
            "resolve",
            &a,
            "--actions",
            "systemctl restart rabbitmq-server",
            "--root-cause",
            "RabbitMQ停止",
            "--at",
            "2025-01-05T10:00:00+09:00",
        ]);
        env.ok(&["analyze"]);
    }
    let commands: &[&[&str]] = &[
        &["list"],
        &["list", "--all", "--limit", "50"],
        &["list", "--all", "--format", "csv"],
        &["list", "--status", "resolved", "--format", "json"],
        &["list", "--all", "--component", "rabbitmq", "--oldest-first"],
        &["list", "--all", "--assignee", "田中"],
        &[
            "list",
            "--all",
            "--priority",
            "high",
            "--category",
            "error",
            "--limit",
            "20",
        ],
        &[
            "list",
            "--all",
            "--since",
            "2025-01-03",
            "--until",
            "2025-01-05",
            "--limit",
            "30",
        ],
        &["list", "--all", "--origin", "manual"],
        &["show", "INC-20250105-0001"],
        &["show", "INC-20250105-0001", "--format", "json"],
        &["export", "--format", "csv"],
        &[
            "report",
            "--format",
            "markdown",
            "--at",
            "2025-02-01T00:00:00Z",
        ],
        &["report", "--format", "json", "--at", "2025-02-01T00:00:00Z"],
        &[
            "report",
            "--origin",
            "migrated",
            "--format",
            "json",
            "--at",
            "2025-02-01T00:00:00Z",
        ],
        &["stats", "--at", "2025-02-01T00:00:00Z"],
        &["patterns"],
        &["patterns", "--format", "json"],
        &["bridge", "report", "--format", "json"],
        &["kb", "suggest"],
    ];
    for args in commands {
        let (r, p) = (
            redb.cmd().args(*args).output().unwrap(),
            pg.cmd().args(*args).output().unwrap(),
        );
        assert_eq!(
            r.status.code(),
            p.status.code(),
            "{args:?}: {}",
            String::from_utf8_lossy(&p.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&r.stdout),
            String::from_utf8_lossy(&p.stdout),
            "{args:?} differs"
        );
    }
}

#[test]
fn a_bad_url_is_one_clear_line() {
    let Some(_server) = pg_server() else { return };
    let env = Env::redb();
    let out = env
        .cmd()
        .env("INCIDENT_BUSY_TIMEOUT_MS", "1000")
        .args(["--db", "postgres://nobody:secret@127.0.0.1:1/none", "list"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(
        e.starts_with("error: cannot open database postgres://nobody:***@127.0.0.1:1/none"),
        "{e}"
    );
    assert!(!e.contains("secret"), "{e}");
}
