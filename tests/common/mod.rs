//! A temporary directory with its own database, and the real binary run inside it.
#![allow(dead_code)]

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
            .env_remove("INCIDENT_BUSY_TIMEOUT_MS");
        c
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
