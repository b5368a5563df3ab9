//! Reads: a snapshot of the store (get, scan, query, patterns, fingerprints) and the
//! index-driven query planner.

use redb::{ReadOnlyTable, ReadTransaction, ReadableTable, ReadableTableMetadata};

use super::codec;
use super::schema::*;
use super::{
    RedbStore, count_key_assignee, count_key_category, count_key_component, count_key_pattern,
    count_key_priority, count_key_status, decode_incident,
};
use crate::error::StoreError;
use crate::model::Pattern;
use crate::model::{Category, Incident, IncidentId, Origin, Priority, Status, Timestamp};

/// Order of query results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Highest id first (the default).
    #[default]
    NewestFirst,
    /// Lowest id first.
    OldestFirst,
}

/// What to select. Values within one field are alternatives (OR); fields combine with AND.
/// An empty field does not filter.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    pub statuses: Vec<Status>,
    pub categories: Vec<Category>,
    pub priorities: Vec<Priority>,
    pub components: Vec<String>,
    pub assignees: Vec<String>,
    pub patterns: Vec<String>,
    /// Where incidents came from. Not indexed: applied to the records the other fields
    /// select, which are read in order until `limit` of them match.
    pub origins: Vec<Origin>,
    /// created_at at or after.
    pub since: Option<Timestamp>,
    /// created_at strictly before.
    pub until: Option<Timestamp>,
    pub limit: Option<usize>,
    pub order: Order,
    /// A page cursor: only incidents past this id in `order` (the last id of the
    /// previous page).
    pub after: Option<IncidentId>,
}

impl Filter {
    fn head_matches(&self, head: (i64, u8, u8, u8)) -> bool {
        let (created, s, c, p) = head;
        (self.statuses.is_empty() || self.statuses.iter().any(|x| x.code() == s))
            && (self.categories.is_empty() || self.categories.iter().any(|x| x.code() == c))
            && (self.priorities.is_empty() || self.priorities.iter().any(|x| x.code() == p))
            && self.since.is_none_or(|t| created >= t.micros())
            && self.until.is_none_or(|t| created < t.micros())
    }
}

/// The incident keys a query may still return: those past `after` in its order.
fn key_range(f: &Filter) -> (u64, u64) {
    match (f.after.map(IncidentId::key), f.order) {
        (None, _) => (0, u64::MAX),
        (Some(a), Order::NewestFirst) => match a.checked_sub(1) {
            Some(hi) => (0, hi),
            None => (1, 0),
        },
        (Some(a), Order::OldestFirst) => match a.checked_add(1) {
            Some(lo) => (lo, u64::MAX),
            None => (1, 0),
        },
    }
}

/// Index entries of `hi` whose incident key is within `keys` (`keys.0 <= keys.1`).
fn pairs_within(hi: impl Into<u64>, keys: (u64, u64)) -> std::ops::RangeInclusive<Pair> {
    if keys == (0, u64::MAX) {
        return Pair::all_of(hi);
    }
    let hi = hi.into();
    Pair::new(hi, keys.0)..=Pair::new(hi, keys.1)
}

/// Which index drives a query, with its estimated number of entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Driver {
    Status,
    Category,
    Priority,
    Component,
    Assignee,
    Pattern,
    Created,
    All,
}

/// Runs a query inside a read transaction. Returns matching keys in the requested order.
fn query_keys(txn: &ReadTransaction, f: &Filter) -> Result<Vec<u64>, StoreError> {
    let keys = key_range(f);
    if f.limit == Some(0) || keys.0 > keys.1 {
        return Ok(Vec::new());
    }
    let counts = txn.open_table(INDEX_COUNTS)?;
    let sum = |keys: Vec<String>| -> Result<u64, StoreError> {
        let mut total = 0;
        for k in keys {
            total += counts.get(k.as_str())?.map(|v| v.value()).unwrap_or(0);
        }
        Ok(total)
    };
    let filtered: [(Vec<String>, Driver); 6] = [
        (
            f.statuses.iter().map(|s| count_key_status(*s)).collect(),
            Driver::Status,
        ),
        (
            f.categories
                .iter()
                .map(|c| count_key_category(*c))
                .collect(),
            Driver::Category,
        ),
        (
            f.priorities
                .iter()
                .map(|p| count_key_priority(*p))
                .collect(),
            Driver::Priority,
        ),
        (
            f.components
                .iter()
                .map(|c| count_key_component(c))
                .collect(),
            Driver::Component,
        ),
        (
            f.assignees.iter().map(|a| count_key_assignee(a)).collect(),
            Driver::Assignee,
        ),
        (
            f.patterns.iter().map(|p| count_key_pattern(p)).collect(),
            Driver::Pattern,
        ),
    ];
    let mut candidates: Vec<(u64, Driver)> = Vec::new();
    for (keys, driver) in filtered {
        if !keys.is_empty() {
            candidates.push((sum(keys)?, driver));
        }
    }
    let driver = match candidates.iter().min_by_key(|(n, _)| *n) {
        Some((_, d)) => *d,
        None if f.since.is_some() || f.until.is_some() => Driver::Created,
        None => Driver::All,
    };

    let heads = txn.open_table(HEADS)?;
    let by_component = txn.open_table(BY_COMPONENT)?;
    let by_assignee = txn.open_table(BY_ASSIGNEE)?;
    let by_pattern = txn.open_table(BY_PATTERN)?;
    // Names never indexed match nothing.
    let name_ids = txn.open_table(NAMES)?;
    let ids = |names: &[String]| -> Result<Vec<u32>, StoreError> {
        let mut out = Vec::new();
        for n in names {
            out.extend(name_ids.get(n.as_str())?.map(|v| v.value()));
        }
        Ok(out)
    };
    let (component_ids, assignee_ids) = (ids(&f.components)?, ids(&f.assignees)?);
    let limit = f.limit.unwrap_or(usize::MAX);
    let newest = f.order == Order::NewestFirst;
    let mut out = Vec::new();

    let accept = |key: u64| -> Result<bool, StoreError> {
        if key < keys.0 || key > keys.1 {
            return Ok(false);
        }
        let Some(head) = heads.get(key)? else {
            return Ok(false);
        };
        if !f.head_matches(head.value()) {
            return Ok(false);
        }
        let in_str_index = |t: &redb::ReadOnlyTable<(&str, u64), ()>,
                            vals: &[String]|
         -> Result<bool, StoreError> {
            for v in vals {
                if t.get((v.as_str(), key))?.is_some() {
                    return Ok(true);
                }
            }
            Ok(false)
        };
        let in_name_index =
            |t: &redb::ReadOnlyTable<Pair, ()>, ids: &[u32]| -> Result<bool, StoreError> {
                for n in ids {
                    if t.get(Pair::new(*n, key))?.is_some() {
                        return Ok(true);
                    }
                }
                Ok(false)
            };
        if driver != Driver::Component
            && !f.components.is_empty()
            && !in_name_index(&by_component, &component_ids)?
        {
            return Ok(false);
        }
        if driver != Driver::Assignee
            && !f.assignees.is_empty()
            && !in_name_index(&by_assignee, &assignee_ids)?
        {
            return Ok(false);
        }
        if driver != Driver::Pattern
            && !f.patterns.is_empty()
            && !in_str_index(&by_pattern, &f.patterns)?
        {
            return Ok(false);
        }
        Ok(true)
    };

    match driver {
        Driver::All => {
            let mut it = heads.range::<u64>(keys.0..=keys.1)?;
            loop {
                let next = if newest { it.next_back() } else { it.next() };
                let Some(entry) = next else { break };
                let (k, h) = entry?;
                let key = k.value();
                let _ = h;
                if accept(key)? {
                    out.push(key);
                    if out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Driver::Created => {
            let lo = f.since.map(|t| t.micros()).unwrap_or(i64::MIN);
            let hi = f.until.map(|t| t.micros()).unwrap_or(i64::MAX);
            let t = txn.open_table(BY_CREATED)?;
            let mut keys = Vec::new();
            for entry in t.range(Pair::time(lo, 0)..Pair::time(hi, 0))? {
                let (k, _) = entry?;
                let key = k.value().lo;
                if accept(key)? {
                    keys.push(key);
                }
            }
            keys.sort_unstable();
            if newest {
                keys.reverse();
            }
            keys.truncate(limit);
            out = keys;
        }
        Driver::Status | Driver::Category | Driver::Priority => {
            let (table, codes): (_, Vec<u8>) = match driver {
                Driver::Status => (BY_STATUS, f.statuses.iter().map(|s| s.code()).collect()),
                Driver::Category => (BY_CATEGORY, f.categories.iter().map(|s| s.code()).collect()),
                _ => (BY_PRIORITY, f.priorities.iter().map(|s| s.code()).collect()),
            };
            let t = txn.open_table(table)?;
            let mut streams = Vec::new();
            for c in codes {
                streams.push(t.range(pairs_within(c, keys))?);
            }
            merge_streams(
                streams,
                newest,
                |k: Pair| k.lo,
                |key| {
                    if accept(key)? {
                        out.push(key);
                    }
                    Ok(out.len() < limit)
                },
            )?;
        }
        Driver::Component | Driver::Assignee => {
            let (table, ids) = match driver {
                Driver::Component => (&by_component, &component_ids),
                _ => (&by_assignee, &assignee_ids),
            };
            let mut streams = Vec::new();
            for n in ids {
                streams.push(table.range(pairs_within(*n, keys))?);
            }
            merge_streams(
                streams,
                newest,
                |k: Pair| k.lo,
                |key| {
                    if accept(key)? {
                        out.push(key);
                    }
                    Ok(out.len() < limit)
                },
            )?;
        }
        Driver::Pattern => {
            let mut streams = Vec::new();
            for v in &f.patterns {
                streams.push(by_pattern.range((v.as_str(), keys.0)..=(v.as_str(), keys.1))?);
            }
            merge_streams(
                streams,
                newest,
                |k: (&str, u64)| k.1,
                |key| {
                    if accept(key)? {
                        out.push(key);
                    }
                    Ok(out.len() < limit)
                },
            )?;
        }
    }
    Ok(out)
}

/// Merges index ranges (each sorted by incident key) into one stream in key order,
/// calling `visit` until it returns false. Duplicate keys across streams are visited once.
fn merge_streams<K: redb::Key + 'static>(
    mut streams: Vec<redb::Range<'static, K, ()>>,
    newest: bool,
    key_of: impl Fn(K::SelfType<'_>) -> u64,
    mut visit: impl FnMut(u64) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut heads: Vec<Option<u64>> = Vec::with_capacity(streams.len());
    let pull = |s: &mut redb::Range<'static, K, ()>| -> Result<Option<u64>, StoreError> {
        let next = if newest { s.next_back() } else { s.next() };
        match next {
            Some(e) => {
                let (k, _) = e?;
                Ok(Some(key_of(k.value())))
            }
            None => Ok(None),
        }
    };
    for s in streams.iter_mut() {
        heads.push(pull(s)?);
    }
    let mut last: Option<u64> = None;
    loop {
        let pick = heads
            .iter()
            .enumerate()
            .filter_map(|(i, h)| h.map(|k| (i, k)))
            .reduce(|a, b| {
                if (newest && b.1 > a.1) || (!newest && b.1 < a.1) {
                    b
                } else {
                    a
                }
            });
        let Some((i, key)) = pick else { break };
        heads[i] = pull(&mut streams[i])?;
        if last == Some(key) {
            continue;
        }
        last = Some(key);
        if !visit(key)? {
            break;
        }
    }
    Ok(())
}

/// A consistent read view: every read through one snapshot sees the same commit.
pub(crate) struct RedbSnapshot {
    pub(super) txn: ReadTransaction,
    incidents: ReadOnlyTable<u64, &'static [u8]>,
    pub(super) heads: ReadOnlyTable<u64, (i64, u8, u8, u8)>,
}

impl RedbStore {
    /// A read view of the store as last committed.
    pub(crate) fn snapshot(&self) -> Result<RedbSnapshot, StoreError> {
        let txn = self.begin_read()?;
        Ok(RedbSnapshot {
            incidents: txn.open_table(INCIDENTS)?,
            heads: txn.open_table(HEADS)?,
            txn,
        })
    }
}

impl RedbSnapshot {
    /// One incident by its key.
    pub(crate) fn get_key(&self, key: u64) -> Result<Option<Incident>, StoreError> {
        match self.incidents.get(key)? {
            Some(v) => Ok(Some(decode_incident(key, v.value())?)),
            None => Ok(None),
        }
    }

    /// Whether an incident is stored under `key`, without decoding it.
    pub(crate) fn contains(&self, key: u64) -> Result<bool, StoreError> {
        Ok(self.heads.get(key)?.is_some())
    }

    /// Number of incidents.
    pub(crate) fn count(&self) -> Result<u64, StoreError> {
        Ok(self.incidents.len()?)
    }

    /// Incidents matching `filter`, in its order. Only records that the indexed fields
    /// select are decoded.
    pub(crate) fn query(&self, filter: &Filter) -> Result<Vec<Incident>, StoreError> {
        let by_origin = !filter.origins.is_empty();
        let keys = if by_origin {
            query_keys(
                &self.txn,
                &Filter {
                    limit: None,
                    ..filter.clone()
                },
            )?
        } else {
            query_keys(&self.txn, filter)?
        };
        let limit = filter.limit.unwrap_or(usize::MAX);
        let mut out = Vec::with_capacity(keys.len().min(limit));
        for key in keys {
            if out.len() >= limit {
                break;
            }
            if let Some(inc) = self.get_key(key)?
                && (!by_origin || filter.origins.contains(&inc.origin))
            {
                out.push(inc);
            }
        }
        Ok(out)
    }

    /// Calls `f` for every incident in id order; a record that cannot be decoded is
    /// passed as its error, so a caller may skip it.
    pub(crate) fn scan<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(Result<Incident, StoreError>) -> Result<(), E>,
    ) -> Result<(), E> {
        for entry in self.incidents.range::<u64>(..).map_err(StoreError::from)? {
            let (k, v) = entry.map_err(StoreError::from)?;
            f(decode_incident(k.value(), v.value()))?;
        }
        Ok(())
    }

    /// Like [`RedbSnapshot::scan`], with each incident's pattern id, joined in key order
    /// without extra lookups.
    pub(crate) fn scan_with_pattern<E: From<StoreError>>(
        &self,
        mut f: impl FnMut(Incident, Option<&str>) -> Result<(), E>,
    ) -> Result<(), E> {
        let p = self
            .txn
            .open_table(INCIDENT_PATTERN)
            .map_err(StoreError::from)?;
        let mut patterns = p.range::<u64>(..).map_err(StoreError::from)?.peekable();
        for entry in self.incidents.range::<u64>(..).map_err(StoreError::from)? {
            let (k, v) = entry.map_err(StoreError::from)?;
            let key = k.value();
            let mut pattern = None;
            while let Some(next) = patterns.peek() {
                let pk = match next {
                    Ok((pk, _)) => pk.value(),
                    Err(_) => {
                        if let Some(Err(e)) = patterns.next() {
                            return Err(StoreError::from(e).into());
                        }
                        continue;
                    }
                };
                if pk < key {
                    patterns.next();
                } else {
                    if pk == key
                        && let Some(Ok((_, pv))) = patterns.next()
                    {
                        pattern = Some(pv.value().to_string());
                    }
                    break;
                }
            }
            f(decode_incident(key, v.value())?, pattern.as_deref())?;
        }
        Ok(())
    }

    /// Every stored pattern, in id order.
    pub(crate) fn patterns(&self) -> Result<Vec<Pattern>, StoreError> {
        let table = self.txn.open_table(PATTERNS)?;
        let mut out = Vec::new();
        for e in table.range::<&str>(..)? {
            let (k, v) = e?;
            let key = k.value().to_string();
            out.push(codec::decode::<Pattern>(&|| key.clone(), v.value())?);
        }
        Ok(out)
    }

    /// Incidents of a pattern, newest first, at most `limit`.
    pub(crate) fn pattern_members(
        &self,
        pattern_id: &str,
        limit: usize,
    ) -> Result<Vec<Incident>, StoreError> {
        let members = self.txn.open_table(BY_PATTERN)?;
        let mut out = Vec::new();
        for e in members
            .range((pattern_id, 0u64)..=(pattern_id, u64::MAX))?
            .rev()
        {
            let (k, _) = e?;
            if let Some(inc) = self.get_key(k.value().1)? {
                out.push(inc);
            }
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    /// Fingerprint lookups of a migration or a bridge check.
    pub(crate) fn fingerprints(&self) -> Result<RedbFingerprints, StoreError> {
        Ok(RedbFingerprints(self.txn.open_table(FINGERPRINTS)?))
    }

    /// Every fingerprint, in key order: (key, incident key).
    pub(crate) fn each_fingerprint(
        &self,
        f: &mut dyn FnMut(Pair, u64) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for e in self.txn.open_table(FINGERPRINTS)?.range::<Pair>(..)? {
            let (k, v) = e?;
            f(k.value(), v.value())?;
        }
        Ok(())
    }

    /// Every day counter, in date order.
    pub(crate) fn day_counters(&self) -> Result<Vec<(u32, u32)>, StoreError> {
        let mut out = Vec::new();
        for e in self.txn.open_table(DAY_COUNTERS)?.range::<u32>(..)? {
            let (k, v) = e?;
            out.push((k.value(), v.value()));
        }
        Ok(out)
    }
}

/// The `fingerprints` table of a snapshot: which incident each migrated error became.
pub(crate) struct RedbFingerprints(ReadOnlyTable<Pair, u64>);

impl RedbFingerprints {
    /// The incident key a fingerprint maps to.
    pub(crate) fn get(&self, key: Pair) -> Result<Option<u64>, StoreError> {
        Ok(self.0.get(key)?.map(|v| v.value()))
    }

    /// The error time of the latest fingerprint stored.
    pub(crate) fn last_micros(&self) -> Result<Option<i64>, StoreError> {
        Ok(self.0.last()?.map(|(k, _)| k.value().micros()))
    }
}
