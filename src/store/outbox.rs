//! The outbox and escalation tables: events written with the change that caused them,
//! their delivery state, and which escalation steps fired.

use redb::{ReadableDatabase, ReadableTable};

use super::schema::{ESCALATIONS, META, OUTBOX};
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
        mut f: impl FnMut(u64, OutboxEntry),
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_read()?;
        let t = txn.open_table(OUTBOX)?;
        for e in t.range(0..)? {
            let (k, v) = e?;
            f(k.value(), decode(k.value(), v.value())?);
        }
        Ok(())
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
                match f(seq, decode(seq, v.value())?) {
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
