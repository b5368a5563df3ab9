//! The PostgreSQL backend: the same store API over a connection pool (`r2d2_postgres`).
//! Opening applies the ordered schema steps of `schema.rs` (refusing a newer schema);
//! reads run in a repeatable-read snapshot (`read.rs`); each write is one transaction
//! (`write.rs`), bulk writes go through binary `COPY`; `verify.rs` is check and repair.

use std::time::Duration;

use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::postgres::NoTls;
use r2d2_postgres::r2d2::{self, Pool, PooledConnection};

mod outbox;
mod read;
pub(crate) mod schema;
mod tokens;
mod verify;
mod write;

pub(crate) use read::{PgFingerprints, PgSnapshot};
pub(crate) use write::PgWriter;
#[cfg(feature = "testing")]
pub(crate) use write::ROW_INSERTS;

use super::Writer;
use super::bulk::Bulk;
use crate::error::{EngineError, StoreError};

type Manager = PostgresConnectionManager<NoTls>;
pub(super) type Conn = PooledConnection<Manager>;

/// Connections one process keeps at most: a snapshot and a writer at once (migration),
/// and fingerprint lookups beside them.
const POOL_SIZE: u32 = 4;

/// Bulk loads at least this large refresh the planner's statistics
/// ([`PgStore::analyze_after_load`]).
const ANALYZE_AFTER_ROWS: u64 = 10_000;

/// Serialises schema steps across processes (`pg_advisory_xact_lock`).
const SCHEMA_LOCK: i64 = 0x696e_6369_6465_6e74; // "incident"

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        StoreError::Engine(e.into())
    }
}

impl From<postgres::Error> for EngineError {
    fn from(e: postgres::Error) -> Self {
        EngineError::new(Box::new(e), false)
    }
}

/// `url` without its password, for messages.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// An open PostgreSQL database.
pub(crate) struct PgStore {
    pool: Pool<Manager>,
    url: String,
}

impl PgStore {
    /// Connects (waiting up to `timeout` for the server) and brings the schema up to date.
    pub(crate) fn open(url: &str, timeout: Duration) -> Result<Self, StoreError> {
        let open_error = |source: EngineError| StoreError::Open {
            path: redact(url),
            source,
        };
        let config: postgres::Config = url
            .parse()
            .map_err(|e: postgres::Error| open_error(e.into()))?;
        let pool = Pool::builder()
            .max_size(POOL_SIZE)
            .min_idle(Some(0))
            .connection_timeout(timeout.max(Duration::from_secs(1)))
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(PostgresConnectionManager::new(config, NoTls));
        let store = PgStore {
            pool,
            url: url.to_string(),
        };
        let mut conn = store
            .pool
            .get()
            .map_err(|e| open_error(EngineError::new(Box::new(e), false)))?;
        store.prepare(&mut conn)?;
        Ok(store)
    }

    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// The URL without its password.
    pub(crate) fn display_url(&self) -> String {
        redact(&self.url)
    }

    pub(super) fn conn(&self) -> Result<Conn, StoreError> {
        self.pool.get().map_err(|e| StoreError::Open {
            path: self.display_url(),
            source: EngineError::new(Box::new(e), false),
        })
    }

    /// Runs the schema steps this database has not had, in one transaction, refusing a
    /// database written by a newer version.
    fn prepare(&self, conn: &mut Conn) -> Result<(), StoreError> {
        // Up to date (the common case): no lock, no transaction.
        let current = conn
            .query_opt(
                "SELECT value FROM incident_meta WHERE key = 'schema_version'",
                &[],
            )
            .ok()
            .flatten()
            .map(|r| r.get::<_, i64>(0) as u64);
        if current == Some(schema::SCHEMA_VERSION) {
            return Ok(());
        }
        let mut txn = conn.transaction()?;
        txn.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        txn.batch_execute(schema::META)?;
        let found = txn
            .query_opt(
                "SELECT value FROM incident_meta WHERE key = 'schema_version'",
                &[],
            )?
            .map(|r| r.get::<_, i64>(0) as u64);
        match found {
            Some(v) if v == schema::SCHEMA_VERSION => return Ok(()),
            Some(v) if v > schema::SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    path: self.display_url(),
                    found: v,
                    supported: schema::SCHEMA_VERSION,
                });
            }
            _ => {}
        }
        let from = found.unwrap_or(0) as usize;
        if from == 0 {
            let foreign: bool = txn
                .query_one("SELECT to_regclass('incidents') IS NOT NULL", &[])?
                .get(0);
            if foreign {
                return Err(StoreError::NotIncidentDb {
                    path: self.display_url(),
                    reason: "it has an incidents table but no schema version".into(),
                });
            }
        }
        for step in &schema::STEPS[from..] {
            txn.batch_execute(step)?;
        }
        txn.execute(
            "INSERT INTO incident_meta (key, value) VALUES ('schema_version', $1)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&(schema::SCHEMA_VERSION as i64)],
        )?;
        txn.commit()?;
        Ok(())
    }

    /// Schema version recorded in the database.
    pub(crate) fn schema_version(&self) -> Result<u64, StoreError> {
        let row = self.conn()?.query_one(
            "SELECT value FROM incident_meta WHERE key = 'schema_version'",
            &[],
        )?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// Runs `f` in one transaction; commits when it succeeds, rolls back when it fails.
    pub(crate) fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let mut conn = self.conn()?;
        let txn = conn.transaction().map_err(StoreError::from)?;
        let mut w = Writer::Postgres(PgWriter::new(txn));
        let out = f(&mut w)?;
        if let Writer::Postgres(w) = w {
            w.commit()?;
        }
        Ok(out)
    }

    /// Writes a bulk buffer in one transaction. An unsynced commit does not wait for the
    /// write-ahead log to reach disk (`synchronous_commit = off`): a server crash may lose
    /// it whole, never in part, and the next synced commit makes it durable.
    pub(crate) fn write_bulk(&self, bulk: &mut Bulk, synced: bool) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let mut txn = conn.transaction()?;
        if !synced {
            txn.batch_execute("SET LOCAL synchronous_commit = off")?;
        }
        let mut w = PgWriter::new(txn);
        w.flush_bulk(bulk)?;
        w.commit()
    }

    /// Makes every earlier unsynced commit durable: a synced commit that writes
    /// flushes the log up to it.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.conn()?.batch_execute(
            "BEGIN; SET LOCAL synchronous_commit = on;
             UPDATE incident_meta SET value = value WHERE key = 'schema_version'; COMMIT",
        )?;
        Ok(())
    }

    /// Refreshes the planner's statistics after a bulk load of `rows` rows. Without them
    /// the queries right after loading 1M incidents are planned for an empty table (a whole
    /// `list --limit 50` process took 60–140 ms instead of 8–18 ms); `ANALYZE` of 1M rows
    /// takes about 0.4 s, so it runs only for loads that can move the statistics.
    /// Autovacuum does the same later.
    pub(crate) fn analyze_after_load(&self, rows: u64) -> Result<(), StoreError> {
        if rows >= ANALYZE_AFTER_ROWS {
            self.conn()?
                .batch_execute("ANALYZE incidents; ANALYZE fingerprints")?;
        }
        Ok(())
    }

    /// `VACUUM FULL` of the store's tables. Returns the database size before and after.
    pub(crate) fn compact(&mut self) -> Result<(u64, u64), StoreError> {
        let mut conn = self.conn()?;
        let size = |c: &mut Conn| -> Result<u64, StoreError> {
            Ok(
                c.query_one("SELECT pg_database_size(current_database())", &[])?
                    .get::<_, i64>(0) as u64,
            )
        };
        let before = size(&mut conn)?;
        conn.batch_execute(
            "VACUUM FULL incidents, day_counters, fingerprints, patterns, outbox, escalations, incident_meta",
        )?;
        Ok((before, size(&mut conn)?))
    }

    /// A read view as last committed.
    pub(crate) fn snapshot(&self) -> Result<PgSnapshot, StoreError> {
        PgSnapshot::begin(self.conn()?, self.pool.clone())
    }
}
