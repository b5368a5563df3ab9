//! The store, the only module that names the database engines (redb, PostgreSQL): the API
//! the rest of the crate speaks (`backend.rs`: a snapshot to read, a write transaction and
//! a bulk sink) dispatched to the embedded redb file (this file, `query.rs`, `writer.rs`,
//! `bulk.rs`) or to PostgreSQL (`postgres/`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use redb::{Database, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction};

mod backend;
mod bulk;
pub(crate) mod codec;
mod engine;
mod ids;
mod index;
mod migrated;
pub(crate) mod outbox;
mod postgres;
mod query;
pub(crate) mod schema;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod upgrade;
mod verify;
mod writer;

pub use backend::Location;
pub(crate) use backend::{Snapshot, Writer};
pub(crate) use backend::{Store, check, repair};
pub(crate) use bulk::Bulk;
pub(crate) use ids::DaySeqs;
pub(crate) use index::Indexed;
use index::{
    count_key_assignee, count_key_category, count_key_component, count_key_pattern,
    count_key_priority, count_key_status,
};
pub(crate) use outbox::Edit;
use query::RedbSnapshot;
pub use query::{Filter, Order};
pub(crate) use schema::Pair;
pub(crate) use tokens::StoredToken;
pub use verify::{CheckReport, Problem, ProblemTable};
use writer::Names;
use writer::RedbWriter;

use crate::error::StoreError;
use crate::model::{Incident, IncidentId};
use schema::*;

/// Layout version this build writes. Bump it and add a step to `UPGRADES` when the
/// layout changes.
pub const SCHEMA_VERSION: u64 = 5;

/// redb's page cache. Its default (1 GiB) let a 1M-record migration peak near 900 MiB;
/// the operating system's page cache still holds the file.
const CACHE_BYTES: usize = 64 << 20;

/// How long a wait for another process lasts before [`Store::open_waiting`] says so.
pub const WAIT_NOTICE: Duration = Duration::from_secs(1);

/// How long `open` waits for another process to release the file by default.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// An open redb file.
pub(crate) struct RedbStore {
    db: Database,
    path: PathBuf,
}

impl std::fmt::Debug for RedbStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedbStore")
            .field("path", &self.path)
            .finish()
    }
}

impl RedbStore {
    /// Opens (or creates) the database at `path`, waiting up to `busy_timeout` while
    /// another process holds it.
    #[cfg(test)]
    pub(crate) fn open(path: &Path, busy_timeout: Duration) -> Result<Self, StoreError> {
        Self::open_waiting(path, busy_timeout, &|| {})
    }

    /// Like [`RedbStore::open`]; `waiting` is called once when the wait for another process
    /// passes [`WAIT_NOTICE`], so a user learns why nothing happens.
    pub(crate) fn open_waiting(
        path: &Path,
        busy_timeout: Duration,
        waiting: &dyn Fn(),
    ) -> Result<Self, StoreError> {
        contain(path, || Self::open_inner(path, busy_timeout, waiting))
    }

    fn open_inner(
        path: &Path,
        busy_timeout: Duration,
        waiting: &dyn Fn(),
    ) -> Result<Self, StoreError> {
        // A file this build must refuse is looked at read-only first: refusing it must
        // leave it byte-identical (a writable open alone can grow it).
        if path.exists() {
            // Busy (checked again once the writable open got the file) or in need of
            // recovery (which only a writable open does): left to the open below.
            if let Ok(db) = Database::builder().open_read_only(path) {
                let txn = db.begin_read()?;
                check_schema(path, &txn)?;
            }
        }
        let start = Instant::now();
        let mut delay = Duration::from_millis(5);
        let mut told = false;
        let db = loop {
            match Database::builder().set_cache_size(CACHE_BYTES).create(path) {
                Ok(db) => break db,
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    if !told && start.elapsed() >= WAIT_NOTICE && busy_timeout > WAIT_NOTICE {
                        told = true;
                        waiting();
                    }
                    if start.elapsed() >= busy_timeout {
                        return Err(StoreError::Busy {
                            path: path.display().to_string(),
                            waited_ms: start.elapsed().as_millis() as u64,
                        });
                    }
                    // Jitter keeps two waiting processes from retrying in lockstep.
                    let jitter = Duration::from_micros(u64::from(std::process::id() % 7) * 700);
                    std::thread::sleep(delay + jitter);
                    delay = (delay * 2).min(Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(StoreError::Open {
                        path: path.display().to_string(),
                        source: e.into(),
                    });
                }
            }
        };
        let store = RedbStore {
            db,
            path: path.to_path_buf(),
        };
        store.prepare()?;
        Ok(store)
    }

    /// The database file.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` on this store, containing a panic of the database engine.
    pub(crate) fn contain<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        contain(&self.path, f)
    }

    /// Creates missing tables, checks the schema version and runs pending upgrades.
    fn prepare(&self) -> Result<(), StoreError> {
        {
            let txn = self.db.begin_read()?;
            if check_schema(&self.path, &txn)? == Some(SCHEMA_VERSION) {
                return Ok(());
            }
        }
        let txn = self.db.begin_write()?;
        let found = {
            let meta = txn.open_table(META)?;
            meta.get("schema_version")?.map(|v| v.value())
        };
        match found {
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::NewerSchema {
                    path: self.path.display().to_string(),
                    found: v,
                    supported: SCHEMA_VERSION,
                });
            }
            Some(v) => {
                for step in &upgrade::UPGRADES[(v as usize).saturating_sub(1)..] {
                    step(&txn)?;
                }
            }
            None => {}
        }
        create_all_tables(&txn)?;
        txn.open_table(META)?
            .insert("schema_version", SCHEMA_VERSION)?;
        txn.commit()?;
        Ok(())
    }

    /// Starts a read transaction.
    fn begin_read(&self) -> Result<ReadTransaction, StoreError> {
        Ok(self.db.begin_read()?)
    }

    /// Starts a write transaction.
    fn begin_write(&self) -> Result<WriteTransaction, StoreError> {
        Ok(self.db.begin_write()?)
    }

    /// Starts a write transaction whose commit is not synced to disk. A crash loses it
    /// (and every later unsynced one) whole, never in part; the next synced commit
    /// makes them durable.
    fn begin_write_unsynced(&self) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write()?;
        txn.set_durability(redb::Durability::None)
            .map_err(|e| StoreError::Corrupt {
                key: "durability".into(),
                reason: e.to_string(),
            })?;
        Ok(txn)
    }

    /// Runs `f` in one write transaction and commits what it wrote, records and index
    /// entries together; nothing is written when `f` fails.
    pub(crate) fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        let txn = self.begin_write()?;
        let out = {
            let mut w = Writer::Redb(Box::new(RedbWriter::new(&txn)?));
            let out = f(&mut w)?;
            if let Writer::Redb(w) = &mut w {
                w.finish()?;
            }
            out
        };
        txn.commit().map_err(StoreError::from)?;
        Ok(out)
    }

    /// Writes everything buffered in `bulk` in one transaction and empties it. An unsynced
    /// commit is lost whole (with every later unsynced one) by a crash, never in part; the
    /// next synced commit makes them durable.
    pub(crate) fn write_bulk(&self, bulk: &mut Bulk, synced: bool) -> Result<(), StoreError> {
        let txn = if synced {
            self.begin_write()?
        } else {
            self.begin_write_unsynced()?
        };
        {
            let mut w = RedbWriter::new(&txn)?;
            w.flush_bulk(bulk)?;
            w.finish()?;
        }
        txn.commit()?;
        Ok(())
    }

    /// Makes every earlier unsynced commit durable.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        self.begin_write()?.commit()?;
        Ok(())
    }

    /// Gives free space back: redb grows a file by doubling and reuses freed pages only
    /// within it. Returns the file size before and after.
    pub(crate) fn compact(&mut self) -> Result<(u64, u64), StoreError> {
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        let before = size(&self.path);
        while self.db.compact()? {}
        Ok((before, size(&self.path)))
    }

    /// Schema version recorded in the file.
    pub(crate) fn schema_version(&self) -> Result<u64, StoreError> {
        let txn = self.begin_read()?;
        let meta = txn.open_table(META)?;
        Ok(meta.get("schema_version")?.map(|v| v.value()).unwrap_or(0))
    }
}

/// The schema version of an open file, refusing one this build must not write to: a
/// newer version, version 0 (no build writes it), or tables without a version (another
/// program's redb file). `None` is a new, empty file.
fn check_schema(path: &Path, txn: &ReadTransaction) -> Result<Option<u64>, StoreError> {
    let found = match txn.open_table(META) {
        Ok(meta) => meta.get("schema_version")?.map(|v| v.value()),
        Err(redb::TableError::TableDoesNotExist(_)) => None,
        Err(e) => {
            return Err(StoreError::NotIncidentDb {
                path: path.display().to_string(),
                reason: format!("its meta table is not ours ({e})"),
            });
        }
    };
    match found {
        Some(v) if v > SCHEMA_VERSION => Err(StoreError::NewerSchema {
            path: path.display().to_string(),
            found: v,
            supported: SCHEMA_VERSION,
        }),
        Some(0) => Err(StoreError::NotIncidentDb {
            path: path.display().to_string(),
            reason: "schema version 0, which no version of incident writes".into(),
        }),
        None if txn.list_tables()?.next().is_some() => Err(StoreError::NotIncidentDb {
            path: path.display().to_string(),
            reason: "it has tables but no schema version".into(),
        }),
        v => Ok(v),
    }
}

/// Runs `f`, turning a panic inside it into [`StoreError::Damaged`] naming `path`: redb
/// panics on some damaged pages (a stored string that is not UTF-8, a truncated entry)
/// instead of returning an error. Every entry point that reads or writes the file goes
/// through here.
pub(crate) fn contain<T, E: From<StoreError>>(
    path: &Path,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => {
            let reason = payload
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| payload.downcast_ref::<&str>().copied())
                .unwrap_or("the database engine stopped");
            Err(StoreError::Damaged {
                path: path.display().to_string(),
                reason: reason.to_string(),
            }
            .into())
        }
    }
}

fn create_all_tables(txn: &WriteTransaction) -> Result<(), StoreError> {
    txn.open_table(META)?;
    txn.open_table(INCIDENTS)?;
    txn.open_table(HEADS)?;
    txn.open_table(BY_STATUS)?;
    txn.open_table(BY_CATEGORY)?;
    txn.open_table(BY_PRIORITY)?;
    txn.open_table(NAMES)?;
    txn.open_table(NAME_OF)?;
    txn.open_table(BY_COMPONENT)?;
    txn.open_table(BY_ASSIGNEE)?;
    txn.open_table(BY_CREATED)?;
    txn.open_table(INDEX_COUNTS)?;
    txn.open_table(DAY_COUNTERS)?;
    txn.open_table(FINGERPRINTS)?;
    txn.open_table(PATTERNS)?;
    txn.open_table(BY_PATTERN)?;
    txn.open_table(INCIDENT_PATTERN)?;
    txn.open_table(OUTBOX)?;
    txn.open_table(ESCALATIONS)?;
    Ok(())
}

pub(crate) fn decode_incident(key: u64, bytes: &[u8]) -> Result<Incident, StoreError> {
    codec::decode(&|| IncidentId::from_key(key).to_string(), bytes)
}
