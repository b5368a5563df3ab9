//! The outbox and escalation marks on PostgreSQL: the same entries as redb's
//! (`store/outbox.rs`), written in the change's transaction; edits lock the entries they
//! touch with `FOR UPDATE SKIP LOCKED`.

use super::{PgStore, PgWriter};
use crate::error::StoreError;
use crate::model::IncidentId;
use crate::notify::{Event, OutboxEntry};
use crate::store::outbox::{Edit, decode, encode};

impl PgWriter<'_> {
    pub(crate) fn emit(&mut self, mut event: Event) -> Result<String, StoreError> {
        let txn = self.txn();
        let seq: i64 = txn
            .query_one(
                "INSERT INTO incident_meta (key, value) VALUES ('outbox_seq', 1)
                 ON CONFLICT (key) DO UPDATE SET value = incident_meta.value + 1 RETURNING value",
                &[],
            )?
            .get(0);
        // Distinguishes this database's event ids from another store's.
        let fresh = xxhash_rust::xxh3::xxh3_64(
            format!("{:?}{}", std::time::SystemTime::now(), std::process::id()).as_bytes(),
        ) as i64;
        txn.execute(
            "INSERT INTO incident_meta (key, value) VALUES ('outbox_origin', $1)
             ON CONFLICT (key) DO NOTHING",
            &[&fresh],
        )?;
        let origin: i64 = txn
            .query_one(
                "SELECT value FROM incident_meta WHERE key = 'outbox_origin'",
                &[],
            )?
            .get(0);
        event.id = format!("evt-{:016x}-{seq}", origin as u64);
        let id = event.id.clone();
        let entry = OutboxEntry {
            event,
            routed: false,
            deliveries: Vec::new(),
        };
        txn.execute(
            "INSERT INTO outbox (seq, entry) VALUES ($1, $2)",
            &[&seq, &encode(&entry)],
        )?;
        Ok(id)
    }

    pub(crate) fn fired(&mut self, id: IncidentId, step: &str) -> Result<Option<i64>, StoreError> {
        Ok(self
            .txn()
            .query_opt(
                "SELECT fired_at FROM escalations WHERE incident = $1 AND step = $2",
                &[&(id.key() as i64), &step],
            )?
            .map(|r| r.get(0)))
    }

    pub(crate) fn mark_fired(
        &mut self,
        id: IncidentId,
        step: &str,
        micros: i64,
    ) -> Result<(), StoreError> {
        self.txn().execute(
            "INSERT INTO escalations (incident, step, fired_at) VALUES ($1, $2, $3)
             ON CONFLICT (incident, step) DO UPDATE SET fired_at = EXCLUDED.fired_at",
            &[&(id.key() as i64), &step, &micros],
        )?;
        Ok(())
    }
}

impl PgStore {
    pub(crate) fn outbox_read(
        &self,
        mut f: impl FnMut(u64, Result<OutboxEntry, StoreError>),
    ) -> Result<(), StoreError> {
        for r in self
            .conn()?
            .query("SELECT seq, entry FROM outbox ORDER BY seq", &[])?
        {
            let seq = r.get::<_, i64>(0) as u64;
            f(seq, decode(seq, r.get(1)));
        }
        Ok(())
    }

    pub(crate) fn outbox_remove(&self, seq: u64) -> Result<bool, StoreError> {
        let n = self
            .conn()?
            .execute("DELETE FROM outbox WHERE seq = $1", &[&(seq as i64)])?;
        Ok(n > 0)
    }

    pub(crate) fn outbox_edit(
        &self,
        mut f: impl FnMut(u64, OutboxEntry) -> Edit,
    ) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let mut txn = conn.transaction()?;
        let rows = txn.query(
            "SELECT seq, entry FROM outbox ORDER BY seq FOR UPDATE SKIP LOCKED",
            &[],
        )?;
        for r in rows {
            let seq = r.get::<_, i64>(0);
            // A damaged entry stays as it is (`incident check` names it).
            let Ok(entry) = decode(seq as u64, r.get(1)) else {
                continue;
            };
            match f(seq as u64, entry) {
                Edit::Keep => {}
                Edit::Put(entry) => {
                    txn.execute(
                        "UPDATE outbox SET entry = $2 WHERE seq = $1",
                        &[&seq, &encode(&entry)],
                    )?;
                }
                Edit::Delete => {
                    txn.execute("DELETE FROM outbox WHERE seq = $1", &[&seq])?;
                }
            }
        }
        txn.commit()?;
        Ok(())
    }
}
