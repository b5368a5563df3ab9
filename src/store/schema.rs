//! Every redb table of the store, in one place: the whole storage layout at a glance.
//!
//! Incident keys are `IncidentId::key()` (`date << 32 | seq`), so every table keyed or
//! suffixed by an incident id iterates in id order. Enum-valued index keys use the stable
//! one-byte codes of `Category`, `Priority` and `Status`.
//!
//! Invariant: a record and all of its index entries change in the same write transaction.

use std::cmp::Ordering;

use redb::{Key, TableDefinition, TypeName, Value};

/// The key of the index tables: two numbers, compared in order, stored as 16 big-endian
/// bytes. redb writes a key like this about a quarter faster than the equivalent tuple
/// (no per-key allocation, one byte comparison).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Pair {
    pub(crate) hi: u64,
    pub(crate) lo: u64,
}

impl Pair {
    /// (enum code or name id, incident key).
    pub(crate) fn new(hi: impl Into<u64>, lo: u64) -> Self {
        Pair { hi: hi.into(), lo }
    }

    /// (time in microseconds, `lo`): the sign bit is flipped so that times sort as numbers.
    pub(crate) fn time(micros: i64, lo: u64) -> Self {
        Pair {
            hi: (micros as u64) ^ (1 << 63),
            lo,
        }
    }

    /// The time of a pair made by [`Pair::time`].
    pub(crate) fn micros(self) -> i64 {
        (self.hi ^ (1 << 63)) as i64
    }

    /// Every pair whose first number is `hi`.
    pub(crate) fn all_of(hi: impl Into<u64>) -> std::ops::RangeInclusive<Pair> {
        let hi = hi.into();
        Pair { hi, lo: 0 }..=Pair { hi, lo: u64::MAX }
    }
}

impl Value for Pair {
    type SelfType<'a> = Pair;
    type AsBytes<'a> = [u8; 16];

    fn fixed_width() -> Option<usize> {
        Some(16)
    }

    fn from_bytes<'a>(data: &'a [u8]) -> Pair
    where
        Self: 'a,
    {
        let half = |b: &[u8]| u64::from_be_bytes(b.try_into().unwrap_or([0; 8]));
        Pair {
            hi: half(&data[..8]),
            lo: half(&data[8..16]),
        }
    }

    fn as_bytes<'a, 'b: 'a>(value: &'a Pair) -> [u8; 16]
    where
        Self: 'b,
    {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&value.hi.to_be_bytes());
        out[8..].copy_from_slice(&value.lo.to_be_bytes());
        out
    }

    fn type_name() -> TypeName {
        TypeName::new("incident::Pair")
    }
}

impl Key for Pair {
    /// Big-endian halves: byte order is numeric order.
    fn compare(data1: &[u8], data2: &[u8]) -> Ordering {
        data1.cmp(data2)
    }
}

/// `"schema_version"` -> layout version of this file (see `store::SCHEMA_VERSION`).
pub(crate) const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// incident key -> codec-encoded `Incident` (first byte: record format version).
pub(crate) const INCIDENTS: TableDefinition<u64, &[u8]> = TableDefinition::new("incidents");

/// incident key -> (created_at micros, status code, category code, priority code): lets
/// filters reject candidates without decoding the record.
pub(crate) const HEADS: TableDefinition<u64, (i64, u8, u8, u8)> = TableDefinition::new("heads");

/// (status code, incident key) -> ().
pub(crate) const BY_STATUS: TableDefinition<Pair, ()> = TableDefinition::new("by_status");

/// (category code, incident key) -> ().
pub(crate) const BY_CATEGORY: TableDefinition<Pair, ()> = TableDefinition::new("by_category");

/// (priority code, incident key) -> ().
pub(crate) const BY_PRIORITY: TableDefinition<Pair, ()> = TableDefinition::new("by_priority");

/// Component or assignee name -> its name id. Index keys carry the id: a fixed-width key
/// compares and stores far cheaper than the string. One id space for both kinds.
pub(crate) const NAMES: TableDefinition<&str, u32> = TableDefinition::new("names");

/// Name id -> name: the inverse of `NAMES`. New ids are one past the highest here.
pub(crate) const NAME_OF: TableDefinition<u32, &str> = TableDefinition::new("name_of");

/// (component name id, incident key) -> (); one entry per affected component.
pub(crate) const BY_COMPONENT: TableDefinition<Pair, ()> = TableDefinition::new("by_component");

/// (assignee name id, incident key) -> (); incidents without an assignee have no entry.
pub(crate) const BY_ASSIGNEE: TableDefinition<Pair, ()> = TableDefinition::new("by_assignee");

/// `Pair::time`(created_at micros, incident key) -> (): drives `--since`/`--until` queries.
pub(crate) const BY_CREATED: TableDefinition<Pair, ()> = TableDefinition::new("by_created");

/// `"<dimension>:<value>"` (e.g. `status:open`, `component:db`) -> number of index entries.
/// Used to pick the most selective index; always equal to the entry count of that key.
pub(crate) const INDEX_COUNTS: TableDefinition<&str, u64> = TableDefinition::new("index_counts");

/// local creation date `YYYYMMDD` -> highest sequence number handed out that day.
pub(crate) const DAY_COUNTERS: TableDefinition<u32, u32> = TableDefinition::new("day_counters");

/// `Pair::time`(error timestamp micros, first 64 bits of the record's xxh3-128 fingerprint)
/// -> incident key it became. Time first, so a migration in time order appends.
pub(crate) const FINGERPRINTS: TableDefinition<Pair, u64> = TableDefinition::new("fingerprints");

/// pattern id -> codec-encoded `Pattern` (template, name, statistics).
pub(crate) const PATTERNS: TableDefinition<&str, &[u8]> = TableDefinition::new("patterns");

/// (pattern id, incident key) -> (): incidents of a pattern.
pub(crate) const BY_PATTERN: TableDefinition<(&str, u64), ()> = TableDefinition::new("by_pattern");

/// incident key -> pattern id: the inverse of `BY_PATTERN` (one pattern per incident).
pub(crate) const INCIDENT_PATTERN: TableDefinition<u64, &str> =
    TableDefinition::new("incident_pattern");

// --- Notifications and escalation (schema version 5) ---------------------------------

/// event sequence number -> JSON `notify::OutboxEntry`: an event and, once routed, its
/// delivery state per notification target. Written in the transaction of the change that
/// caused the event; removed when every target has it. Sequence numbers come from
/// `META["outbox_seq"]` and are never reused (the event id is made from one).
pub(crate) const OUTBOX: TableDefinition<u64, &[u8]> = TableDefinition::new("outbox");

/// (incident key, escalation step such as `critical[0]` or `sla:response:breached`) -> when
/// it fired (µs): a step fires once per incident.
pub(crate) const ESCALATIONS: TableDefinition<(u64, &str), i64> =
    TableDefinition::new("escalations");

// --- Server access tokens (issue 13) ---------------------------------------------------
// Additive: a file without this table has no tokens; the first `token create` adds it.

/// SHA-256 of a token's secret -> (token name, role code, created_at micros). Names are
/// unique (checked on create); the secret itself is never stored.
pub(crate) const TOKENS: TableDefinition<&[u8], (&str, u8, i64)> = TableDefinition::new("tokens");
// --- end of server access tokens ----------------------------------------------------------

#[cfg(test)]
mod tests {
    use super::*;

    /// Stored pairs sort exactly as the tuples they stand for, negative times included.
    #[test]
    fn pairs_sort_like_tuples() {
        let times = [
            i64::MIN,
            -1_000_000,
            -1,
            0,
            1,
            1_736_000_000_000_000,
            i64::MAX,
        ];
        let los = [0u64, 1, 1 << 63, u64::MAX];
        let mut tuples: Vec<(i64, u64)> = times
            .iter()
            .flat_map(|t| los.iter().map(move |l| (*t, *l)))
            .collect();
        let mut bytes: Vec<[u8; 16]> = tuples
            .iter()
            .map(|(t, l)| Pair::as_bytes(&Pair::time(*t, *l)))
            .collect();
        tuples.sort_unstable();
        bytes.sort_unstable_by(|a, b| Pair::compare(a, b));
        let back: Vec<(i64, u64)> = bytes
            .iter()
            .map(|b| {
                let p = Pair::from_bytes(b);
                (p.micros(), p.lo)
            })
            .collect();
        assert_eq!(back, tuples);
        let codes = Pair::all_of(3u8);
        assert!(codes.contains(&Pair::new(3u8, u64::MAX)));
        assert!(!codes.contains(&Pair::new(4u8, 0)));
    }
}
