//! A temporary directory with its own database, and the real binary run inside it.
//!
//! The database is a redb file in the directory, or, with `INCIDENT_TEST_BACKEND=postgres`,
//! a fresh database on the PostgreSQL server at `$INCIDENT_TEST_PG` (dropped at the end):
//! the same tests run against both backends (`.ci/run` runs them twice).
#![allow(dead_code)]

pub(crate) mod receiver;
pub(crate) mod server;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use assert_cmd::Command;
use tempfile::TempDir;

pub(crate) struct Env {
    pub(crate) dir: TempDir,
    /// The PostgreSQL database this environment owns, when testing that backend.
    pg: Option<PgDb>,
}

/// Whether this run tests the PostgreSQL backend (`INCIDENT_TEST_BACKEND=postgres`).
pub(crate) fn on_postgres() -> bool {
    std::env::var("INCIDENT_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

/// The server's maintenance URL (`$INCIDENT_TEST_PG`, set by `.ci/pg start`). `None`
/// (with the reason printed) when unset, unless `INCIDENT_REQUIRE_PG` is set, as in CI,
/// where a missing server fails the test.
pub(crate) fn pg_server() -> Option<String> {
    match std::env::var("INCIDENT_TEST_PG") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("INCIDENT_REQUIRE_PG").is_some() || on_postgres() => {
            panic!("INCIDENT_TEST_PG is not set: start a server with `eval \"$(.ci/pg start)\"`")
        }
        _ => {
            eprintln!("skipped: INCIDENT_TEST_PG is not set (see README, \"Running the tests\")");
            None
        }
    }
}

/// A database of its own on the test server, dropped with it.
pub(crate) struct PgDb {
    server: String,
    name: String,
    pub(crate) url: String,
}

impl PgDb {
    pub(crate) fn new(server: &str) -> PgDb {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "incident_test_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let mut c = postgres::Client::connect(server, postgres::NoTls).expect("test server");
        c.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .expect("drop database");
        c.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create database");
        let base = server.rsplit_once('/').map_or(server, |(b, _)| b);
        PgDb {
            server: server.to_string(),
            url: format!("{base}/{name}"),
            name,
        }
    }

    /// A plain connection to this database.
    pub(crate) fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).expect("connect")
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&self.server, postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

impl Env {
    pub(crate) fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            pg: on_postgres().then(|| PgDb::new(&pg_server().expect("INCIDENT_TEST_PG"))),
        }
    }

    /// An environment on a redb file, whatever backend this run tests.
    pub(crate) fn redb() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            pg: None,
        }
    }

    /// An environment on a fresh database of the PostgreSQL server at `server`.
    pub(crate) fn postgres(server: &str) -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
            pg: Some(PgDb::new(server)),
        }
    }

    /// Whether the database is PostgreSQL (tests of the redb file itself skip then).
    pub(crate) fn is_postgres(&self) -> bool {
        self.pg.is_some()
    }

    pub(crate) fn pg(&self) -> Option<&PgDb> {
        self.pg.as_ref()
    }

    /// The database: the redb file's path, or the PostgreSQL URL.
    pub(crate) fn db(&self) -> PathBuf {
        match &self.pg {
            Some(pg) => PathBuf::from(&pg.url),
            None => self.dir.path().join("incidents.redb"),
        }
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `incident` with the database in the temp dir and a fixed time zone.
    pub(crate) fn cmd(&self) -> Command {
        let mut c = Command::cargo_bin("incident").expect("binary");
        c.current_dir(self.dir.path())
            .env("INCIDENT_DB", self.db())
            .env("TZ", "Asia/Tokyo")
            .env_remove("INCIDENT_BUSY_TIMEOUT_MS")
            .env_remove("COLUMNS");
        c
    }

    /// The binary as a plain process (to spawn, kill or pipe), set up like [`Env::cmd`].
    pub(crate) fn process(&self) -> std::process::Command {
        let mut c = std::process::Command::new(assert_cmd::cargo::cargo_bin("incident"));
        c.current_dir(self.dir.path())
            .env("INCIDENT_DB", self.db())
            .env("TZ", "Asia/Tokyo")
            .env_remove("INCIDENT_BUSY_TIMEOUT_MS")
            .env_remove("COLUMNS");
        c
    }

    /// Creates an incident at a given time and returns its id.
    pub(crate) fn create_at(
        &self,
        title: &str,
        category: &str,
        priority: &str,
        components: &[&str],
        at: &str,
    ) -> String {
        let mut args = vec![
            "create",
            "--category",
            category,
            "--priority",
            priority,
            "--title",
            title,
            "--at",
            at,
            "--components",
        ];
        args.extend_from_slice(components);
        self.ok(&args).trim().to_string()
    }

    /// Runs and returns stdout, asserting success.
    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().expect("run");
        assert!(
            out.status.success(),
            "incident {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8")
    }

    /// Runs, asserts failure with `code`, returns stderr.
    pub(crate) fn fails(&self, args: &[&str], code: i32) -> String {
        let out = self.cmd().args(args).output().expect("run");
        assert_eq!(
            out.status.code(),
            Some(code),
            "incident {args:?}: stdout {} stderr {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stderr).expect("utf-8")
    }

    pub(crate) fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).expect("json output")
    }

    /// `list --format json` with more arguments: the incidents it prints.
    pub(crate) fn list(&self, args: &[&str]) -> Vec<serde_json::Value> {
        let mut a = vec!["list", "--format", "json"];
        a.extend_from_slice(args);
        match self.json(&a) {
            serde_json::Value::Array(v) => v,
            other => panic!("list printed {other}"),
        }
    }

    /// The ids [`Env::list`] prints, in its order.
    pub(crate) fn list_ids(&self, args: &[&str]) -> Vec<String> {
        self.list(args)
            .iter()
            .map(|i| i["id"].as_str().expect("id").to_string())
            .collect()
    }

    /// Creates an incident and returns its id.
    pub(crate) fn create(&self, extra: &[&str]) -> String {
        let mut args = vec!["create"];
        args.extend_from_slice(extra);
        self.ok(&args).trim().to_string()
    }

    pub(crate) fn write(&self, name: &str, content: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, content).expect("write");
        p
    }

    /// Four resolved RabbitMQ timeouts, analysed into one pattern, and `kb/` holding the
    /// shipped knowledge base after `kb suggest --write` (which enriches its hand-written
    /// INCIDENT_002 RabbitMQ接続断 with the pattern).
    #[allow(dead_code)]
    pub(crate) fn seed_rabbitmq_kb(&self) {
        for i in 1..=4 {
            let id = self.create(&[
                "--category",
                "failure",
                "--priority",
                "high",
                "--title",
                &format!(
                    "RabbitMQ接続エラー: 10.0.0.{i}:5672 への接続が{i}0秒でタイムアウトしました"
                ),
                "--components",
                "rabbitmq",
                "--at",
                &format!("2025-01-0{i}T10:00:00Z"),
            ]);
            self.ok(&[
                "resolve",
                &id,
                "--actions",
                "systemctl restart rabbitmq-server",
                "--root-cause",
                "RabbitMQ停止",
                "--at",
                &format!("2025-01-0{i}T12:00:00Z"),
            ]);
        }
        std::fs::create_dir_all(self.path("kb")).expect("mkdir kb");
        self.write("kb/INCIDENT_PATTERNS_KB.md", incident::kb::KB_TEMPLATE);
        self.ok(&["analyze"]);
        self.ok(&["kb", "suggest", "--write"]);
        let kb = std::fs::read_to_string(self.path("kb/INCIDENT_PATTERNS_KB.md")).expect("kb");
        assert!(kb.contains("<!-- incident:enrich "), "{kb}");
    }
}

/// An `incident_history.json` with `n` open incidents `INC-20250101-0001...` whose
/// descriptions are `description_len` bytes long.
pub(crate) fn history_json(n: usize, description_len: usize) -> String {
    let description = "x".repeat(description_len);
    let incidents: Vec<String> = (1..=n)
        .map(|i| {
            format!(
                r#"{{"id": "INC-20250101-{i:04}", "created_at": "2025-01-01T00:00:00Z", "updated_at": "2025-01-01T00:00:00Z",
                "category": "error", "priority": "low", "status": "open", "title": "t{i}", "description": "{description}",
                "affected_components": ["c{}"]}}"#,
                i % 17
            )
        })
        .collect();
    format!("{{\"incidents\": [{}]}}", incidents.join(","))
}
