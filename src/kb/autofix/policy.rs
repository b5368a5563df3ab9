//! Which recorded actions may run: the known commands and the shape their arguments
//! must have. Anything that does not fit stays an instruction for a person.

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
