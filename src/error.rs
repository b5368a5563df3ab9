//! Error types, one per layer: values, storage, and incident operations.

use crate::model::IncidentId;

/// A value a user typed or a file held could not be understood.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    #[error("invalid time {0:?}: expected RFC 3339 such as 2025-07-09T13:20:00+09:00")]
    Time(String),
    #[error("unknown {what} {value:?} (expected one of: {expected})")]
    Value {
        what: &'static str,
        value: String,
        expected: String,
    },
    #[error("invalid incident id {0:?}: expected INC-YYYYMMDD-NNNN")]
    Id(String),
    #[error("time {0:?} is outside the years 0001 to 9999")]
    TimeRange(String),
    #[error("incident id {0:?} has a sequence number above 999999, the highest accepted")]
    IdSeq(String),
}

/// The storage layer failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("database {path} is in use by another process (waited {waited_ms} ms)")]
    Busy { path: String, waited_ms: u64 },
    #[error(
        "database {path} was written by a newer version of incident (schema {found}, this build reads up to {supported}); upgrade incident to open it"
    )]
    NewerSchema {
        path: String,
        found: u64,
        supported: u64,
    },
    #[error("record {key} cannot be decoded: {reason}")]
    Corrupt { key: String, reason: String },
    #[error(
        "record {key} has format version {found}, newer than this build reads ({supported}); upgrade incident"
    )]
    NewerRecord {
        key: String,
        found: u8,
        supported: u8,
    },
    #[error("cannot open database {path}: {source}")]
    Open {
        path: String,
        #[source]
        source: EngineError,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("per-day counter for {date} is exhausted")]
    CounterExhausted { date: u32 },
    #[error("{path} is not an incident database: {reason}")]
    NotIncidentDb { path: String, reason: String },
    /// The database engine failed on a damaged page (it panics on some), contained.
    #[error("database {path} is damaged: {reason}")]
    Damaged { path: String, reason: String },
}

impl StoreError {
    /// Whether the file's content is damaged (as opposed to busy, newer or unwritable).
    pub fn is_damage(&self) -> bool {
        match self {
            StoreError::Damaged { .. } | StoreError::Corrupt { .. } => true,
            StoreError::Engine(e) | StoreError::Open { source: e, .. } => e.damaged,
            _ => false,
        }
    }
}

/// A failure of the database engine, opaque so that no caller depends on which engine
/// the store uses. Shows (and chains to) what the engine said.
#[derive(Debug)]
pub struct EngineError {
    source: Box<dyn std::error::Error + Send + Sync>,
    damaged: bool,
}

impl EngineError {
    pub(crate) fn new(source: Box<dyn std::error::Error + Send + Sync>, damaged: bool) -> Self {
        EngineError { source, damaged }
    }
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source.fmt(f)
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source.source()
    }
}

impl Error {
    /// Whether this error comes from a damaged database file.
    pub fn is_damage(&self) -> bool {
        matches!(self, Error::Store(s) if s.is_damage())
    }
}

/// A file could not be written (or read): which operation, on which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {path}: {source}")]
pub struct FileError {
    op: &'static str,
    path: String,
    #[source]
    source: std::io::Error,
}

impl FileError {
    pub(crate) fn new(op: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        FileError {
            op,
            path: path.display().to_string(),
            source,
        }
    }

    /// The underlying I/O error.
    pub fn io(&self) -> &std::io::Error {
        &self.source
    }
}

/// An operation on incidents was refused or failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    #[error("incident {0} not found")]
    NotFound(IncidentId),
    #[error("cannot {action} {id}: {reason}")]
    Refused {
        id: IncidentId,
        action: &'static str,
        reason: String,
    },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("incident {0} already exists")]
    Exists(IncidentId),
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    File(#[from] FileError),
}

/// Result alias for incident operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Whether `e`, or an error it wraps, comes from a damaged database file.
pub fn is_damage(e: &(dyn std::error::Error + 'static)) -> bool {
    find_store_error(e, &StoreError::is_damage)
}

/// Whether `e`, or an error it wraps, comes from the database (so a message that names
/// no file is about the database file).
pub fn is_store_error(e: &(dyn std::error::Error + 'static)) -> bool {
    find_store_error(e, &|_| true)
}

fn find_store_error(
    e: &(dyn std::error::Error + 'static),
    pred: &dyn Fn(&StoreError) -> bool,
) -> bool {
    let of = |e: &Error| matches!(e, Error::Store(s) if pred(s));
    let mut cur = Some(e);
    while let Some(e) = cur {
        let hit = if let Some(e) = e.downcast_ref::<Error>() {
            of(e)
        } else if let Some(e) = e.downcast_ref::<StoreError>() {
            pred(e)
        } else if let Some(crate::import::ImportError::Store(e)) = e.downcast_ref() {
            of(e)
        } else if let Some(crate::import::MigrateError::Store(e)) = e.downcast_ref() {
            of(e)
        } else if let Some(crate::import::BridgeError::Store(e)) = e.downcast_ref() {
            of(e)
        } else {
            false
        };
        if hit {
            return true;
        }
        cur = e.source();
    }
    false
}
