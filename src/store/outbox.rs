//! The outbox and escalation tables: events written with the change that caused them,
//! their delivery state, and which escalation steps fired.

use redb::{ReadableDatabase, ReadableTable};

use super::schema::{ESCALATIONS, META, OUTBOX};
use super::verify::{Problem, ProblemTable};
use super::{RedbStore, RedbWriter};
use crate::error::StoreError;
use crate::model::IncidentId;
use crate::notify::{Event, OutboxEntry};

/// What to do with one outbox entry in [`Store::outbox_edit`].
pub(crate) enum Edit {
    Keep,
    Put(Box<OutboxEntry>),
    Delete,
}

pub(super) fn decode(seq: u64, bytes: &[u8]) -> Result<OutboxEntry, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt {
        key: format!("outbox {seq}"),
        reason: e.to_string(),
    })
}

pub(super) fn encode(entry: &OutboxEntry) -> Vec<u8> {
    // Plain data with string keys: serialising cannot fail.
    serde_json::to_vec(entry).unwrap_or_default()
}

/// What `incident check` finds wrong with the outbox row `seq`, on either engine. `last_seq`
/// is the sequence counter; `exists` says whether an incident is stored.
pub(super) fn check_entry(
    seq: u64,
    entry: Result<OutboxEntry, StoreError>,
    last_seq: u64,
    exists: &dyn Fn(IncidentId) -> bool,
) -> Vec<Problem> {
    let problem = |message: String| Problem {
        table: ProblemTable::Outbox,
        message,
    };
    let mut out = Vec::new();
    if seq > last_seq {
        out.push(problem(format!(
            "outbox {seq} is above the sequence counter {last_seq}: a new event would replace it"
        )));
    }
    let entry = match entry {
        Ok(e) => e,
        Err(e) => {
            out.push(problem(format!(
                "{e}; it is never delivered (the deliverer skips it)"
            )));
            return out;
        }
    };
    let event = &entry.event;
    if !event.id.ends_with(&format!("-{seq}")) {
        out.push(problem(format!(
            "outbox {seq} holds event {:?}, whose id was not made from this sequence number",
            event.id
        )));
    }
    if !exists(event.incident.id) {
        out.push(problem(format!(
            "outbox {seq} ({}) is about {}, which is not stored",
            event.id, event.incident.id
        )));
    }
    let mut targets = std::collections::BTreeSet::new();
    for d in &entry.deliveries {
        if !targets.insert(d.target.as_str()) {
            out.push(problem(format!(
                "outbox {seq} ({}) has two deliveries to {:?}",
                event.id, d.target
            )));
        }
    }
    if !entry.routed && !entry.deliveries.is_empty() {
        out.push(problem(format!(
            "outbox {seq} ({}) is not routed yet but has deliveries",
            event.id
        )));
    }
    out
}

/// The `escalations` row of an incident that is not stored.
pub(super) fn orphan_escalation(key: u64, step: &str) -> Problem {
    Problem {
        table: ProblemTable::Escalations,
        message: format!(
            "step {step:?} fired for {}, which is not stored",
            IncidentId::from_key(key)
        ),
    }
}

impl RedbWriter<'_> {
    /// Writes `event` to the outbox in this transaction, giving it its id; returns it.
    pub(crate) fn emit(&mut self, mut event: Event) -> Result<String, StoreError> {
        let mut meta = self.txn.open_table(META)?;
        let seq = meta.get("outbox_seq")?.map_or(0, |v| v.value()) + 1;
        meta.insert("outbox_seq", seq)?;
        let stored = meta.get("outbox_origin")?.map(|v| v.value());
        let origin = match stored {
            Some(o) => o,
            None => {
                // Distinguishes this file's event ids from another store's.
                let o = xxhash_rust::xxh3::xxh3_64(
                    format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes(),
                );
                meta.insert("outbox_origin", o)?;
                o
            }
        };
        event.id = format!("evt-{origin:016x}-{seq}");
        let id = event.id.clone();
        let entry = OutboxEntry {
            event,
            routed: false,
            deliveries: Vec::new(),
        };
        self.txn
            .open_table(OUTBOX)?
            .insert(seq, encode(&entry).as_slice())?;
        Ok(id)
    }

    /// When escalation `step` fired for incident `id`, if it did.
    pub(crate) fn fired(&self, id: IncidentId, step: &str) -> Result<Option<i64>, StoreError> {
        let t = self.txn.open_table(ESCALATIONS)?;
        Ok(t.get((id.key(), step))?.map(|v| v.value()))
    }

    /// Records that escalation `step` fired for incident `id` at `micros`.
    pub(crate) fn mark_fired(
        &mut self,
        id: IncidentId,
        step: &str,
        micros: i64,
    ) -> Result<(), StoreError> {
        self.txn
            .open_table(ESCALATIONS)?
            .insert((id.key(), step), micros)?;
        Ok(())
    }
}

impl RedbStore {
    /// Calls `f` with every outbox entry in sequence order.
    pub(crate) fn outbox_read(
        &self,
        mut f: impl FnMut(u64, Result<OutboxEntry, StoreError>),
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OUTBOX)?;
        for e in t.range(0..)? {
            let (k, v) = e?;
            f(k.value(), decode(k.value(), v.value()));
        }
        Ok(())
    }

    /// Removes outbox entry `seq`, readable or not; false if there is none.
    pub(crate) fn outbox_remove(&self, seq: u64) -> Result<bool, StoreError> {
        let txn = self.db.begin_write()?;
        let removed = txn.open_table(OUTBOX)?.remove(seq)?.is_some();
        txn.commit()?;
        Ok(removed)
    }

    /// Passes every outbox entry to `f` in one write transaction and applies its edits;
    /// nothing is changed if `f` or the commit fails.
    pub(crate) fn outbox_edit(
        &self,
        mut f: impl FnMut(u64, OutboxEntry) -> Edit,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write()?;
        {
            let mut t = txn.open_table(OUTBOX)?;
            let mut edits = Vec::new();
            for e in t.range(0..)? {
                let (k, v) = e?;
                let seq = k.value();
                // A damaged entry stays as it is (`incident check` names it); the others
                // are still delivered.
                let Ok(entry) = decode(seq, v.value()) else {
                    continue;
                };
                match f(seq, entry) {
                    Edit::Keep => {}
                    edit => edits.push((seq, edit)),
                }
            }
            for (seq, edit) in edits {
                match edit {
                    Edit::Put(entry) => {
                        t.insert(seq, encode(&entry).as_slice())?;
                    }
                    Edit::Delete => {
                        t.remove(seq)?;
                    }
                    Edit::Keep => {}
                }
            }
        }
        txn.commit()?;
        Ok(())
    }
}
