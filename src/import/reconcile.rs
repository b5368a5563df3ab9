//! `incident bridge report` and `incident bridge check`: the error history and the store,
//! side by side.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, StoreError};
use crate::import::error_history::{
    ErrorReader, ErrorStats, ErrorStatsBuilder, ReadError, fingerprint_key,
};
use crate::manager::IncidentManager;
use crate::metrics::Metrics;
use crate::model::{IncidentId, Origin};

/// Reading the history for a report or check failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ReconcileError {
    #[error("cannot read {path}: {source}")]
    Open {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<StoreError> for ReconcileError {
    fn from(e: StoreError) -> Self {
        ReconcileError::Store(e.into())
    }
}

fn open(path: &Path) -> Result<ErrorReader<File>, ReconcileError> {
    File::open(path)
        .map(ErrorReader::new)
        .map_err(|source| ReconcileError::Open {
            path: path.display().to_string(),
            source,
        })
}

/// Error statistics of a history file, read streaming. Invalid records are counted as
/// `invalid` and otherwise skipped.
pub fn error_stats(path: &Path) -> crate::Result<(ErrorStats, u64)> {
    Ok(error_stats_inner(path)?)
}

fn error_stats_inner(path: &Path) -> Result<(ErrorStats, u64), ReconcileError> {
    let mut reader = open(path)?;
    let mut b = ErrorStatsBuilder::new();
    let mut invalid = 0;
    loop {
        match reader.read_record() {
            Ok(Some(r)) => b.add(&r),
            Ok(None) => break,
            Err(e) if !e.is_fatal() => invalid += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok((b.finish(), invalid))
}

/// The integrated report: the store's incident metrics and the file's error statistics.
#[derive(Clone, Debug, Serialize)]
pub struct BridgeReport {
    pub incidents: Metrics,
    pub errors: ErrorStats,
    /// Records of the file that failed validation.
    pub invalid_records: u64,
}

/// What kind of inconsistency `bridge check` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum InconsistencyKind {
    /// The record cannot be read.
    Invalid,
    /// No incident was made from the record.
    NotMigrated,
    /// The record's incident is not in the store.
    MissingIncident,
    /// The record carries an id the store does not have.
    UnknownIncidentId,
    /// The record carries the id of another error's incident.
    IdConflict,
    /// The record carries an id other than its incident's.
    IdMismatch,
}

impl InconsistencyKind {
    /// The kind's name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            InconsistencyKind::Invalid => "invalid",
            InconsistencyKind::NotMigrated => "not_migrated",
            InconsistencyKind::MissingIncident => "missing_incident",
            InconsistencyKind::UnknownIncidentId => "unknown_incident_id",
            InconsistencyKind::IdConflict => "id_conflict",
            InconsistencyKind::IdMismatch => "id_mismatch",
        }
    }
}

impl std::fmt::Display for InconsistencyKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One inconsistency between the file and the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inconsistency {
    /// 0-based record index in the file.
    pub index: u64,
    pub kind: InconsistencyKind,
    pub message: String,
}

/// The result of `bridge check`.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BridgeCheck {
    pub records: u64,
    pub consistent: u64,
    pub problems: Vec<Inconsistency>,
    /// Problems beyond the first 1,000 are counted, not listed.
    pub problems_total: u64,
    /// Every problem (listed or not) by kind.
    pub kinds: BTreeMap<String, u64>,
}

/// Checks that every error of the file maps to an incident of the store and that every
/// `incident_id` written in the file exists.
pub fn bridge_check(manager: &IncidentManager, path: &Path) -> crate::Result<BridgeCheck> {
    Ok(manager
        .store()
        .contain(|| bridge_check_inner(manager, path))?)
}

fn bridge_check_inner(
    manager: &IncidentManager,
    path: &Path,
) -> Result<BridgeCheck, ReconcileError> {
    let snapshot = manager.store().snapshot()?;
    let fps = snapshot.fingerprints()?;
    let mut reader = open(path)?;
    let mut out = BridgeCheck::default();
    let push = |out: &mut BridgeCheck, index: u64, kind: InconsistencyKind, message: String| {
        out.problems_total += 1;
        *out.kinds.entry(kind.as_str().to_string()).or_insert(0) += 1;
        if out.problems.len() < 1000 {
            out.problems.push(Inconsistency {
                index,
                kind,
                message,
            });
        }
    };
    let mut index = 0u64;
    loop {
        let rec = match reader.read_record() {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(ReadError::Invalid(bad)) => {
                out.records += 1;
                push(
                    &mut out,
                    bad.index,
                    InconsistencyKind::Invalid,
                    bad.to_string(),
                );
                index = bad.index + 1;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        out.records += 1;
        let key = fingerprint_key(&rec);
        let mapped = fps.get(key)?;
        let mut ok = true;
        match mapped {
            None => {
                ok = false;
                push(
                    &mut out,
                    index,
                    InconsistencyKind::NotMigrated,
                    format!(
                        "record {index} ({} in {}, {}) has no incident in the store",
                        rec.error_type, rec.file, rec.timestamp
                    ),
                );
            }
            Some(k) if !snapshot.contains(k)? => {
                ok = false;
                push(
                    &mut out,
                    index,
                    InconsistencyKind::MissingIncident,
                    format!(
                        "record {index} was migrated to {}, which no longer exists",
                        IncidentId::from_key(k)
                    ),
                );
            }
            Some(_) => {}
        }
        if let Some(id) = rec.incident_id {
            if !snapshot.contains(id.key())? {
                ok = false;
                push(
                    &mut out,
                    index,
                    InconsistencyKind::UnknownIncidentId,
                    format!("record {index} names incident_id {id}, which is not in the store"),
                );
            } else if mapped == Some(id.key())
                && let Some(other) = linked_to_another_error(manager, id, &rec)?
            {
                ok = false;
                push(
                    &mut out,
                    index,
                    InconsistencyKind::IdConflict,
                    format!(
                        "record {index} ({} in {}, {}) is linked to {id} through its incident_id, \
                         but {id} was migrated from another error ({other})",
                        rec.error_type, rec.file, rec.timestamp
                    ),
                );
            } else if mapped.is_some_and(|k| k != id.key()) {
                ok = false;
                push(
                    &mut out,
                    index,
                    InconsistencyKind::IdMismatch,
                    format!(
                        "record {index} names {id} but was migrated to {}",
                        mapped
                            .map(IncidentId::from_key)
                            .map(|i| i.to_string())
                            .unwrap_or_default()
                    ),
                );
            }
        }
        if ok {
            out.consistent += 1;
        }
        index += 1;
    }
    Ok(out)
}

/// When `id` is an incident migrated from an error other than `rec` (which an older
/// build linked to it only because `rec` carried the id), that error, described.
fn linked_to_another_error(
    manager: &IncidentManager,
    id: IncidentId,
    rec: &crate::import::error_history::ErrorRecord<'_>,
) -> Result<Option<String>, ReconcileError> {
    let inc = manager.get(id).map_err(ReconcileError::from)?;
    if inc.origin != Origin::Migrated {
        return Ok(None);
    }
    let own = crate::import::error_history::to_incident(rec, id);
    if inc.created_at == own.created_at
        && inc.title == own.title
        && inc.description == own.description
    {
        return Ok(None);
    }
    Ok(Some(format!("{}, {}", inc.title, inc.created_at)))
}

/// Problems of a check grouped by kind, for a one-line summary.
pub fn problem_kinds(check: &BridgeCheck) -> BTreeMap<String, u64> {
    check.kinds.clone()
}
