//! Writing candidate scripts: which patterns get one, what it replays, and the bash text
//! (a dry run by default).

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::policy::command_words;

use crate::fsutil::write_file;
use crate::kb::KbError;
use crate::model::{Counted, Pattern, Status};

/// The line that marks a script as tool-owned; without it a file is never overwritten.
pub(crate) const GENERATED_MARK: &str = "# incident:generated";

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
    /// A recorded command whose last word depended on the incident (the service, the
    /// path): run with `--apply TARGET`, `argv` then the target, which must be one of
    /// `targets` (as recorded, most used first).
    Targeted {
        argv: Vec<String>,
        targets: Vec<Counted<String>>,
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
    let (mut steps, evidence) = match targeted(p).filter(|t| majority(t.used_in)) {
        Some(t) => targeted_steps(t, resolved),
        None => recorded_steps(p, opts, resolved)?,
    };
    // Keyword knowledge adds read-only diagnostics, printed as suggestions and never run.
    for step in keyword_steps(p) {
        let Step::Instruction { text, .. } = &step else {
            continue;
        };
        let duplicate = steps.iter().any(|s| match s {
            Step::Command { argv, .. } => argv.join(" ") == *text,
            Step::Targeted { .. } => false,
            Step::Instruction { text: t, .. } => t == text,
        });
        if !duplicate {
            steps.push(step);
        }
    }
    if !steps
        .iter()
        .any(|s| matches!(s, Step::Command { .. } | Step::Targeted { .. }))
    {
        return None;
    }
    let content = render(p, &steps, &evidence);
    Some(Script {
        file_name: format!("{}.sh", p.id),
        content,
        steps,
    })
}

/// The steps for the actions most resolved incidents agree on, each as recorded: a
/// command when it is one, else an instruction. `None` when they agree on nothing.
fn recorded_steps(
    p: &Pattern,
    opts: &AutofixOptions,
    resolved: u64,
) -> Option<(Vec<Step>, String)> {
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
    Some((steps, evidence))
}

/// A fix recorded as one command whose recorded uses differ only in the last word.
struct Targeted {
    argv: Vec<String>,
    targets: Vec<Counted<String>>,
    used_in: u64,
}

/// The command most resolved incidents were fixed with alone, when its recorded uses
/// differ only in the last word (`systemctl restart logging-setup` for one file's errors,
/// `systemctl restart pm-worker` for another's): which word a fix needs depends on the
/// incident, so replaying the most used one would be wrong for the rest. A variant used by
/// fewer than a tenth of them is noise, not a choice.
fn targeted(p: &Pattern) -> Option<Targeted> {
    let singles: Vec<(Vec<String>, u64)> = p
        .action_sets
        .iter()
        .filter(|set| set.value.len() == 1)
        .filter_map(|set| Some((command_words(&set.value[0])?, set.count)))
        .filter(|(words, _)| words.len() >= 2 && !words[words.len() - 1].starts_with('-'))
        .collect();
    let (top, _) = singles.first()?;
    let head = &top[..top.len() - 1];
    let mut targets: Vec<Counted<String>> = Vec::new();
    for (words, count) in &singles {
        let Some((last, rest)) = words.split_last() else {
            continue;
        };
        if rest != head {
            continue;
        }
        match targets.iter_mut().find(|t| t.value == *last) {
            Some(t) => t.count += count,
            None => targets.push(Counted {
                value: last.clone(),
                count: *count,
            }),
        }
    }
    targets.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
    let used_in: u64 = targets.iter().map(|t| t.count).sum();
    let others = used_in - targets.first()?.count;
    (targets.len() >= 2 && others.saturating_mul(10) >= used_in).then(|| Targeted {
        argv: head.to_vec(),
        targets,
        used_in,
    })
}

fn targeted_steps(t: Targeted, resolved: u64) -> (Vec<Step>, String) {
    let shown = t
        .targets
        .iter()
        .map(|c| format!("{} ({})", c.value, c.count))
        .collect::<Vec<_>>()
        .join(", ");
    let evidence = format!(
        "{} of {resolved} resolved incidents were resolved with `{} TARGET` alone, TARGET as recorded: {shown}.",
        t.used_in,
        t.argv.join(" ")
    );
    let step = Step::Targeted {
        source: StepSource::Recorded {
            action: format!("{} TARGET", t.argv.join(" ")),
            used_in: t.used_in,
        },
        argv: t.argv,
        targets: t.targets,
    };
    (vec![step], evidence)
}

/// The scripts for `patterns` under `dir`, with what writing them would change.
pub fn plan_scripts(
    dir: &Path,
    patterns: &[Pattern],
    opts: &AutofixOptions,
) -> crate::Result<Vec<ScriptPlan>> {
    Ok(plan_scripts_inner(dir, patterns, opts)?)
}

pub(crate) fn plan_scripts_inner(
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
) -> crate::Result<Vec<PathBuf>> {
    Ok(apply_plans(&plan_scripts_inner(dir, patterns, opts)?)?)
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
    let uses_run = steps.iter().any(|s| {
        matches!(
            s,
            Step::Command { check: false, .. } | Step::Targeted { .. }
        )
    });
    let targets = steps.iter().find_map(|s| match s {
        Step::Targeted { targets, .. } => Some(targets),
        _ => None,
    });
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
    ));
    let usage = if targets.is_some() {
        out.push_str(concat!(
            "# The recorded fix names what the incident needs (the TARGET): pass it after\n",
            "# --apply; only the targets recorded below are accepted.\n",
        ));
        "[--dry-run | --apply] [TARGET]"
    } else {
        "[--dry-run | --apply]"
    };
    let _ = writeln!(
        out,
        "# Usage: bash <this file> {usage}   (default: dry run, runs nothing)"
    );
    out.push_str(concat!(
        "set -euo pipefail\n",
        "\n",
        "apply=0\n",
        "case \"${1:-}\" in\n",
        "  --apply) apply=1 ;;\n",
        "  '' | --dry-run) ;;\n",
        "  *)\n",
    ));
    let _ = writeln!(out, "    printf 'usage: %s {usage}\\n' \"$0\" >&2");
    out.push_str(concat!("    exit 2\n", "    ;;\n", "esac\n", "\n"));
    if let Some(targets) = targets {
        let words: Vec<String> = targets.iter().map(|t| shell_word(&t.value)).collect();
        let _ = writeln!(out, "targets=({})", words.join(" "));
        out.push_str(concat!(
            "target=\"${2:-}\"\n",
            "if [ -n \"$target\" ]; then\n",
            "  known=0\n",
            "  for t in \"${targets[@]}\"; do\n",
            "    if [ \"$t\" = \"$target\" ]; then known=1; fi\n",
            "  done\n",
            "  if [ \"$known\" -eq 0 ]; then\n",
            "    printf 'not a recorded target: %s (recorded: %s)\\n' \"$target\" \"${targets[*]}\" >&2\n",
            "    exit 2\n",
            "  fi\n",
            "elif [ \"$apply\" -eq 1 ]; then\n",
            "  printf 'this fix needs the target the incident names: %s --apply TARGET (one of: %s)\\n' \"$0\" \"${targets[*]}\" >&2\n",
            "  exit 2\n",
            "fi\n",
            "\n",
        ));
    }
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
            Step::Targeted { argv, source, .. } => {
                let words: Vec<String> = argv.iter().map(|w| shell_word(w)).collect();
                // Without --apply the target may be missing: the dry run shows where it goes.
                (
                    source,
                    format!("run {} \"${{target:-TARGET}}\"", words.join(" ")),
                )
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
pub(super) fn sq(s: &str) -> String {
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
