//! Helpers for the integration tests: damage a database file on purpose. Not for normal use.

use std::path::Path;

use redb::{Database, ReadableTable};

use super::schema::{BY_COMPONENT, DAY_COUNTERS, FINGERPRINTS, META, NAME_OF};
use crate::error::StoreError;

/// Removes the first component index entry, forgets the name of the highest name id, and
/// resets every day counter to zero.
pub fn corrupt_index(path: &Path) -> crate::Result<()> {
    Ok(corrupt_index_inner(path)?)
}

fn corrupt_index_inner(path: &Path) -> Result<(), StoreError> {
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

/// Overwrites the schema version, as a newer build would have written it.
pub fn set_schema_version(path: &Path, version: u64) -> crate::Result<()> {
    Ok(set_schema_version_inner(path, version)?)
}

fn set_schema_version_inner(path: &Path, version: u64) -> Result<(), StoreError> {
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
