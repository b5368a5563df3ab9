//! Resolves raw arguments into validated values the library takes.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, Result};
use incident::db::Location;
use incident::{Filter, IncidentId, IncidentManager, Order, Status, Timestamp};

use crate::cli::ListArgs;

/// `--db`, else `$INCIDENT_DB` when set and not empty, else `./incidents.redb`.
pub(crate) fn db_path(db: &Option<PathBuf>) -> PathBuf {
    db.clone()
        .or_else(|| {
            std::env::var_os("INCIDENT_DB")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from("incidents.redb"))
}

/// Who the CLI records as making its changes: `$USER` (or `$USERNAME`), else `local`.
pub(crate) fn local_user() -> String {
    ["USER", "USERNAME"]
        .iter()
        .filter_map(|k| std::env::var(k).ok())
        .map(|u| u.trim().to_string())
        .find(|u| !u.is_empty())
        .unwrap_or_else(|| "local".into())
}

/// Where `--db` (or its default) points: a file, or a PostgreSQL URL.
pub(crate) fn location(db: &Option<PathBuf>) -> Location {
    Location::parse(db_path(db).as_os_str())
}

/// How long to wait for another process: `$INCIDENT_BUSY_TIMEOUT_MS`, default 10 s.
pub(crate) fn busy_timeout() -> Result<Duration> {
    match std::env::var("INCIDENT_BUSY_TIMEOUT_MS") {
        Ok(v) => v.trim().parse().map(Duration::from_millis).map_err(|_| {
            anyhow::anyhow!(
                "INCIDENT_BUSY_TIMEOUT_MS must be a whole number of milliseconds, not {v:?}"
            )
        }),
        Err(_) => Ok(incident::db::DEFAULT_BUSY_TIMEOUT),
    }
}

/// Opens the database, creating it if missing (commands that add incidents).
pub(crate) fn open(db: &Option<PathBuf>) -> Result<IncidentManager> {
    open_at(&location(db))
}

/// Opens the database at `location`, creating it if missing.
pub(crate) fn open_at(location: &Location) -> Result<IncidentManager> {
    let waiting = || eprintln!("waiting for the database {location} held by another process...");
    Ok(IncidentManager::open_location(
        location,
        busy_timeout()?,
        &waiting,
    )?)
}

/// Opens an existing database: a mistyped path must not answer from a new, empty file.
pub(crate) fn open_existing(db: &Option<PathBuf>) -> Result<IncidentManager> {
    let path = match location(db) {
        Location::File(path) => path,
        // A database server has no "missing file": the URL names a database that exists.
        pg @ Location::Postgres(_) => return open_at(&pg),
    };
    if !path.exists() {
        anyhow::bail!(
            "database {} does not exist (`incident create`, `import` or `bridge migrate` make one; \
             --db or INCIDENT_DB choose another)",
            path.display()
        );
    }
    // A command that only reads must not turn an empty file into a database.
    if std::fs::metadata(&path).is_ok_and(|m| m.is_file() && m.len() == 0) {
        anyhow::bail!(
            "database {} is an empty file (0 bytes), not an incident database; remove it or \
             choose another with --db or INCIDENT_DB",
            path.display()
        );
    }
    open(db)
}

/// Columns a table may use: `$COLUMNS` when set, else the terminal's width when stdout is
/// a terminal; `None` (no limit) for a pipe or file.
pub(crate) fn output_width() -> Option<usize> {
    if let Some(n) = std::env::var("COLUMNS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return Some(n);
    }
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        return None;
    }
    terminal_size::terminal_size().map(|(w, _)| usize::from(w.0))
}

pub(crate) fn id(s: &str) -> Result<IncidentId> {
    Ok(s.parse()?)
}

pub(crate) fn time(flag: &str, s: Option<&str>) -> Result<Option<Timestamp>> {
    s.map(|v| Timestamp::parse(v).with_context(|| format!("--{flag}")))
        .transpose()
}

pub(crate) fn parse<T: FromStr>(flag: &str, s: &str) -> Result<T>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    s.parse::<T>().with_context(|| format!("--{flag}"))
}

pub(crate) fn parse_all<T: FromStr>(flag: &str, v: &[String]) -> Result<Vec<T>>
where
    T::Err: std::error::Error + Send + Sync + 'static,
{
    v.iter().map(|s| parse(flag, s)).collect()
}

pub(crate) fn filter(a: &ListArgs) -> Result<Filter> {
    let statuses = if a.all {
        Vec::new()
    } else if a.status.is_empty() {
        vec![Status::Open, Status::InProgress]
    } else {
        parse_all("status", &a.status)?
    };
    Ok(Filter {
        statuses,
        categories: parse_all("category", &a.category)?,
        priorities: parse_all("priority", &a.priority)?,
        components: a.component.clone(),
        assignees: a.assignee.clone(),
        patterns: a.pattern.clone(),
        origins: parse_all("origin", &a.origin)?,
        since: time("since", a.since.as_deref())?,
        until: time("until", a.until.as_deref())?,
        limit: a.limit,
        order: if a.oldest_first {
            Order::OldestFirst
        } else {
            Order::NewestFirst
        },
        after: None,
    })
}

/// The notification and escalation config: `--config` / `$INCIDENT_CONFIG`, else empty
/// (no targets, no escalation steps, default SLA targets).
pub(crate) fn notify_config(path: &Option<PathBuf>) -> Result<incident::notify::NotifyConfig> {
    Ok(match path {
        Some(p) => incident::notify::NotifyConfig::load(p)?,
        None => incident::notify::NotifyConfig::default(),
    })
}
