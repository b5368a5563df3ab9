//! The ops team's `error_history.json`: a streaming reader with positions, the mapping of
//! an error to an incident, write-back of incident ids, statistics, and a generator of
//! realistic histories for tests and benchmarks.

mod generate;
mod mapping;
mod raw;
mod reader;
mod scan;
mod stats;
mod writeback;

pub use generate::{GenerateOptions, generate, generate_with};
pub(crate) use mapping::fingerprint_key;
pub use mapping::{ErrorRecord, fingerprint, parse_paths, priority_for, to_incident};
pub use raw::{Position, Shape};
pub(crate) use raw::{ReadError, RecordError};
pub use reader::ErrorReader;
pub use stats::{ErrorStats, ErrorStatsBuilder, PatternStat, TypeCount};
pub use writeback::{WriteBackSummary, write_back};
