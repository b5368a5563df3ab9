//! The write transaction: a record with its index entries, patterns, ids.

use std::collections::BTreeMap;

use redb::{ReadableTable, Table, WriteTransaction};
use rustc_hash::FxHashMap as HashMap;

use super::codec;
use super::index::{self, Entry, Indexed, count_key_pattern};
use super::schema::*;
use super::{DaySeqs, decode_incident};
use crate::error::StoreError;
use crate::model::Pattern;
use crate::model::{Incident, IncidentId};

/// Component and assignee names and their ids, as written in one transaction. An id is
/// never reused for another name.
pub(crate) struct Names<'t> {
    ids: Table<'t, &'static str, u32>,
    names: Table<'t, u32, &'static str>,
}

impl<'t> Names<'t> {
    pub(crate) fn open(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(Names {
            ids: txn.open_table(NAMES)?,
            names: txn.open_table(NAME_OF)?,
        })
    }

    /// The id of a name already known.
    pub(crate) fn get(&self, name: &str) -> Result<Option<u32>, StoreError> {
        Ok(self.ids.get(name)?.map(|v| v.value()))
    }

    /// The id of `name`, giving it a new one if it has none.
    pub(crate) fn intern(&mut self, name: &str) -> Result<u32, StoreError> {
        if let Some(id) = self.get(name)? {
            return Ok(id);
        }
        let next = match self.names.last()? {
            Some((k, _)) => k.value().checked_add(1).ok_or(StoreError::Corrupt {
                key: "name_of".into(),
                reason: "name ids exhausted".into(),
            })?,
            None => 0,
        };
        self.ids.insert(name, next)?;
        self.names.insert(next, name)?;
        Ok(next)
    }
}

/// The tables of one write transaction, with index maintenance.
pub(crate) struct RedbWriter<'t> {
    pub(super) txn: &'t WriteTransaction,
    pub(super) incidents: Table<'t, u64, &'static [u8]>,
    pub(super) heads: Table<'t, u64, (i64, u8, u8, u8)>,
    pub(super) by_status: Table<'t, Pair, ()>,
    pub(super) by_category: Table<'t, Pair, ()>,
    pub(super) by_priority: Table<'t, Pair, ()>,
    pub(super) names: Names<'t>,
    pub(super) by_component: Table<'t, Pair, ()>,
    pub(super) by_assignee: Table<'t, Pair, ()>,
    pub(super) by_created: Table<'t, Pair, ()>,
    pub(super) counts: Table<'t, &'static str, u64>,
    pub(super) counters: Table<'t, u32, u32>,
    pub(super) fingerprints: Table<'t, Pair, u64>,
    pub(super) by_pattern: Table<'t, (&'static str, u64), ()>,
    pub(super) incident_pattern: Table<'t, u64, &'static str>,
    pub(super) deltas: BTreeMap<String, i64>,
    pub(super) pattern_deltas: HashMap<String, i64>,
    /// Ids handed out or reserved in this transaction; `finish` writes the counters back.
    pub(super) day_seq: DaySeqs,
    pub(super) buf: Vec<u8>,
}

impl<'t> RedbWriter<'t> {
    pub(super) fn new(txn: &'t WriteTransaction) -> Result<Self, StoreError> {
        Ok(RedbWriter {
            txn,
            incidents: txn.open_table(INCIDENTS)?,
            heads: txn.open_table(HEADS)?,
            by_status: txn.open_table(BY_STATUS)?,
            by_category: txn.open_table(BY_CATEGORY)?,
            by_priority: txn.open_table(BY_PRIORITY)?,
            names: Names::open(txn)?,
            by_component: txn.open_table(BY_COMPONENT)?,
            by_assignee: txn.open_table(BY_ASSIGNEE)?,
            by_created: txn.open_table(BY_CREATED)?,
            counts: txn.open_table(INDEX_COUNTS)?,
            counters: txn.open_table(DAY_COUNTERS)?,
            fingerprints: txn.open_table(FINGERPRINTS)?,
            by_pattern: txn.open_table(BY_PATTERN)?,
            incident_pattern: txn.open_table(INCIDENT_PATTERN)?,
            deltas: BTreeMap::new(),
            pattern_deltas: HashMap::default(),
            day_seq: DaySeqs::default(),
            buf: Vec::with_capacity(1024),
        })
    }

    /// Reads one incident.
    pub(crate) fn get(&self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        match self.incidents.get(id.key())? {
            Some(v) => Ok(Some(decode_incident(id.key(), v.value())?)),
            None => Ok(None),
        }
    }

    /// Hands out the next id for a local creation date.
    pub(crate) fn next_id(&mut self, date: u32) -> Result<IncidentId, StoreError> {
        let counters = &self.counters;
        self.day_seq.next(date, |d| counter(counters, d))
    }

    /// Makes sure the day counter is at or past an id that came from elsewhere (import).
    pub(crate) fn reserve_id(&mut self, id: IncidentId) -> Result<(), StoreError> {
        let counters = &self.counters;
        self.day_seq
            .reserve(id.date(), id.seq(), |d| counter(counters, d))?;
        Ok(())
    }

    /// Writes `new`, replacing `old` (the record currently stored under the same id, if
    /// any), and moves every index entry that changed.
    pub(crate) fn put(&mut self, old: Option<&Incident>, new: &Incident) -> Result<(), StoreError> {
        let key = new.id.key();
        codec::encode_into(new, &mut self.buf);
        self.incidents.insert(key, self.buf.as_slice())?;
        let now = index::entries(new);
        let before = old.map(index::entries).unwrap_or_default();
        self.heads.insert(key, Indexed::with(new, |f| f.head()))?;
        for e in before.iter().filter(|e| !now.contains(e)) {
            self.remove_entry(key, e)?;
        }
        for e in now.iter().filter(|e| !before.contains(e)) {
            self.insert_entry(key, e)?;
        }
        Ok(())
    }

    fn insert_entry(&mut self, key: u64, e: &Entry<'_>) -> Result<(), StoreError> {
        match *e {
            Entry::Status(s) => self.by_status.insert(Pair::new(s.code(), key), ())?,
            Entry::Category(c) => self.by_category.insert(Pair::new(c.code(), key), ())?,
            Entry::Priority(p) => self.by_priority.insert(Pair::new(p.code(), key), ())?,
            Entry::Created(t) => self.by_created.insert(Pair::time(t, key), ())?,
            Entry::Component(c) => {
                let n = self.names.intern(c)?;
                self.by_component.insert(Pair::new(n, key), ())?
            }
            Entry::Assignee(a) => {
                let n = self.names.intern(a)?;
                self.by_assignee.insert(Pair::new(n, key), ())?
            }
        };
        if let Some(k) = e.count_key() {
            self.delta(k, 1);
        }
        Ok(())
    }

    fn remove_entry(&mut self, key: u64, e: &Entry<'_>) -> Result<(), StoreError> {
        match *e {
            Entry::Status(s) => self.by_status.remove(Pair::new(s.code(), key))?,
            Entry::Category(c) => self.by_category.remove(Pair::new(c.code(), key))?,
            Entry::Priority(p) => self.by_priority.remove(Pair::new(p.code(), key))?,
            Entry::Created(t) => self.by_created.remove(Pair::time(t, key))?,
            Entry::Component(c) => match self.names.get(c)? {
                Some(n) => self.by_component.remove(Pair::new(n, key))?,
                None => None,
            },
            Entry::Assignee(a) => match self.names.get(a)? {
                Some(n) => self.by_assignee.remove(Pair::new(n, key))?,
                None => None,
            },
        };
        if let Some(k) = e.count_key() {
            self.delta(k, -1);
        }
        Ok(())
    }

    /// Puts an incident into a pattern (replacing any earlier pattern of it).
    pub(crate) fn set_pattern(
        &mut self,
        id: IncidentId,
        pattern: Option<&str>,
    ) -> Result<(), StoreError> {
        let key = id.key();
        let old = self
            .incident_pattern
            .get(key)?
            .map(|v| v.value().to_string());
        if old.as_deref() == pattern {
            return Ok(());
        }
        if let Some(old) = &old {
            self.by_pattern.remove((old.as_str(), key))?;
            self.pattern_delta(old, -1);
        }
        match pattern {
            Some(p) => {
                self.incident_pattern.insert(key, p)?;
                self.by_pattern.insert((p, key), ())?;
                self.pattern_delta(p, 1);
            }
            None => {
                self.incident_pattern.remove(key)?;
            }
        }
        Ok(())
    }

    /// Stores a mined pattern (replacing one with the same id).
    pub(crate) fn put_pattern(&mut self, p: &Pattern) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(PATTERNS)?;
        table.insert(p.id.as_str(), codec::encode(p).as_slice())?;
        Ok(())
    }

    /// Whether a pattern with this id is stored.
    pub(crate) fn has_pattern(&self, pattern_id: &str) -> Result<bool, StoreError> {
        Ok(self.txn.open_table(PATTERNS)?.get(pattern_id)?.is_some())
    }

    /// Removes every stored pattern no incident belongs to.
    pub(crate) fn remove_patterns_without_members(&mut self) -> Result<(), StoreError> {
        let mut table = self.txn.open_table(PATTERNS)?;
        let mut stale = Vec::new();
        for e in table.range::<&str>(..)? {
            let (k, _) = e?;
            let id = k.value().to_string();
            if !self.pattern_has_members(&id)? {
                stale.push(id);
            }
        }
        for id in stale {
            table.remove(id.as_str())?;
        }
        Ok(())
    }

    /// Whether any incident belongs to the pattern.
    fn pattern_has_members(&self, pattern: &str) -> Result<bool, StoreError> {
        Ok(self
            .by_pattern
            .range((pattern, 0u64)..=(pattern, u64::MAX))?
            .next()
            .is_some())
    }

    fn pattern_delta(&mut self, pattern: &str, d: i64) {
        match self.pattern_deltas.get_mut(pattern) {
            Some(v) => *v += d,
            None => {
                self.pattern_deltas.insert(pattern.to_string(), d);
            }
        }
    }

    fn delta(&mut self, key: String, d: i64) {
        *self.deltas.entry(key).or_insert(0) += d;
    }

    /// Writes the accumulated index counts and day counters. Must run before commit.
    pub(super) fn finish(&mut self) -> Result<(), StoreError> {
        for (p, d) in std::mem::take(&mut self.pattern_deltas) {
            self.delta(count_key_pattern(&p), d);
        }
        for (k, d) in std::mem::take(&mut self.deltas) {
            if d == 0 {
                continue;
            }
            let cur = self.counts.get(k.as_str())?.map(|v| v.value()).unwrap_or(0) as i64;
            let next = (cur + d).max(0) as u64;
            if next == 0 {
                self.counts.remove(k.as_str())?;
            } else {
                self.counts.insert(k.as_str(), next)?;
            }
        }
        for (date, seq) in self.day_seq.take() {
            self.counters.insert(date, seq)?;
        }
        Ok(())
    }
}

/// A day's stored counter: at or past every stored id of the day.
pub(super) fn counter(counters: &Table<'_, u32, u32>, date: u32) -> Result<u32, StoreError> {
    Ok(counters.get(date)?.map_or(0, |v| v.value()))
}
