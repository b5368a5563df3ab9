//! A temporary directory with its own database, and the real binary run inside it.
#![allow(dead_code)]

pub(crate) mod receiver;
pub(crate) mod server;

use std::path::PathBuf;

use assert_cmd::Command;
use tempfile::TempDir;

pub(crate) struct Env {
    pub(crate) dir: TempDir,
}

impl Env {
    pub(crate) fn new() -> Self {
        Env {
            dir: tempfile::tempdir().expect("tempdir"),
        }
    }

    pub(crate) fn db(&self) -> PathBuf {
        self.dir.path().join("incidents.redb")
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
