//! Every redb table of the store, in one place: the whole storage layout at a glance.
//!
//! Incident keys are `IncidentId::key()` (`date << 32 | seq`), so every table keyed or
//! suffixed by an incident id iterates in id order. Enum-valued index keys use the stable
//! one-byte codes of `Category`, `Priority` and `Status`.
//!
//! Invariant: a record and all of its index entries change in the same write transaction.

use redb::TableDefinition;

/// `"schema_version"` -> layout version of this file (see `store::SCHEMA_VERSION`).
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// incident key -> codec-encoded `Incident` (first byte: record format version).
pub(crate) const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("incidents");

/// incident key -> (created_at micros, status code, category code, priority code): lets
/// filters reject candidates without decoding the record.
pub(crate) const HEADS: TableDefinition<u64, (i64, u8, u8, u8)> = TableDefinition::new("heads");

/// (status code, incident key) -> ().
pub(crate) const BY_STATUS: TableDefinition<(u8, u64), ()> = TableDefinition::new("by_status");

/// (category code, incident key) -> ().
pub(crate) const BY_CATEGORY: TableDefinition<(u8, u64), ()> = TableDefinition::new("by_category");

/// (priority code, incident key) -> ().
pub(crate) const BY_PRIORITY: TableDefinition<(u8, u64), ()> = TableDefinition::new("by_priority");

/// Component or assignee name -> its name id. Index keys carry the id: a fixed-width key
/// compares and stores far cheaper than the string. One id space for both kinds.
pub(crate) const NAMES: TableDefinition<&str, u32> = TableDefinition::new("names");

/// Name id -> name: the inverse of `NAMES`. New ids are one past the highest here.
pub(crate) const NAME_OF: TableDefinition<u32, &str> = TableDefinition::new("name_of");

/// (component name id, incident key) -> (); one entry per affected component.
pub(crate) const BY_COMPONENT: TableDefinition<(u32, u64), ()> =
    TableDefinition::new("by_component");

/// (assignee name id, incident key) -> (); incidents without an assignee have no entry.
pub(crate) const BY_ASSIGNEE: TableDefinition<(u32, u64), ()> = TableDefinition::new("by_assignee");

/// (created_at micros, incident key) -> (): drives `--since`/`--until` queries.
pub(crate) const BY_CREATED: TableDefinition<(i64, u64), ()> = TableDefinition::new("by_created");

/// `"<dimension>:<value>"` (e.g. `status:open`, `component:db`) -> number of index entries.
/// Used to pick the most selective index; always equal to the entry count of that key.
pub(crate) const INDEX_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("index_counts");

/// local creation date `YYYYMMDD` -> highest sequence number handed out that day.
pub(crate) const DAY_COUNTERS: TableDefinition<u32, u32> = TableDefinition::new("day_counters");

/// (error timestamp micros, first 64 bits of the record's xxh3-128 fingerprint) -> incident
/// key it became. Time first, so a migration in time order appends.
pub(crate) const FINGERPRINTS: TableDefinition<(i64, u64), u64> =
    TableDefinition::new("fingerprints");

/// pattern id -> codec-encoded `Pattern` (template, name, statistics).
pub(crate) const PATTERNS: TableDefinition<&str, &[u8]> = TableDefinition::new("patterns");

/// (pattern id, incident key) -> (): incidents of a pattern.
pub(crate) const BY_PATTERN: TableDefinition<(&str, u64), ()> = TableDefinition::new("by_pattern");

/// incident key -> pattern id: the inverse of `BY_PATTERN` (one pattern per incident).
pub(crate) const INCIDENT_PATTERN: TableDefinition<u64, &str> =
    TableDefinition::new("incident_pattern");
