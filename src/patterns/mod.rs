//! Patterns in incidents: mining templates from text ([`miner`]), analysing the store
//! into stored patterns with recommendations, matching a new incident against them, and
//! the readable names and grouped causes the knowledge base also uses.

mod analyze;
pub(crate) mod causes;
pub(crate) mod matching;
pub mod miner;
pub(crate) mod naming;
mod recommend;

pub use analyze::{Analysis, AnalyzeOptions, analyze};
pub use matching::{PatternMatch, incident_text};
pub use naming::pattern_name;
pub use recommend::Recommendation;
