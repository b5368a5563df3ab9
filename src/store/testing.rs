//! Helpers for the integration tests: damage a database on purpose. Not for normal use.
//! Each takes a redb file's path or a PostgreSQL URL.

use std::path::Path;

use redb::{Database, ReadableTable};

use super::schema::{BY_COMPONENT, DAY_COUNTERS, FINGERPRINTS, META, NAME_OF, OUTBOX};
use crate::error::StoreError;

/// Removes the first component index entry, forgets the name of the highest name id, and
/// resets every day counter to zero.
/// On PostgreSQL: drops the first component of the first incident's `components`
/// column and resets every day counter to zero.
pub fn corrupt_index(path: &Path) -> crate::Result<()> {
    Ok(corrupt_index_inner(path)?)
}

fn corrupt_index_inner(path: &Path) -> Result<(), StoreError> {
    if let Some(mut c) = postgres_client(path)? {
        c.batch_execute(
            "UPDATE incidents SET components = components[2:]
               WHERE id = (SELECT min(id) FROM incidents);
             UPDATE day_counters SET seq = 0",
        )?;
        return Ok(());
    }
    let db = Database::create(path)?;
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(BY_COMPONENT)?;
        let first = t.first()?.map(|(k, _)| k.value());
        if let Some(k) = first {
            t.remove(k)?;
        }
        let mut names = txn.open_table(NAME_OF)?;
        let last = names.last()?.map(|(k, _)| k.value());
        if let Some(n) = last {
            names.remove(n)?;
        }
        let mut counters = txn.open_table(DAY_COUNTERS)?;
        let dates: Vec<u32> = counters
            .range::<u32>(..)?
            .filter_map(|e| e.ok().map(|(k, _)| k.value()))
            .collect();
        for d in dates {
            counters.insert(d, 0)?;
        }
    }
    txn.commit()?;
    Ok(())
}

/// Garbles the first outbox entry and moves the event counter back by one, below the
/// last entry.
pub fn damage_outbox(path: &Path) -> crate::Result<()> {
    Ok(damage_outbox_inner(path)?)
}

fn damage_outbox_inner(path: &Path) -> Result<(), StoreError> {
    if let Some(mut c) = postgres_client(path)? {
        c.batch_execute(
            "UPDATE outbox SET entry = '\\x7b6e6f74'::bytea
               WHERE seq = (SELECT min(seq) FROM outbox);
             UPDATE incident_meta SET value = value - 1 WHERE key = 'outbox_seq'",
        )?;
        return Ok(());
    }
    let db = Database::create(path)?;
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(OUTBOX)?;
        let first = t.first()?.map(|(k, _)| k.value());
        if let Some(k) = first {
            t.insert(k, b"{not".as_slice())?;
        }
        let mut meta = txn.open_table(META)?;
        let seq = meta.get("outbox_seq")?.map_or(0, |v| v.value());
        meta.insert("outbox_seq", seq.saturating_sub(1))?;
    }
    txn.commit()?;
    Ok(())
}

/// Overwrites the schema version, as a newer build would have written it.
pub fn set_schema_version(path: &Path, version: u64) -> crate::Result<()> {
    Ok(set_schema_version_inner(path, version)?)
}

fn set_schema_version_inner(path: &Path, version: u64) -> Result<(), StoreError> {
    if let Some(mut c) = postgres_client(path)? {
        c.execute(
            "UPDATE incident_meta SET value = $1 WHERE key = 'schema_version'",
            &[&(version as i64)],
        )?;
        return Ok(());
    }
    let db = Database::create(path)?;
    let txn = db.begin_write()?;
    txn.open_table(META)?.insert("schema_version", version)?;
    txn.commit()?;
    Ok(())
}

/// Maps the fingerprint of every error in the history at `history` to incident `id`, as
/// builds before issue 17 did for an error that merely carried that id.
pub fn link_errors(path: &Path, history: &Path, id: crate::model::IncidentId) -> crate::Result<()> {
    Ok(link_errors_inner(path, history, id)?)
}

fn link_errors_inner(
    path: &Path,
    history: &Path,
    id: crate::model::IncidentId,
) -> Result<(), StoreError> {
    let file = std::fs::File::open(history).map_err(|e| StoreError::Corrupt {
        key: history.display().to_string(),
        reason: e.to_string(),
    })?;
    let mut reader = crate::import::error_history::ErrorReader::new(file);
    if let Some(mut c) = postgres_client(path)? {
        let mut txn = c.transaction()?;
        while let Ok(Some(rec)) = reader.read_record() {
            let k = crate::import::error_history::fingerprint_key(&rec);
            txn.execute(
                "INSERT INTO fingerprints VALUES ($1, $2, $3)
                 ON CONFLICT (error_micros, hash) DO UPDATE SET incident = EXCLUDED.incident",
                &[&k.micros(), &(k.lo as i64), &(id.key() as i64)],
            )?;
        }
        txn.commit()?;
        return Ok(());
    }
    let db = Database::create(path)?;
    let txn = db.begin_write()?;
    {
        let mut fps = txn.open_table(FINGERPRINTS)?;
        while let Ok(Some(rec)) = reader.read_record() {
            fps.insert(
                crate::import::error_history::fingerprint_key(&rec),
                id.key(),
            )?;
        }
    }
    txn.commit()?;
    Ok(())
}

/// A connection when `path` is a PostgreSQL URL.
fn postgres_client(path: &Path) -> Result<Option<postgres::Client>, StoreError> {
    match super::Location::parse(path.as_os_str()) {
        super::Location::Postgres(url) => {
            Ok(Some(postgres::Client::connect(&url, postgres::NoTls)?))
        }
        super::Location::File(_) => Ok(None),
    }
}

/// Benchmarks only: PostgreSQL bulk writes use one `INSERT` per row instead of `COPY`
/// (to measure what `COPY` gains through the same driver), in this process.
pub fn postgres_row_inserts(on: bool) {
    super::postgres::ROW_INSERTS.store(on, std::sync::atomic::Ordering::Relaxed);
}
