//! `incident kb suggest` end to end: knowledge base entries and auto-fix scripts.

#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;

use common::Env;

fn seed(env: &Env) {
    for i in 1..=4 {
        let id = env.create(&[
            "--category",
            "failure",
            "--priority",
            "high",
            "--title",
            &format!("RabbitMQ接続エラー: 10.0.0.{i}:5672 への接続が{i}0秒でタイムアウトしました"),
            "--components",
            "rabbitmq",
            "--at",
            &format!("2025-01-0{i}T10:00:00Z"),
        ]);
        env.ok(&[
            "resolve",
            &id,
            "--actions",
            "`systemctl restart rabbitmq-server`",
            "キューの滞留を確認",
            "--root-cause",
            "RabbitMQ停止",
            "--preventive",
            "死活監視を追加",
            "--at",
            &format!("2025-01-0{i}T12:00:00Z"),
        ]);
    }
    for i in 1..=3 {
        let id = env.create(&[
            "--category",
            "error",
            "--priority",
            "medium",
            "--title",
            &format!("Evil $(touch PWNED) `touch PWNED` '; rm -rf / {i}"),
            "--components",
            "web",
            "--at",
            &format!("2025-02-0{i}T10:00:00Z"),
        ]);
        env.ok(&[
            "resolve",
            &id,
            "--actions",
            "echo hi; touch PWNED",
            "$(touch PWNED)",
            "--root-cause",
            "x\ny",
            "--at",
            &format!("2025-02-0{i}T12:00:00Z"),
        ]);
    }
}

#[test]
fn suggest_writes_entries_and_scripts_and_is_idempotent() {
    let env = Env::new();
    seed(&env);
    std::fs::create_dir_all(env.path("kb")).unwrap();
    std::fs::write(
        env.path("kb/INCIDENT_PATTERNS_KB.md"),
        incident::kb::KB_TEMPLATE,
    )
    .unwrap();
    env.ok(&["analyze"]);
    let diff = env.ok(&["kb", "suggest"]);
    assert!(diff.contains("+++"), "{diff}");
    // The dry run changed nothing.
    assert_eq!(
        std::fs::read_to_string(env.path("kb/INCIDENT_PATTERNS_KB.md")).unwrap(),
        incident::kb::KB_TEMPLATE
    );

    env.ok(&["kb", "suggest", "--write"]);
    let kb = std::fs::read_to_string(env.path("kb/INCIDENT_PATTERNS_KB.md")).unwrap();
    // The hand-written RabbitMQ entry is enriched, not duplicated, and the person's text stays.
    assert!(kb.contains("### INCIDENT_002: RabbitMQ接続断"), "{kb}");
    assert_eq!(
        kb.matches("RabbitMQ接続断").count(),
        incident::kb::KB_TEMPLATE.matches("RabbitMQ接続断").count()
    );
    assert!(kb.contains("<!-- incident:enrich "), "{kb}");
    for line in incident::kb::KB_TEMPLATE.lines() {
        assert!(kb.contains(line), "lost a line a person wrote: {line}");
    }
    let second = env.ok(&["kb", "suggest", "--write"]);
    assert!(second.contains("0 file(s) written"), "{second}");

    let scripts: Vec<_> = std::fs::read_dir(env.path("kb/auto_fix"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().extension().is_some_and(|x| x == "sh"))
        .collect();
    assert!(
        !scripts.is_empty(),
        "a script for the pattern fixed the same way every time"
    );
    for s in &scripts {
        let mode = s.metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o111, 0, "scripts are not executable");
        let st = std::process::Command::new("bash")
            .arg("-n")
            .arg(s.path())
            .status()
            .unwrap();
        assert!(st.success());
        // Dry run and --apply never execute text from incidents.
        for args in [&[][..], &["--apply"][..]] {
            let _ = std::process::Command::new("bash")
                .arg(s.path())
                .args(args)
                .current_dir(env.dir.path())
                .output()
                .unwrap();
            assert!(!env.path("PWNED").exists(), "incident text was executed");
        }
    }
    let rabbit = std::fs::read_to_string(scripts[0].path()).unwrap();
    assert!(rabbit.contains("set -euo pipefail"), "{rabbit}");

    // The create-time match points at the script.
    let out = env
        .cmd()
        .args([
            "create",
            "--category",
            "failure",
            "--priority",
            "high",
            "--title",
            "RabbitMQ接続エラー: 10.9.9.9:5672 への接続が99秒でタイムアウトしました",
            "--components",
            "rabbitmq",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("seen before: pattern"), "{err}");
    assert!(err.contains("auto-fix script: kb/auto_fix/"), "{err}");
}
