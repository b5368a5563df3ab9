//! The backend seam: the store API (a snapshot, a write transaction, a bulk sink, check
//! and repair) as enums over the two engines. A `match` per call, no boxing: the redb path
//! pays one predictable branch.

use std::ffi::OsStr;
use std::fmt;
use std::path::Path;
use std::time::Duration;

use super::bulk::Bulk;
use super::outbox::Edit;
use super::postgres::{PgFingerprints, PgSnapshot, PgStore, PgWriter};
use super::query::{Filter, RedbFingerprints};
use super::writer::RedbWriter;
use super::{CheckReport, Pair, RedbSnapshot, RedbStore, verify};
use crate::error::StoreError;
use crate::model::Pattern;
use crate::model::{Incident, IncidentId};
use crate::notify::{Event, OutboxEntry};

/// Where a database is: a redb file, or a PostgreSQL URL (`postgres://` or
/// `postgresql://`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    File(std::path::PathBuf),
    Postgres(String),
}

impl Location {
    /// A `postgres://` or `postgresql://` URL selects PostgreSQL; anything else is a path.
    pub fn parse(s: &OsStr) -> Location {
        match s.to_str() {
            Some(u) if u.starts_with("postgres://") || u.starts_with("postgresql://") => {
                Location::Postgres(u.to_string())
            }
            _ => Location::File(s.into()),
        }
    }
}

impl fmt::Display for Location {
    /// A file's path, or the URL without its password.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => f.write_str(&super::postgres::redact(url)),
        }
    }
}

/// An open incident database: a redb file or a PostgreSQL database.
pub(crate) struct Store(Engine);

pub(super) enum Engine {
    Redb(RedbStore),
    Postgres(PgStore),
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location().to_string())
            .finish()
    }
}

impl Store {
    pub(super) fn engine(&self) -> &Engine {
        &self.0
    }

    /// Like [`Store::open`]; `waiting` is called once when the wait for another process
    /// passes [`super::WAIT_NOTICE`], so a user learns why nothing happens.
    pub(crate) fn open_waiting(
        path: &Path,
        busy_timeout: Duration,
        waiting: &dyn Fn(),
    ) -> Result<Self, StoreError> {
        Self::open_location(&Location::parse(path.as_os_str()), busy_timeout, waiting)
    }

    /// Opens the database at `location`, creating its tables (or running its schema
    /// upgrades) when needed.
    pub(crate) fn open_location(
        location: &Location,
        busy_timeout: Duration,
        waiting: &dyn Fn(),
    ) -> Result<Self, StoreError> {
        Ok(Store(match location {
            Location::File(p) => Engine::Redb(RedbStore::open_waiting(p, busy_timeout, waiting)?),
            Location::Postgres(url) => Engine::Postgres(PgStore::open(url, busy_timeout)?),
        }))
    }

    /// Where the database is.
    pub(crate) fn location(&self) -> Location {
        match &self.0 {
            Engine::Redb(s) => Location::File(s.path().to_path_buf()),
            Engine::Postgres(s) => Location::Postgres(s.url().to_string()),
        }
    }

    /// The database file; `None` for PostgreSQL.
    pub(crate) fn path(&self) -> Option<&Path> {
        match &self.0 {
            Engine::Redb(s) => Some(s.path()),
            Engine::Postgres(_) => None,
        }
    }

    /// Runs `f` on this store, containing a panic of the database engine.
    pub(crate) fn contain<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.0 {
            Engine::Redb(s) => s.contain(f),
            Engine::Postgres(s) => super::contain(Path::new(&s.display_url()), f),
        }
    }

    /// Runs `f` in one write transaction and commits what it wrote, records and index
    /// entries together; nothing is written when `f` fails.
    pub(crate) fn write<T, E: From<StoreError>>(
        &self,
        f: impl FnOnce(&mut Writer<'_>) -> Result<T, E>,
    ) -> Result<T, E> {
        match &self.0 {
            Engine::Redb(s) => s.write(f),
            Engine::Postgres(s) => s.write(f),
        }
    }

    /// Writes everything buffered in `bulk` in one transaction and empties it. An unsynced
    /// commit is lost whole (with every later unsynced one) by a crash, never in part; the
    /// next synced commit makes them durable.
    pub(crate) fn write_bulk(&self, bulk: &mut Bulk, synced: bool) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Redb(s) => s.write_bulk(bulk, synced),
            Engine::Postgres(s) => s.write_bulk(bulk, synced),
        }
    }

    /// Makes every earlier unsynced commit durable.
    pub(crate) fn sync(&self) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Redb(s) => s.sync(),
            Engine::Postgres(s) => s.sync(),
        }
    }

    /// Called once a bulk load (migration, copy, bulk insert) of `rows` incidents has
    /// committed: PostgreSQL refreshes its planner statistics; redb has none. A failure is
    /// ignored: the load is committed, and statistics are only a hint (autovacuum
    /// refreshes them later).
    pub(crate) fn after_bulk_load(&self, rows: u64) {
        if let Engine::Postgres(s) = &self.0 {
            let _ = s.analyze_after_load(rows);
        }
    }

    /// Gives free space back. Returns the size before and after, in bytes (the file, or
    /// the PostgreSQL database).
    pub(crate) fn compact(&mut self) -> Result<(u64, u64), StoreError> {
        match &mut self.0 {
            Engine::Redb(s) => s.compact(),
            Engine::Postgres(s) => s.compact(),
        }
    }

    /// Schema version recorded in the database.
    pub(crate) fn schema_version(&self) -> Result<u64, StoreError> {
        match &self.0 {
            Engine::Redb(s) => s.schema_version(),
            Engine::Postgres(s) => s.schema_version(),
        }
    }

    /// Calls `f` with every outbox entry in sequence order, or why it cannot be read.
    pub(crate) fn outbox_read(
        &self,
        f: impl FnMut(u64, Result<OutboxEntry, StoreError>),
    ) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Redb(s) => s.outbox_read(f),
            Engine::Postgres(s) => s.outbox_read(f),
        }
    }

    /// Removes outbox entry `seq`, readable or not; false if there is none.
    pub(crate) fn outbox_remove(&self, seq: u64) -> Result<bool, StoreError> {
        match &self.0 {
            Engine::Redb(s) => s.outbox_remove(seq),
            Engine::Postgres(s) => s.outbox_remove(seq),
        }
    }

    /// Passes outbox entries to `f` in one write transaction and applies its edits; an
    /// entry that cannot be decoded is left alone (`check` reports it). On
    /// PostgreSQL the entries are locked `FOR UPDATE SKIP LOCKED`: an entry another
    /// process is editing is skipped, so two deliverers never hold the same one.
    pub(crate) fn outbox_edit(
        &self,
        f: impl FnMut(u64, OutboxEntry) -> Edit,
    ) -> Result<(), StoreError> {
        match &self.0 {
            Engine::Redb(s) => s.outbox_edit(f),
            Engine::Postgres(s) => s.outbox_edit(f),
        }
    }

    /// A read view of the store as last committed.
    pub(crate) fn snapshot(&self) -> Result<Snapshot, StoreError> {
        Ok(match &self.0 {
            Engine::Redb(s) => Snapshot::Redb(s.snapshot()?),
            Engine::Postgres(s) => Snapshot::Postgres(s.snapshot()?),
        })
    }
}

/// Verifies the whole database: every record decodes, and every index (redb's tables,
/// PostgreSQL's indexed columns) equals what the records say.
pub(crate) fn check(store: &Store) -> Result<CheckReport, StoreError> {
    match &store.0 {
        Engine::Redb(s) => verify::check(s),
        Engine::Postgres(s) => s.check(),
    }
}

/// Rebuilds every index, count and counter from the records.
pub(crate) fn repair(store: &Store) -> Result<(), StoreError> {
    match &store.0 {
        Engine::Redb(s) => verify::repair(s),
        Engine::Postgres(s) => s.repair(),
    }
}

/// One write transaction. redb's writer (its open tables, ~2.7 KB) is boxed: one
/// allocation per transaction, against an enum as large as it everywhere.
pub(crate) enum Writer<'t> {
    Redb(Box<RedbWriter<'t>>),
    Postgres(PgWriter<'t>),
}

macro_rules! dispatch {
    ($self:ident, $w:ident => $e:expr) => {
        match $self {
            Self::Redb($w) => $e,
            Self::Postgres($w) => $e,
        }
    };
}

impl Writer<'_> {
    /// Reads one incident.
    pub(crate) fn get(&mut self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        dispatch!(self, w => w.get(id))
    }

    /// Hands out the next id for a local creation date.
    pub(crate) fn next_id(&mut self, date: u32) -> Result<IncidentId, StoreError> {
        dispatch!(self, w => w.next_id(date))
    }

    /// Makes sure the day counter is at or past an id that came from elsewhere (import).
    pub(crate) fn reserve_id(&mut self, id: IncidentId) -> Result<(), StoreError> {
        dispatch!(self, w => w.reserve_id(id))
    }

    /// Writes `new`, replacing `old` (the record currently stored under the same id, if
    /// any), with every index entry that changed.
    pub(crate) fn put(&mut self, old: Option<&Incident>, new: &Incident) -> Result<(), StoreError> {
        dispatch!(self, w => w.put(old, new))
    }

    /// Puts an incident into a pattern (replacing any earlier pattern of it).
    pub(crate) fn set_pattern(
        &mut self,
        id: IncidentId,
        pattern: Option<&str>,
    ) -> Result<(), StoreError> {
        dispatch!(self, w => w.set_pattern(id, pattern))
    }

    /// Stores a mined pattern (replacing one with the same id).
    pub(crate) fn put_pattern(&mut self, p: &Pattern) -> Result<(), StoreError> {
        dispatch!(self, w => w.put_pattern(p))
    }

    /// Whether a pattern with this id is stored.
    pub(crate) fn has_pattern(&mut self, pattern_id: &str) -> Result<bool, StoreError> {
        dispatch!(self, w => w.has_pattern(pattern_id))
    }

    /// Removes every stored pattern no incident belongs to.
    pub(crate) fn remove_patterns_without_members(&mut self) -> Result<(), StoreError> {
        dispatch!(self, w => w.remove_patterns_without_members())
    }

    /// Writes everything buffered in `bulk` and empties it.
    pub(crate) fn flush_bulk(&mut self, bulk: &mut Bulk) -> Result<(), StoreError> {
        dispatch!(self, w => w.flush_bulk(bulk))
    }

    /// Writes `event` to the outbox in this transaction, giving it its id; returns it.
    pub(crate) fn emit(&mut self, event: Event) -> Result<String, StoreError> {
        dispatch!(self, w => w.emit(event))
    }

    /// When escalation `step` fired for incident `id`, if it did.
    pub(crate) fn fired(&mut self, id: IncidentId, step: &str) -> Result<Option<i64>, StoreError> {
        dispatch!(self, w => w.fired(id, step))
    }

    /// Records that escalation `step` fired for incident `id` at `micros`.
    pub(crate) fn mark_fired(
        &mut self,
        id: IncidentId,
        step: &str,
        micros: i64,
    ) -> Result<(), StoreError> {
        dispatch!(self, w => w.mark_fired(id, step, micros))
    }
}

/// A consistent read view: every read through one snapshot sees the same commit.
pub(crate) enum Snapshot {
    Redb(RedbSnapshot),
    Postgres(PgSnapshot),
}

impl Snapshot {
    /// One incident by its key.
    pub(crate) fn get_key(&self, key: u64) -> Result<Option<Incident>, StoreError> {
        dispatch!(self, s => s.get_key(key))
    }

    /// One incident.
    pub(crate) fn get(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        self.get_key(id.key())
    }

    /// Whether an incident is stored under `key`, without decoding it.
    pub(crate) fn contains(&self, key: u64) -> Result<bool, StoreError> {
        dispatch!(self, s => s.contains(key))
    }

    /// Number of incidents.
    pub(crate) fn count(&self) -> Result<u64, StoreError> {
        dispatch!(self, s => s.count())
    }

    /// Incidents matching `filter`, in its order.
    pub(crate) fn query(&self, filter: &Filter) -> Result<Vec<Incident>, StoreError> {
        dispatch!(self, s => s.query(filter))
    }

    /// Calls `f` for every incident in id order; a record that cannot be decoded is
    /// passed as its error, so a caller may skip it.
    pub(crate) fn scan<E: From<StoreError>>(
        &self,
        f: impl FnMut(Result<Incident, StoreError>) -> Result<(), E>,
    ) -> Result<(), E> {
        dispatch!(self, s => s.scan(f))
    }

    /// Like [`Snapshot::scan`], with each incident's pattern id.
    pub(crate) fn scan_with_pattern<E: From<StoreError>>(
        &self,
        f: impl FnMut(Incident, Option<&str>) -> Result<(), E>,
    ) -> Result<(), E> {
        dispatch!(self, s => s.scan_with_pattern(f))
    }

    /// Every stored pattern, in id order.
    pub(crate) fn patterns(&self) -> Result<Vec<Pattern>, StoreError> {
        dispatch!(self, s => s.patterns())
    }

    /// Incidents of a pattern, newest first, at most `limit`.
    pub(crate) fn pattern_members(
        &self,
        pattern_id: &str,
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError> {
        dispatch!(self, s => s.pattern_members(pattern_id, limit))
    }

    /// Fingerprint lookups of a migration or a bridge check.
    pub(crate) fn fingerprints(&self) -> Result<Fingerprints, StoreError> {
        Ok(match self {
            Snapshot::Redb(s) => Fingerprints::Redb(s.fingerprints()?),
            Snapshot::Postgres(s) => Fingerprints::Postgres(s.fingerprints()?),
        })
    }

    /// Every fingerprint, in key order: (key, incident key).
    pub(crate) fn each_fingerprint(
        &self,
        f: &mut dyn FnMut(Pair, u64) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        dispatch!(self, s => s.each_fingerprint(f))
    }

    /// Every day counter: (local date YYYYMMDD, last sequence number handed out).
    pub(crate) fn day_counters(&self) -> Result<Vec<(u32, u32)>, StoreError> {
        dispatch!(self, s => s.day_counters())
    }

    /// The highest sequence number of `date` that a new id must pass.
    pub(crate) fn day_floor(&self, date: u32) -> Result<u32, StoreError> {
        dispatch!(self, s => s.day_floor(date))
    }
}

/// Which incident each migrated error became, as seen by a snapshot.
pub(crate) enum Fingerprints {
    Redb(RedbFingerprints),
    Postgres(PgFingerprints),
}

impl Fingerprints {
    /// The incident key a fingerprint maps to.
    pub(crate) fn get(&self, key: Pair) -> Result<Option<u64>, StoreError> {
        match self {
            Fingerprints::Redb(f) => f.get(key),
            Fingerprints::Postgres(f) => f.get(key),
        }
    }

    /// The error time of the latest fingerprint stored.
    pub(crate) fn last_micros(&self) -> Result<Option<i64>, StoreError> {
        match self {
            Fingerprints::Redb(f) => f.last_micros(),
            Fingerprints::Postgres(f) => f.last_micros(),
        }
    }
}
