//! The library's one public error, [`Error`]: a kind to branch on ([`ErrorKind`]), the
//! context a user needs (incident id, record index, line, byte offset, file), and the
//! message. Every internal error of a layer (storage, import, migration, the knowledge
//! base, configuration) converts into it here and nowhere else. [`ParseError`] is the
//! error of parsing one value (`FromStr` of the model types).
//!
//! Messages say what failed and where; they never name a command of the binary (the
//! binary adds its hints).

use std::fmt;
use std::path::Path;

use crate::import::error_history::{Position, ReadError, RecordError};
use crate::import::{ImportError, MigrateError, MigrateSummary, ReconcileError};
use crate::kb::KbError;
use crate::metrics::ConfigError;
use crate::model::{IncidentId, Status};

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
pub(crate) enum StoreError {
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
    pub(crate) fn is_damage(&self) -> bool {
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
pub(crate) struct EngineError {
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

/// A file could not be written (or read): which operation, on which file, and why.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {path}: {source}")]
pub(crate) struct FileError {
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
}

/// What kind of failure an [`Error`] is, for callers that branch on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// No incident has the id ([`Error::incident_id`]).
    NotFound,
    /// The incident's state does not allow the operation ([`Error::status`]).
    Refused,
    /// A value the caller gave is invalid (empty, over a limit, inconsistent).
    InvalidInput,
    /// A value could not be parsed (a time, an id, an enum name).
    Parse,
    /// An input file is malformed, or one of its records is invalid
    /// ([`Error::record_index`], [`Error::line`], [`Error::offset`]).
    InvalidData,
    /// The database is in use by another process.
    Busy,
    /// The database or a record in it was written by a newer version.
    NewerVersion,
    /// The file is not an incident database.
    NotADatabase,
    /// The database file is damaged.
    Damaged,
    /// The database engine failed (not on damage).
    Database,
    /// Reading or writing a file or stream failed.
    Io,
    /// A directory that must exist does not (the knowledge-base directory).
    MissingDirectory,
    /// A configuration file is unreadable or invalid.
    Config,
}

/// The error of every fallible operation of the library.
///
/// Its message says what failed and where; [`Error::kind`] says what kind of failure it
/// is, and the accessors give the context: [`Error::incident_id`],
/// [`Error::record_index`], [`Error::line`], [`Error::offset`], [`Error::path`].
pub struct Error(Box<Repr>);

/// Result alias for library operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Every internal error, as it was raised.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Repr {
    #[error("incident {0} not found")]
    NotFound(IncidentId),
    #[error("cannot {action} {id}: {reason}")]
    Refused {
        id: IncidentId,
        status: Status,
        action: &'static str,
        reason: String,
    },
    #[error("invalid {field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot write output: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    File(#[from] FileError),
    #[error(transparent)]
    Import(ImportError),
    #[error(transparent)]
    Migrate(MigrateError),
    #[error(transparent)]
    Reconcile(ReconcileError),
    #[error(transparent)]
    Read(#[from] ReadError),
    #[error(transparent)]
    Kb(#[from] KbError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    pub(crate) fn not_found(id: IncidentId) -> Self {
        Repr::NotFound(id).into()
    }

    pub(crate) fn listen(addr: String, source: std::io::Error) -> Self {
        Repr::Listen { addr, source }.into()
    }

    /// For an invalid value, which field (or argument) it was.
    pub fn field(&self) -> Option<&'static str> {
        match &*self.0 {
            Repr::Invalid { field, .. } => Some(field),
            _ => None,
        }
    }

    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Repr::Invalid {
            field,
            reason: reason.into(),
        }
        .into()
    }

    /// `action` on incident `id`, which is `status`, is not allowed: `reason`.
    pub(crate) fn refused(
        id: IncidentId,
        status: Status,
        action: &'static str,
        reason: impl Into<String>,
    ) -> Self {
        Repr::Refused {
            id,
            status,
            action,
            reason: reason.into(),
        }
        .into()
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        use ErrorKind as K;
        match &*self.0 {
            Repr::NotFound(_) => K::NotFound,
            Repr::Refused { .. } => K::Refused,
            Repr::Invalid { .. } => K::InvalidInput,
            Repr::Parse(_) => K::Parse,
            Repr::Store(e) => store_kind(e),
            Repr::Io(_) | Repr::File(_) | Repr::Listen { .. } => K::Io,
            Repr::Import(e) => match e {
                ImportError::Io(_) => K::Io,
                _ => K::InvalidData,
            },
            Repr::Migrate(e) => match e {
                MigrateError::Input { source, .. } => read_kind(source),
                _ => K::Io,
            },
            Repr::Reconcile(e) => match e {
                ReconcileError::Open { .. } => K::Io,
                ReconcileError::Read(e) => read_kind(e),
                ReconcileError::Store(e) => e.kind(),
            },
            Repr::Read(e) => read_kind(e),
            Repr::Kb(e) => match e {
                KbError::NoDir { .. } => K::MissingDirectory,
                KbError::NotUtf8 { .. } => K::InvalidData,
                _ => K::Io,
            },
            Repr::Config(_) => K::Config,
        }
    }

    /// The incident the error is about, if one.
    pub fn incident_id(&self) -> Option<IncidentId> {
        match &*self.0 {
            Repr::NotFound(id) | Repr::Refused { id, .. } => Some(*id),
            Repr::Import(ImportError::Entry { id, .. }) => id.as_deref()?.parse().ok(),
            _ => None,
        }
    }

    /// For a refused operation, the status the incident was in.
    pub fn status(&self) -> Option<Status> {
        match &*self.0 {
            Repr::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The 0-based index of the input record the error is about.
    pub fn record_index(&self) -> Option<u64> {
        match &*self.0 {
            Repr::Import(ImportError::Entry { index, .. }) => Some(*index as u64),
            _ => self.record().map(|r| r.index),
        }
    }

    /// The 1-based line of the input the error is at.
    pub fn line(&self) -> Option<u64> {
        match &*self.0 {
            Repr::Import(ImportError::Json { line, .. }) => Some(*line as u64),
            _ => self.position().map(|p| p.line),
        }
    }

    /// The byte offset in the input the error is at.
    pub fn offset(&self) -> Option<u64> {
        self.position().map(|p| p.offset)
    }

    /// The file the error is about: the database, an input, an output, a directory.
    pub fn path(&self) -> Option<&Path> {
        let s: &str = match &*self.0 {
            Repr::Store(
                StoreError::Busy { path, .. }
                | StoreError::NewerSchema { path, .. }
                | StoreError::Open { path, .. }
                | StoreError::NotIncidentDb { path, .. }
                | StoreError::Damaged { path, .. },
            ) => path,
            Repr::File(e) => &e.path,
            Repr::Migrate(MigrateError::Open { path, .. } | MigrateError::Rejects { path, .. })
            | Repr::Reconcile(ReconcileError::Open { path, .. }) => path,
            Repr::Kb(e) => {
                return Some(match e {
                    KbError::Read { path, .. }
                    | KbError::Write { path, .. }
                    | KbError::NotUtf8 { path, .. } => path,
                    KbError::NoDir { dir, .. } => dir,
                });
            }
            Repr::Config(e) => e.path(),
            _ => return None,
        };
        Some(Path::new(s))
    }

    /// For a migration stopped by a bad input, what it had done before: everything up to
    /// the record named in the error is stored.
    pub fn migration_so_far(&self) -> Option<&MigrateSummary> {
        match &*self.0 {
            Repr::Migrate(MigrateError::Input { summary, .. }) => Some(summary),
            _ => None,
        }
    }

    /// Whether this error, or an error of the library it wraps, comes from a damaged
    /// database file.
    pub fn is_damage(&self) -> bool {
        matches!(&*self.0, Repr::Store(e) if e.is_damage())
    }

    /// Whether this error comes from the database (so a message that names no file is
    /// about the database file).
    pub fn is_database(&self) -> bool {
        matches!(&*self.0, Repr::Store(_))
    }

    fn read(&self) -> Option<&ReadError> {
        match &*self.0 {
            Repr::Read(e)
            | Repr::Migrate(MigrateError::Input { source: e, .. })
            | Repr::Reconcile(ReconcileError::Read(e)) => Some(e),
            _ => None,
        }
    }

    fn record(&self) -> Option<&RecordError> {
        match self.read()? {
            ReadError::Invalid(r) => Some(r),
            _ => None,
        }
    }

    fn position(&self) -> Option<Position> {
        match self.read()? {
            ReadError::Invalid(r) => Some(r.at),
            ReadError::Malformed { at, .. } | ReadError::TooLarge { at, .. } => Some(*at),
            _ => None,
        }
    }
}

fn store_kind(e: &StoreError) -> ErrorKind {
    match e {
        StoreError::Busy { .. } => ErrorKind::Busy,
        StoreError::NewerSchema { .. } | StoreError::NewerRecord { .. } => ErrorKind::NewerVersion,
        StoreError::NotIncidentDb { .. } => ErrorKind::NotADatabase,
        e if e.is_damage() => ErrorKind::Damaged,
        _ => ErrorKind::Database,
    }
}

fn read_kind(e: &ReadError) -> ErrorKind {
    match e {
        ReadError::Io { .. } | ReadError::File(_) | ReadError::Output(_) => ErrorKind::Io,
        _ => ErrorKind::InvalidData,
    }
}

impl<T: Into<Repr>> From<T> for Error {
    fn from(e: T) -> Self {
        Error(Box::new(e.into()))
    }
}

// Layer errors that carry a library error (a store failure during an import) give it
// back unwrapped, so its kind and context stay those of the store.
impl From<ImportError> for Repr {
    fn from(e: ImportError) -> Self {
        match e {
            ImportError::Store(e) => *e.0,
            e => Repr::Import(e),
        }
    }
}

impl From<MigrateError> for Repr {
    fn from(e: MigrateError) -> Self {
        match e {
            MigrateError::Store(e) => *e.0,
            e => Repr::Migrate(e),
        }
    }
}

impl From<ReconcileError> for Repr {
    fn from(e: ReconcileError) -> Self {
        match e {
            ReconcileError::Store(e) => *e.0,
            e => Repr::Reconcile(e),
        }
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&*self.0)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::import::error_history::ErrorReader;
    use crate::{Category, IncidentManager, NewIncident, Priority};

    #[test]
    fn kinds_and_context_name_what_and_where() {
        let dir = tempfile::tempdir().unwrap();
        let m = IncidentManager::open(dir.path().join("db.redb")).unwrap();
        let missing: IncidentId = "INC-20250101-0001".parse().unwrap();
        let e = m.get(missing).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
        assert_eq!(e.incident_id(), Some(missing));

        let inc = m
            .create_incident(NewIncident {
                category: Category::Error,
                priority: Priority::Low,
                title: "t".into(),
                description: String::new(),
                components: vec!["c".into()],
                impact: String::new(),
                assignee: None,
                at: None,
                by: None,
            })
            .unwrap();
        let e = m.close_incident(inc.id, None).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Refused);
        assert_eq!(
            (e.incident_id(), e.status()),
            (Some(inc.id), Some(Status::Open))
        );
        assert!(!e.to_string().contains("`incident"), "{e}");

        let lines = "{\"timestamp\": \"2025-01-01T00:00:00Z\", \"error_type\": \"E\", \"file\": \"f\", \"error_message\": \"m\"}\n{\"timestamp\": 1}\n";
        let mut reader = ErrorReader::new(lines.as_bytes());
        assert!(reader.next_record().unwrap().is_some());
        let e = reader.next_record().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert_eq!((e.record_index(), e.line()), (Some(1), Some(2)));

        let e = crate::import::read_history("{\"incidents\": [".as_bytes()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidData);
        assert_eq!(e.line(), Some(1));

        let kb = dir.path().join("no-kb");
        let e = crate::kb::load(&kb)
            .and_then(|_| {
                crate::kb::run(
                    &kb,
                    &[],
                    &Default::default(),
                    &Default::default(),
                    &Default::default(),
                    false,
                )
            })
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingDirectory);
        assert_eq!(e.path(), Some(kb.as_path()));
        assert!(!e.is_database());

        let e = IncidentManager::open(Path::new("/nonexistent-dir/x/db.redb")).unwrap_err();
        assert!(e.is_database(), "{e}");
    }
}
