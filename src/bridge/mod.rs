//! The bridge from the ops team's `error_history.json` to incidents: a streaming
//! reader, the mapping to incidents, write-back of incident ids, statistics, and
//! a generator of realistic histories for tests and benchmarks.

mod generate;
mod reader;
mod record;
mod scan;
mod stats;
mod writeback;

pub use generate::{GenerateOptions, generate, generate_with};
pub use reader::{
    ErrorReader, Position, RawBatch, RawRecord, ReadError, RecordError, RecordProblem, Shape,
};
pub use record::{
    ErrorRecord, MIGRATED_ASSIGNEE, MIGRATED_IMPACT, fingerprint, parse_paths, priority_for,
    to_incident,
};
pub(crate) use record::{
    MIGRATED_WITH_PATTERN, MIGRATED_WITHOUT_PATTERN, fingerprint_key, migrated_creation,
};
pub use stats::{ErrorStats, ErrorStatsBuilder, PatternStat, TypeCount};
pub use writeback::{WriteBackSummary, write_back};
