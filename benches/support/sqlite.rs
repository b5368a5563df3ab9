//! The SQLite import a user would build instead of the store, shared by the migration
//! benchmarks (`migrate.rs`, `postgres.rs`): run in a child process so that its wall time
//! and peak memory are measured like the `incident` binary's.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use incident::IncidentId;
use incident::import::error_history::{ErrorReader, fingerprint, to_incident};
use rusqlite::{Connection, params};
use serde::{Deserialize, Serialize};

pub(crate) type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// SQLite as a user would set it up: WAL, `synchronous=NORMAL`, the default page cache,
/// the indexes the store keeps, the schema created before the import.
pub(crate) const SQLITE_SCHEMA: &str = "
PRAGMA journal_mode=WAL;
PRAGMA synchronous=NORMAL;
CREATE TABLE IF NOT EXISTS incidents(
    id INTEGER PRIMARY KEY, created_at INTEGER, category INTEGER, priority INTEGER,
    status INTEGER, title TEXT, description TEXT, impact TEXT, assignee TEXT, record TEXT);
CREATE TABLE IF NOT EXISTS incident_components(incident_id INTEGER, component TEXT);
CREATE TABLE IF NOT EXISTS fingerprints(fp BLOB PRIMARY KEY, incident_id INTEGER);
CREATE INDEX IF NOT EXISTS incidents_status ON incidents(status);
CREATE INDEX IF NOT EXISTS incidents_category ON incidents(category);
CREATE INDEX IF NOT EXISTS incidents_priority ON incidents(priority);
CREATE INDEX IF NOT EXISTS components_component
    ON incident_components(component, incident_id);
";

/// What the SQLite child prints.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct SqliteSummary {
    pub(crate) records: u64,
    pub(crate) inserted: u64,
    pub(crate) duplicates: u64,
    /// Reading and validating records.
    pub(crate) parse: f64,
    /// Fingerprint, `to_incident` and the JSON of the incident.
    pub(crate) map: f64,
    /// The INSERT statements.
    pub(crate) insert: f64,
    /// COMMIT and closing the connection (the WAL checkpoint).
    pub(crate) commit: f64,
}

/// `BENCH_SQLITE_CACHE_MIB`, if set.
pub(crate) fn sqlite_cache_mib() -> Result<Option<u64>> {
    match std::env::var("BENCH_SQLITE_CACHE_MIB") {
        Ok(v) => Ok(Some(v.trim().parse()?)),
        Err(_) => Ok(None),
    }
}

/// The SQLite import, in its own process: prints a [`SqliteSummary`] as JSON.
pub(crate) fn sqlite_child(file: &Path, db: &Path) -> Result<()> {
    let mut conn = Connection::open(db)?;
    conn.execute_batch(SQLITE_SCHEMA)?;
    if let Some(mib) = sqlite_cache_mib()? {
        conn.execute_batch(&format!("PRAGMA cache_size=-{};", mib * 1024))?;
    }
    let mut s = SqliteSummary {
        records: 0,
        inserted: 0,
        duplicates: 0,
        parse: 0.0,
        map: 0.0,
        insert: 0.0,
        commit: 0.0,
    };
    let (mut parse, mut map, mut insert) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let tx = conn.transaction()?;
    {
        let mut next_key: i64 =
            tx.query_row("SELECT coalesce(max(id), 0) + 1 FROM incidents", [], |r| {
                r.get(0)
            })?;
        let mut add_fp = tx.prepare_cached(
            "INSERT OR IGNORE INTO fingerprints(fp, incident_id) VALUES (?1, ?2)",
        )?;
        let mut add_incident = tx.prepare_cached(
            "INSERT INTO incidents(id, created_at, category, priority, status, title, \
             description, impact, assignee, record) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        let mut add_component = tx.prepare_cached(
            "INSERT INTO incident_components(incident_id, component) VALUES (?1, ?2)",
        )?;
        // The display id (INC-YYYYMMDD-NNNN) per local date, as the migration numbers them.
        let mut day_seq: HashMap<u32, u32> = HashMap::new();
        let mut reader = ErrorReader::open(file)?;
        loop {
            let t = Instant::now();
            let Some(rec) = reader.next_record()? else {
                break;
            };
            s.records += 1;
            let t1 = Instant::now();
            parse += t1 - t;
            let fp = fingerprint(&rec);
            let t2 = Instant::now();
            map += t2 - t1;
            if add_fp.execute(params![&fp[..], next_key])? == 0 {
                s.duplicates += 1;
                insert += t2.elapsed();
                continue;
            }
            let t3 = Instant::now();
            insert += t3 - t2;
            let id = rec.incident_id.unwrap_or_else(|| {
                let date = IncidentId::date_key(rec.timestamp.local_date());
                let seq = day_seq.entry(date).or_default();
                *seq += 1;
                IncidentId::new(date, *seq)
            });
            let inc = to_incident(&rec, id);
            let json = serde_json::to_string(&inc)?;
            let t4 = Instant::now();
            map += t4 - t3;
            add_incident.execute(params![
                next_key,
                inc.created_at.micros(),
                inc.category.code(),
                inc.priority.code(),
                inc.status.code(),
                inc.title,
                inc.description,
                inc.impact,
                inc.assignee,
                json,
            ])?;
            for c in &inc.affected_components {
                add_component.execute(params![next_key, c])?;
            }
            insert += t4.elapsed();
            next_key += 1;
            s.inserted += 1;
        }
    }
    let t = Instant::now();
    tx.commit()?;
    conn.close().map_err(|(_, e)| e)?;
    s.commit = t.elapsed().as_secs_f64();
    s.parse = parse.as_secs_f64();
    s.map = map.as_secs_f64();
    s.insert = insert.as_secs_f64();
    println!("{}", serde_json::to_string(&s)?);
    Ok(())
}
