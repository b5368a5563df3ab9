//! Reads: a repeatable-read, read-only transaction on one pooled connection, and the
//! query translated into SQL over the indexed columns.

use std::cell::{Cell, RefCell};

use postgres::types::ToSql;
use rustc_hash::FxHashMap as HashMap;

use super::{Conn, Manager};
use crate::error::StoreError;
use crate::model::Pattern;
use crate::model::{Incident, IncidentId};
use crate::store::query::{Filter, Order};
use crate::store::{Pair, codec, decode_incident};
use r2d2_postgres::r2d2;

/// Rows fetched from a cursor at a time while scanning.
const SCAN_BATCH: i32 = 2_000;

/// A consistent read view: a `REPEATABLE READ READ ONLY` transaction, rolled back when
/// dropped.
pub(crate) struct PgSnapshot {
    conn: RefCell<Conn>,
    /// Point lookups prepared once per snapshot: a migration makes thousands.
    statements: RefCell<HashMap<&'static str, postgres::Statement>>,
    pool: r2d2::Pool<Manager>,
    cursors: Cell<u32>,
}

impl Drop for PgSnapshot {
    fn drop(&mut self) {
        // Nothing was written; a failure leaves a broken connection the pool discards.
        let _ = self.conn.get_mut().batch_execute("ROLLBACK");
    }
}

fn incident(row: &postgres::Row) -> Result<Incident, StoreError> {
    let key = row.get::<_, i64>(0) as u64;
    decode_incident(key, row.get::<_, &[u8]>(1))
}

impl PgSnapshot {
    pub(super) fn begin(mut conn: Conn, pool: r2d2::Pool<Manager>) -> Result<Self, StoreError> {
        conn.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
        Ok(PgSnapshot {
            conn: RefCell::new(conn),
            statements: RefCell::new(HashMap::default()),
            pool,
            cursors: Cell::new(0),
        })
    }

    fn query_rows(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, StoreError> {
        Ok(self.conn.borrow_mut().query(sql, params)?)
    }

    /// Like `query_rows` for a fixed statement, prepared on first use.
    fn lookup(
        &self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<postgres::Row>, StoreError> {
        let mut conn = self.conn.borrow_mut();
        let mut statements = self.statements.borrow_mut();
        let stmt = match statements.get(sql) {
            Some(s) => s.clone(),
            None => {
                let s = conn.prepare(sql)?;
                statements.insert(sql, s.clone());
                s
            }
        };
        Ok(conn.query(&stmt, params)?)
    }

    pub(crate) fn get_key(&self, key: u64) -> Result<Option<Incident>, StoreError> {
        self.lookup(
            "SELECT id, record FROM incidents WHERE id = $1",
            &[&(key as i64)],
        )?
        .first()
        .map(incident)
        .transpose()
    }

    pub(crate) fn contains(&self, key: u64) -> Result<bool, StoreError> {
        Ok(!self
            .lookup("SELECT 1 FROM incidents WHERE id = $1", &[&(key as i64)])?
            .is_empty())
    }

    pub(crate) fn count(&self) -> Result<u64, StoreError> {
        let rows = self.query_rows("SELECT count(*) FROM incidents", &[])?;
        Ok(rows.first().map_or(0, |r| r.get::<_, i64>(0) as u64))
    }

    /// The filter as SQL over the indexed columns; PostgreSQL's planner picks the index.
    /// Origins are not indexed: as in redb they are applied to the decoded records.
    pub(crate) fn query(&self, f: &Filter) -> Result<Vec<Incident>, StoreError> {
        if f.limit == Some(0) {
            return Ok(Vec::new());
        }
        let codes = |v: Vec<u8>| v.into_iter().map(i16::from).collect::<Vec<i16>>();
        let statuses = codes(f.statuses.iter().map(|s| s.code()).collect());
        let categories = codes(f.categories.iter().map(|s| s.code()).collect());
        let priorities = codes(f.priorities.iter().map(|s| s.code()).collect());
        let since = f.since.map(|t| t.micros());
        let until = f.until.map(|t| t.micros());
        let by_origin = !f.origins.is_empty();
        let limit = f.limit.filter(|_| !by_origin).map(|n| n as i64);

        let mut sql = String::from("SELECT id, record FROM incidents WHERE true");
        let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
        macro_rules! filter {
            ($cond:expr, $value:expr, $fmt:literal) => {
                if $cond {
                    params.push($value);
                    sql.push_str(" AND ");
                    sql.push_str(&format!($fmt, params.len()));
                }
            };
        }
        filter!(!statuses.is_empty(), &statuses, "status = ANY(${})");
        filter!(!categories.is_empty(), &categories, "category = ANY(${})");
        filter!(!priorities.is_empty(), &priorities, "priority = ANY(${})");
        filter!(
            !f.components.is_empty(),
            &f.components,
            "components && ${}::text[]"
        );
        filter!(
            !f.assignees.is_empty(),
            &f.assignees,
            "assignee = ANY(${}::text[])"
        );
        filter!(
            !f.patterns.is_empty(),
            &f.patterns,
            "pattern = ANY(${}::text[])"
        );
        filter!(since.is_some(), &since, "created_at >= ${}");
        filter!(until.is_some(), &until, "created_at < ${}");
        let after = f.after.map(|a| a.key() as i64);
        match f.order {
            Order::NewestFirst => filter!(after.is_some(), &after, "id < ${}"),
            Order::OldestFirst => filter!(after.is_some(), &after, "id > ${}"),
        }
        sql.push_str(match f.order {
            Order::NewestFirst => " ORDER BY id DESC",
            Order::OldestFirst => " ORDER BY id",
        });
        if let Some(n) = &limit {
            params.push(n);
            sql.push_str(&format!(" LIMIT ${}", params.len()));
        }
        let rows = self.query_rows(&sql, &params)?;
        let cap = f.limit.unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(rows.len().min(cap));
        for row in &rows {
            if out.len() >= cap {
                break;
            }
            let inc = incident(row)?;
            if !by_origin || f.origins.contains(&inc.origin) {
                out.push(inc);
            }
        }
        Ok(out)
    }

    /// Streams `sql` (ordered) through a cursor, `SCAN_BATCH` rows at a time.
    fn each_row<E: From<StoreError>>(
        &self,
        sql: &str,
        mut f: impl FnMut(&postgres::Row) -> Result<(), E>,
    ) -> Result<(), E> {
        let n = self.cursors.get() + 1;
        self.cursors.set(n);
        let name = format!("incident_scan_{n}");
        let mut conn = self.conn.borrow_mut();
        conn.batch_execute(&format!("DECLARE {name} NO SCROLL CURSOR FOR {sql}"))
            .map_err(StoreError::from)?;
        let fetch = format!("FETCH {SCAN_BATCH} FROM {name}");
        loop {
            let rows = conn.query(&fetch, &[]).map_err(StoreError::from)?;
            for row in &rows {
                f(row)?;
            }
            if rows.len() < SCAN_BATCH as usize {
                break;
            }
        }
        conn.batch_execute(&format!("CLOSE {name}"))
            .map_err(StoreError::from)?;
        Ok(())
    }

    pub(crate) fn scan<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(Result<Incident, StoreError>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.each_row("SELECT id, record FROM incidents ORDER BY id", |row| {
            f(incident(row))
        })
    }

    pub(crate) fn scan_with_pattern<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(Incident, Option<&str>) -> Result<(), E>,
    ) -> Result<(), E> {
        self.each_row(
            "SELECT id, record, pattern FROM incidents ORDER BY id",
            |row| f(incident(row)?, row.get::<_, Option<&str>>(2)),
        )
    }

    pub(crate) fn patterns(&self) -> Result<Vec<Pattern>, StoreError> {
        let rows = self.query_rows("SELECT id, record FROM patterns ORDER BY id", &[])?;
        rows.iter()
            .map(|r| {
                let id: String = r.get(0);
                codec::decode::<Pattern>(&|| id.clone(), r.get::<_, &[u8]>(1))
            })
            .collect()
    }

    pub(crate) fn pattern_members(
        &self,
        pattern_id: &str,
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError> {
        let rows = self.query_rows(
            "SELECT id, record FROM incidents WHERE pattern = $1 ORDER BY id DESC LIMIT $2",
            &[&pattern_id, &(limit.min(i64::MAX as usize) as i64)],
        )?;
        rows.iter().map(incident).collect()
    }

    pub(crate) fn fingerprints(&self) -> Result<PgFingerprints, StoreError> {
        let last = self
            .query_rows("SELECT max(error_micros) FROM fingerprints", &[])?
            .first()
            .and_then(|r| r.get::<_, Option<i64>>(0));
        Ok(PgFingerprints {
            pool: self.pool.clone(),
            last,
            cache: RefCell::new(Window::default()),
        })
    }

    pub(crate) fn each_fingerprint(
        &self,
        f: &mut dyn FnMut(Pair, u64) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.each_row(
            "SELECT error_micros, hash, incident FROM fingerprints ORDER BY error_micros, hash",
            |row| {
                f(
                    Pair::time(row.get::<_, i64>(0), row.get::<_, i64>(1) as u64),
                    row.get::<_, i64>(2) as u64,
                )
            },
        )
    }

    pub(crate) fn day_counters(&self) -> Result<Vec<(u32, u32)>, StoreError> {
        Ok(self
            .query_rows("SELECT day, seq FROM day_counters ORDER BY day", &[])?
            .iter()
            .map(|r| (r.get::<_, i32>(0) as u32, r.get::<_, i32>(1) as u32))
            .collect())
    }

    /// The day's counter and its highest stored id, whichever is higher.
    pub(crate) fn day_floor(&self, date: u32) -> Result<u32, StoreError> {
        let lo = IncidentId::new(date, 0).key() as i64;
        let hi = IncidentId::new(date, u32::MAX).key() as i64;
        let rows = self.query_rows(
            "SELECT (SELECT seq FROM day_counters WHERE day = $1),
                    (SELECT max(id) FROM incidents WHERE id BETWEEN $2 AND $3)",
            &[&(date as i32), &lo, &hi],
        )?;
        let Some(row) = rows.first() else {
            return Ok(0);
        };
        let counter = row.get::<_, Option<i32>>(0).unwrap_or(0) as u32;
        let stored = row
            .get::<_, Option<i64>>(1)
            .map_or(0, |k| IncidentId::from_key(k as u64).seq());
        Ok(counter.max(stored))
    }
}

/// Fingerprints of one time window, loaded at once: a migration reads its input in
/// roughly time order, so one query answers thousands of lookups.
#[derive(Default)]
struct Window {
    /// Error times `lo..hi` are all in `map`.
    lo: i64,
    hi: i64,
    map: HashMap<(i64, u64), u64>,
}

/// Rows per window load.
const WINDOW_ROWS: i64 = 50_000;

/// Fingerprint lookups, served from windows of the table read through their own
/// connection (a lookup may see batches committed after the snapshot began, which a
/// migration has deduplicated against already).
pub(crate) struct PgFingerprints {
    pool: r2d2::Pool<Manager>,
    last: Option<i64>,
    cache: RefCell<Window>,
}

impl PgFingerprints {
    pub(crate) fn get(&self, key: Pair) -> Result<Option<u64>, StoreError> {
        let t = key.micros();
        if self.last.is_none_or(|last| t > last) {
            return Ok(None);
        }
        let mut w = self.cache.borrow_mut();
        if !(w.lo <= t && t < w.hi) {
            *w = self.load(t)?;
        }
        Ok(w.map.get(&(t, key.lo)).copied())
    }

    fn load(&self, from: i64) -> Result<Window, StoreError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| StoreError::Engine(crate::error::EngineError::new(Box::new(e), false)))?;
        let rows = conn.query(
            "SELECT error_micros, hash, incident FROM fingerprints
             WHERE error_micros >= $1 ORDER BY error_micros LIMIT $2",
            &[&from, &WINDOW_ROWS],
        )?;
        let mut hi = i64::MAX;
        let mut rows = rows;
        if rows.len() as i64 == WINDOW_ROWS {
            // The last time may be cut off: the window ends before it, unless it is the
            // only time, which is then read whole.
            hi = rows.last().map_or(i64::MAX, |r| r.get::<_, i64>(0));
            if hi == from {
                rows = conn.query(
                    "SELECT error_micros, hash, incident FROM fingerprints WHERE error_micros = $1",
                    &[&from],
                )?;
                hi = from + 1;
            }
        }
        let mut map = HashMap::default();
        for r in &rows {
            let t: i64 = r.get(0);
            if t < hi {
                map.insert((t, r.get::<_, i64>(1) as u64), r.get::<_, i64>(2) as u64);
            }
        }
        Ok(Window { lo: from, hi, map })
    }

    pub(crate) fn last_micros(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.last)
    }
}
