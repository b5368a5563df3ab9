//! `incident`: an embedded incident-management store on redb.

mod error;
mod model;

pub use error::{Error, ParseError, Result, StoreError};
pub use model::{
    Category, Incident, IncidentId, PatternRef, Priority, Resolution, Status, TimelineEntry,
    Timestamp,
};
