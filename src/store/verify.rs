//! Whole-file verification (`incident check`) and index rebuild (`--repair`).

use std::collections::{BTreeMap, BTreeSet};

use redb::{ReadableTable, TableDefinition};
use serde::Serialize;

use super::index::{Entry, Indexed, count_key_pattern};
use super::schema::*;
use super::{Names, RedbStore, decode_incident};
use crate::error::StoreError;
use crate::model::{Incident, IncidentId};

/// The table of the store where [`check`] found a problem (named as in the schema).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ProblemTable {
    Incidents,
    Heads,
    ByStatus,
    ByCategory,
    ByPriority,
    NameOf,
    ByComponent,
    ByAssignee,
    ByCreated,
    ByPattern,
    IncidentPattern,
    Patterns,
    IndexCounts,
    DayCounters,
    Fingerprints,
    Outbox,
    Escalations,
}

impl ProblemTable {
    /// The table's name, as in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            ProblemTable::Incidents => "incidents",
            ProblemTable::Heads => "heads",
            ProblemTable::ByStatus => "by_status",
            ProblemTable::ByCategory => "by_category",
            ProblemTable::ByPriority => "by_priority",
            ProblemTable::NameOf => "name_of",
            ProblemTable::ByComponent => "by_component",
            ProblemTable::ByAssignee => "by_assignee",
            ProblemTable::ByCreated => "by_created",
            ProblemTable::ByPattern => "by_pattern",
            ProblemTable::IncidentPattern => "incident_pattern",
            ProblemTable::Patterns => "patterns",
            ProblemTable::IndexCounts => "index_counts",
            ProblemTable::DayCounters => "day_counters",
            ProblemTable::Fingerprints => "fingerprints",
            ProblemTable::Outbox => "outbox",
            ProblemTable::Escalations => "escalations",
        }
    }
}

impl std::fmt::Display for ProblemTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One inconsistency found by [`check`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Table where it was found.
    pub table: ProblemTable,
    /// What is wrong, naming the key.
    pub message: String,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CheckReport {
    pub incidents: u64,
    pub index_entries: u64,
    pub problems: Vec<Problem>,
    /// Set when `--repair` rebuilt the indexes.
    pub repaired: bool,
}

/// Everything the indexes should hold, derived from the records alone.
#[derive(Default)]
struct Expected {
    heads: BTreeMap<u64, (i64, u8, u8, u8)>,
    status: BTreeSet<(u8, u64)>,
    category: BTreeSet<(u8, u64)>,
    priority: BTreeSet<(u8, u64)>,
    component: BTreeSet<(String, u64)>,
    assignee: BTreeSet<(String, u64)>,
    created: BTreeSet<(i64, u64)>,
    counts: BTreeMap<String, u64>,
    max_seq: BTreeMap<u32, u32>,
}

impl Expected {
    fn add(&mut self, inc: &Incident) {
        let key = inc.id.key();
        Indexed::with(inc, |f| {
            self.heads.insert(key, f.head());
            f.for_each_entry(|e| {
                if let Some(k) = e.count_key() {
                    *self.counts.entry(k).or_default() += 1;
                }
                match e {
                    Entry::Status(s) => self.status.insert((s.code(), key)),
                    Entry::Category(c) => self.category.insert((c.code(), key)),
                    Entry::Priority(p) => self.priority.insert((p.code(), key)),
                    Entry::Created(t) => self.created.insert((t, key)),
                    Entry::Component(c) => self.component.insert((c.to_string(), key)),
                    Entry::Assignee(a) => self.assignee.insert((a.to_string(), key)),
                };
            });
        });
        let seq = self.max_seq.entry(inc.id.date()).or_default();
        *seq = (*seq).max(inc.id.seq());
    }
}

fn id(key: u64) -> String {
    IncidentId::from_key(key).to_string()
}

fn compare<T: Ord + Clone + std::fmt::Debug>(
    problems: &mut Vec<Problem>,
    table: ProblemTable,
    expected: &BTreeSet<T>,
    found: &BTreeSet<T>,
    show: impl Fn(&T) -> String,
) {
    for missing in expected.difference(found) {
        problems.push(Problem {
            table,
            message: format!("missing index entry {}", show(missing)),
        });
    }
    for stale in found.difference(expected) {
        problems.push(Problem {
            table,
            message: format!("entry {} does not match any record", show(stale)),
        });
    }
}

/// Every entry of a table, mapped.
fn read_entries<K, V, T: Ord>(
    txn: &redb::ReadTransaction,
    def: TableDefinition<K, V>,
    map: impl Fn(K::SelfType<'_>, V::SelfType<'_>) -> T,
) -> Result<BTreeSet<T>, StoreError>
where
    K: redb::Key + 'static,
    V: redb::Value + 'static,
{
    let t = txn.open_table(def)?;
    let mut out = BTreeSet::new();
    for e in t.range::<K::SelfType<'_>>(..)? {
        let (k, v) = e?;
        out.insert(map(k.value(), v.value()));
    }
    Ok(out)
}

/// Every key of an index table, mapped.
fn read_set<K, T: Ord>(
    txn: &redb::ReadTransaction,
    def: TableDefinition<K, ()>,
    map: impl Fn(K::SelfType<'_>) -> T,
) -> Result<BTreeSet<T>, StoreError>
where
    K: redb::Key + 'static,
{
    read_entries(txn, def, |k, ()| map(k))
}

/// Verifies the whole file. Reads every record once; memory grows with the index sizes.
pub(crate) fn check(store: &RedbStore) -> Result<CheckReport, StoreError> {
    store.contain(|| check_inner(store))
}

fn check_inner(store: &RedbStore) -> Result<CheckReport, StoreError> {
    let txn = store.begin_read()?;
    let mut report = CheckReport::default();
    let mut exp = Expected::default();
    let incidents = txn.open_table(INCIDENTS)?;
    for e in incidents.range::<u64>(..)? {
        let (k, v) = e?;
        report.incidents += 1;
        match decode_incident(k.value(), v.value()) {
            Ok(inc) => {
                if inc.id.key() != k.value() {
                    report.problems.push(Problem {
                        table: ProblemTable::Incidents,
                        message: format!(
                            "record stored under {} says it is {}",
                            id(k.value()),
                            inc.id
                        ),
                    });
                }
                if inc.id.seq() > IncidentId::MAX_SEQ {
                    report.problems.push(Problem {
                        table: ProblemTable::Incidents,
                        message: format!(
                            "{} has a sequence number above {}, which no longer parses and \
                             keeps that day's counter from handing out new ids",
                            inc.id,
                            IncidentId::MAX_SEQ
                        ),
                    });
                }
                exp.add(&inc);
            }
            Err(e) => report.problems.push(Problem {
                table: ProblemTable::Incidents,
                message: e.to_string(),
            }),
        }
    }
    let p = &mut report.problems;

    let heads = txn.open_table(HEADS)?;
    let mut found_heads = BTreeMap::new();
    for e in heads.range::<u64>(..)? {
        let (k, v) = e?;
        found_heads.insert(k.value(), v.value());
    }
    for (k, h) in &exp.heads {
        match found_heads.get(k) {
            None => p.push(Problem {
                table: ProblemTable::Heads,
                message: format!("missing head of {}", id(*k)),
            }),
            Some(f) if f != h => p.push(Problem {
                table: ProblemTable::Heads,
                message: format!("head of {} is {f:?}, record says {h:?}", id(*k)),
            }),
            _ => {}
        }
    }
    for k in found_heads.keys().filter(|k| !exp.heads.contains_key(k)) {
        p.push(Problem {
            table: ProblemTable::Heads,
            message: format!("head of {} has no record", id(*k)),
        });
    }

    let code_set = |def: TableDefinition<Pair, ()>| -> Result<BTreeSet<(u8, u64)>, StoreError> {
        read_set(&txn, def, |k| (k.hi as u8, k.lo))
    };
    let show_code = |(c, k): &(u8, u64)| format!("({c}, {})", id(*k));
    let show_str = |(s, k): &(String, u64)| format!("({s:?}, {})", id(*k));
    let status = code_set(BY_STATUS)?;
    compare(p, ProblemTable::ByStatus, &exp.status, &status, show_code);
    let category = code_set(BY_CATEGORY)?;
    compare(
        p,
        ProblemTable::ByCategory,
        &exp.category,
        &category,
        show_code,
    );
    let priority = code_set(BY_PRIORITY)?;
    compare(
        p,
        ProblemTable::ByPriority,
        &exp.priority,
        &priority,
        show_code,
    );
    // Name ids: both directions agree, and every index entry names a known id.
    let names = read_entries(&txn, NAMES, |s, n| (n, s.to_string()))?;
    let name_of = read_entries(&txn, NAME_OF, |n, s| (n, s.to_string()))?;
    compare(p, ProblemTable::NameOf, &names, &name_of, |(n, s)| {
        format!("({n}, {s:?})")
    });
    let name_of: BTreeMap<u32, String> = name_of.into_iter().collect();
    let mut by_name = |table: ProblemTable,
                       def: TableDefinition<Pair, ()>|
     -> Result<BTreeSet<(String, u64)>, StoreError> {
        let mut out = BTreeSet::new();
        for (n, k) in read_set(&txn, def, |k| (k.hi as u32, k.lo))? {
            match name_of.get(&n) {
                Some(s) => {
                    out.insert((s.clone(), k));
                }
                None => p.push(Problem {
                    table,
                    message: format!("entry of {} has unknown name id {n}", id(k)),
                }),
            }
        }
        Ok(out)
    };
    let component = by_name(ProblemTable::ByComponent, BY_COMPONENT)?;
    let assignee = by_name(ProblemTable::ByAssignee, BY_ASSIGNEE)?;
    compare(
        p,
        ProblemTable::ByComponent,
        &exp.component,
        &component,
        show_str,
    );
    compare(
        p,
        ProblemTable::ByAssignee,
        &exp.assignee,
        &assignee,
        show_str,
    );
    let created = read_set(&txn, BY_CREATED, |k| (k.micros(), k.lo))?;
    compare(
        p,
        ProblemTable::ByCreated,
        &exp.created,
        &created,
        |(t, k)| format!("({t}, {})", id(*k)),
    );
    report.index_entries = (status.len()
        + category.len()
        + priority.len()
        + component.len()
        + assignee.len()
        + created.len()) as u64;

    // Pattern membership: both directions agree and point at records.
    let by_pattern = read_set(&txn, BY_PATTERN, |(s, k)| (s.to_string(), k))?;
    let inc_pat = read_entries(&txn, INCIDENT_PATTERN, |k, p| (p.to_string(), k))?;
    compare(p, ProblemTable::ByPattern, &inc_pat, &by_pattern, show_str);
    for (pat, k) in &inc_pat {
        if !exp.heads.contains_key(k) {
            p.push(Problem {
                table: ProblemTable::IncidentPattern,
                message: format!("{} (pattern {pat}) has no record", id(*k)),
            });
        }
        *exp.counts.entry(count_key_pattern(pat)).or_default() += 1;
    }
    let patterns = txn.open_table(PATTERNS)?;
    let pattern_ids: BTreeSet<&str> = inc_pat.iter().map(|(p, _)| p.as_str()).collect();
    for pat in pattern_ids {
        if patterns.get(pat)?.is_none() {
            p.push(Problem {
                table: ProblemTable::Patterns,
                message: format!("pattern {pat} has members but no definition"),
            });
        }
    }
    for e in patterns.range::<&str>(..)? {
        let (k, v) = e?;
        let key = k.value().to_string();
        if let Err(e) = super::codec::decode::<crate::model::Pattern>(&|| key.clone(), v.value()) {
            p.push(Problem {
                table: ProblemTable::Patterns,
                message: e.to_string(),
            });
        }
    }

    let counts = txn.open_table(INDEX_COUNTS)?;
    let mut found_counts = BTreeMap::new();
    for e in counts.range::<&str>(..)? {
        let (k, v) = e?;
        found_counts.insert(k.value().to_string(), v.value());
    }
    let keys: BTreeSet<&String> = exp.counts.keys().chain(found_counts.keys()).collect();
    for k in keys {
        let (e, f) = (
            exp.counts.get(k).copied().unwrap_or(0),
            found_counts.get(k).copied().unwrap_or(0),
        );
        if e != f {
            p.push(Problem {
                table: ProblemTable::IndexCounts,
                message: format!("{k} is {f}, index holds {e}"),
            });
        }
    }

    let counters = txn.open_table(DAY_COUNTERS)?;
    for (date, max) in &exp.max_seq {
        let c = counters.get(*date)?.map(|v| v.value()).unwrap_or(0);
        if c < *max {
            p.push(Problem {
                table: ProblemTable::DayCounters,
                message: format!("counter for {date} is {c}, behind INC-{date:08}-{max:04}"),
            });
        }
    }

    let last_seq = txn
        .open_table(META)?
        .get("outbox_seq")?
        .map_or(0, |v| v.value());
    let exists = |id: IncidentId| exp.heads.contains_key(&id.key());
    for e in txn.open_table(OUTBOX)?.range::<u64>(..)? {
        let (k, v) = e?;
        let (seq, entry) = (k.value(), super::outbox::decode(k.value(), v.value()));
        p.extend(super::outbox::check_entry(seq, entry, last_seq, &exists));
    }
    for e in txn.open_table(ESCALATIONS)?.range::<(u64, &str)>(..)? {
        let (k, _) = e?;
        let (key, step) = k.value();
        if !exp.heads.contains_key(&key) {
            p.push(super::outbox::orphan_escalation(key, step));
        }
    }

    let fps = txn.open_table(FINGERPRINTS)?;
    for e in fps.range::<Pair>(..)? {
        let (k, v) = e?;
        if !exp.heads.contains_key(&v.value()) {
            let (t, h) = (k.value().micros(), k.value().lo);
            p.push(Problem {
                table: ProblemTable::Fingerprints,
                message: format!(
                    "fingerprint ({}, {h:016x}) points at missing {}",
                    crate::model::Timestamp::from_micros(t),
                    id(v.value())
                ),
            });
        }
    }
    Ok(report)
}

/// Rebuilds every index, the counts and the day counters from the records.
/// Records that cannot be decoded are left in place and reported by `check`.
pub(crate) fn repair(store: &RedbStore) -> Result<(), StoreError> {
    store.contain(|| repair_inner(store))
}

fn repair_inner(store: &RedbStore) -> Result<(), StoreError> {
    let mut exp = Expected::default();
    {
        let txn = store.begin_read()?;
        let incidents = txn.open_table(INCIDENTS)?;
        for e in incidents.range::<u64>(..)? {
            let (k, v) = e?;
            if let Ok(inc) = decode_incident(k.value(), v.value()) {
                exp.add(&inc);
            }
        }
    }
    let txn = store.begin_write()?;
    {
        txn.delete_table(HEADS)?;
        txn.delete_table(BY_STATUS)?;
        txn.delete_table(BY_CATEGORY)?;
        txn.delete_table(BY_PRIORITY)?;
        txn.delete_table(NAMES)?;
        txn.delete_table(NAME_OF)?;
        txn.delete_table(BY_COMPONENT)?;
        txn.delete_table(BY_ASSIGNEE)?;
        txn.delete_table(BY_CREATED)?;
        txn.delete_table(INDEX_COUNTS)?;
        let mut heads = txn.open_table(HEADS)?;
        for (k, h) in &exp.heads {
            heads.insert(*k, *h)?;
        }
        for (def, set) in [
            (BY_STATUS, &exp.status),
            (BY_CATEGORY, &exp.category),
            (BY_PRIORITY, &exp.priority),
        ] {
            let mut t = txn.open_table(def)?;
            for k in set {
                t.insert(Pair::new(k.0, k.1), ())?;
            }
        }
        let mut names = Names::open(&txn)?;
        for (def, set) in [(BY_COMPONENT, &exp.component), (BY_ASSIGNEE, &exp.assignee)] {
            let mut t = txn.open_table(def)?;
            for (s, k) in set {
                t.insert(Pair::new(names.intern(s)?, *k), ())?;
            }
        }
        let mut created = txn.open_table(BY_CREATED)?;
        for k in &exp.created {
            created.insert(Pair::time(k.0, k.1), ())?;
        }
        // Pattern membership: keep INCIDENT_PATTERN entries whose record exists; rebuild BY_PATTERN.
        let mut members: BTreeSet<(String, u64)> = BTreeSet::new();
        {
            let mut ip = txn.open_table(INCIDENT_PATTERN)?;
            let mut dangling = Vec::new();
            for e in ip.range::<u64>(..)? {
                let (k, v) = e?;
                if exp.heads.contains_key(&k.value()) {
                    members.insert((v.value().to_string(), k.value()));
                } else {
                    dangling.push(k.value());
                }
            }
            for k in dangling {
                ip.remove(k)?;
            }
        }
        txn.delete_table(BY_PATTERN)?;
        let mut bp = txn.open_table(BY_PATTERN)?;
        for (s, k) in &members {
            bp.insert((s.as_str(), *k), ())?;
            *exp.counts.entry(count_key_pattern(s)).or_default() += 1;
        }
        let mut counts = txn.open_table(INDEX_COUNTS)?;
        for (k, v) in &exp.counts {
            counts.insert(k.as_str(), *v)?;
        }
        let mut counters = txn.open_table(DAY_COUNTERS)?;
        for (date, max) in &exp.max_seq {
            let c = counters.get(*date)?.map(|v| v.value()).unwrap_or(0);
            if c < *max {
                counters.insert(*date, *max)?;
            }
        }
        let mut fps = txn.open_table(FINGERPRINTS)?;
        let mut stale = Vec::new();
        for e in fps.range::<Pair>(..)? {
            let (k, v) = e?;
            if !exp.heads.contains_key(&v.value()) {
                stale.push(k.value());
            }
        }
        for k in stale {
            fps.remove(k)?;
        }
        // The event counter moves up to the highest stored event, so no new event replaces
        // one. Damaged entries are left for a person to read.
        let top = txn.open_table(OUTBOX)?.last()?.map(|(k, _)| k.value());
        let mut meta = txn.open_table(META)?;
        let seq = meta.get("outbox_seq")?.map_or(0, |v| v.value());
        if let Some(top) = top.filter(|t| *t > seq) {
            meta.insert("outbox_seq", top)?;
        }
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Category, Origin, Priority, Status, Timestamp};
    use crate::store::RedbWriter;
    use std::time::Duration;

    /// A store that already holds an id past the limit (written before the limit
    /// existed) is reported: that id blocks its day's counter.
    #[test]
    fn reports_a_stored_id_past_the_sequence_limit() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(&dir.path().join("db.redb"), Duration::from_secs(1)).unwrap();
        let t = Timestamp::parse("2025-01-04T09:00:00Z").unwrap();
        let inc = Incident {
            id: IncidentId::new(20250104, u32::MAX),
            created_at: t,
            updated_at: t,
            category: Category::Error,
            priority: Priority::Low,
            status: Status::Open,
            title: "t".into(),
            description: String::new(),
            affected_components: vec!["c".into()],
            impact: String::new(),
            assignee: None,
            timeline: vec![],
            resolution: None,
            acknowledged_at: None,
            matched_pattern: None,
            origin: Origin::Imported,
        };
        let txn = store.begin_write().unwrap();
        {
            let mut w = RedbWriter::new(&txn).unwrap();
            w.reserve_id(inc.id).unwrap();
            w.put(None, &inc).unwrap();
            w.finish().unwrap();
        }
        txn.commit().unwrap();
        let report = check(&store).unwrap();
        assert!(
            report.problems.iter().any(|p| p
                .message
                .contains("INC-20250104-4294967295 has a sequence number above 999999")),
            "{:?}",
            report.problems
        );
    }
}
