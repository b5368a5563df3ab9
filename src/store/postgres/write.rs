//! The write transaction: a record with its indexed columns, pattern membership, ids from
//! locked day-counter rows, and bulk writes through binary `COPY`.

use std::sync::atomic::{AtomicBool, Ordering};

use postgres::Transaction;
use postgres::binary_copy::BinaryCopyInWriter;
use postgres::types::Type;

use crate::error::StoreError;
use crate::model::Pattern;
use crate::model::{Incident, IncidentId};
use crate::store::bulk::{Bulk, BulkRow};
use crate::store::{DaySeqs, Indexed, codec, decode_incident};

/// Benchmarks only: write bulk rows with one `INSERT` each instead of `COPY`, to measure
/// what `COPY` gains through the same driver.
pub(crate) static ROW_INSERTS: AtomicBool = AtomicBool::new(false);

const INCIDENT_COLUMNS: &str =
    "id, created_at, status, category, priority, components, assignee, record";
const INCIDENT_TYPES: [Type; 8] = [
    Type::INT8,
    Type::INT8,
    Type::INT2,
    Type::INT2,
    Type::INT2,
    Type::TEXT_ARRAY,
    Type::TEXT,
    Type::BYTEA,
];

/// One transaction on one connection.
pub(crate) struct PgWriter<'t> {
    txn: Transaction<'t>,
    /// Ids handed out or reserved here, from day rows this transaction has locked;
    /// `commit` writes the counters back.
    day_seq: DaySeqs,
    /// Pattern memberships set here, written in one statement before anything reads them.
    patterns: Vec<(i64, Option<String>)>,
    buf: Vec<u8>,
}

/// Locks the day's counter row until the transaction ends (creating it at 0) and returns
/// its value: every other writer of the day waits, so no id is handed out twice.
fn lock_day(txn: &mut Transaction<'_>, date: u32) -> Result<u32, StoreError> {
    let row = txn.query_one(
        "INSERT INTO day_counters (day, seq) VALUES ($1, 0)
         ON CONFLICT (day) DO UPDATE SET seq = day_counters.seq RETURNING seq",
        &[&(date as i32)],
    )?;
    Ok(row.get::<_, i32>(0) as u32)
}

impl<'t> PgWriter<'t> {
    pub(super) fn new(txn: Transaction<'t>) -> Self {
        PgWriter {
            txn,
            day_seq: DaySeqs::default(),
            patterns: Vec::new(),
            buf: Vec::with_capacity(1024),
        }
    }

    /// The transaction, for the outbox (`outbox.rs`).
    pub(super) fn txn(&mut self) -> &mut Transaction<'t> {
        &mut self.txn
    }

    /// Writes the day counters and pending memberships, then commits.
    pub(super) fn commit(mut self) -> Result<(), StoreError> {
        self.flush_patterns()?;
        let (days, seqs): (Vec<i32>, Vec<i32>) = self
            .day_seq
            .take()
            .into_iter()
            .map(|(d, s)| (d as i32, s as i32))
            .unzip();
        if !days.is_empty() {
            self.txn.execute(
                "INSERT INTO day_counters (day, seq) SELECT * FROM unnest($1::int[], $2::int[])
                 ON CONFLICT (day) DO UPDATE SET seq = GREATEST(day_counters.seq, EXCLUDED.seq)",
                &[&days, &seqs],
            )?;
        }
        self.txn.commit()?;
        Ok(())
    }

    /// Reads one incident and locks its row until the transaction ends: what is read here
    /// is what a change is based on.
    pub(crate) fn get(&mut self, id: IncidentId) -> Result<Option<Incident>, StoreError> {
        let row = self.txn.query_opt(
            "SELECT record FROM incidents WHERE id = $1 FOR UPDATE",
            &[&(id.key() as i64)],
        )?;
        row.map(|r| decode_incident(id.key(), r.get::<_, &[u8]>(0)))
            .transpose()
    }

    pub(crate) fn next_id(&mut self, date: u32) -> Result<IncidentId, StoreError> {
        let txn = &mut self.txn;
        self.day_seq.next(date, |d| lock_day(txn, d))
    }

    pub(crate) fn reserve_id(&mut self, id: IncidentId) -> Result<(), StoreError> {
        let txn = &mut self.txn;
        self.day_seq
            .reserve(id.date(), id.seq(), |d| lock_day(txn, d))?;
        Ok(())
    }

    /// Writes the record and its indexed columns in one statement (`old` is not needed:
    /// the columns are replaced whole).
    pub(crate) fn put(
        &mut self,
        _old: Option<&Incident>,
        new: &Incident,
    ) -> Result<(), StoreError> {
        codec::encode_into(new, &mut self.buf);
        let (head, components, assignee) = Indexed::with(new, |f| {
            (
                f.head(),
                f.components
                    .iter()
                    .map(|c| c.to_string())
                    .collect::<Vec<_>>(),
                f.assignee.map(str::to_string),
            )
        });
        self.txn.execute(
            &format!(
                "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (id) DO UPDATE SET created_at = EXCLUDED.created_at,
                   status = EXCLUDED.status, category = EXCLUDED.category,
                   priority = EXCLUDED.priority, components = EXCLUDED.components,
                   assignee = EXCLUDED.assignee, record = EXCLUDED.record"
            ),
            &[
                &(new.id.key() as i64),
                &head.0,
                &i16::from(head.1),
                &i16::from(head.2),
                &i16::from(head.3),
                &components,
                &assignee,
                &self.buf.as_slice(),
            ],
        )?;
        Ok(())
    }

    pub(crate) fn set_pattern(
        &mut self,
        id: IncidentId,
        pattern: Option<&str>,
    ) -> Result<(), StoreError> {
        self.patterns
            .push((id.key() as i64, pattern.map(str::to_string)));
        Ok(())
    }

    fn flush_patterns(&mut self) -> Result<(), StoreError> {
        if self.patterns.is_empty() {
            return Ok(());
        }
        // A later assignment of the same incident wins, as when set one by one.
        let mut latest = rustc_hash::FxHashMap::default();
        for (id, p) in std::mem::take(&mut self.patterns) {
            latest.insert(id, p);
        }
        let (ids, patterns): (Vec<i64>, Vec<Option<String>>) = latest.into_iter().unzip();
        self.txn.execute(
            "UPDATE incidents i SET pattern = u.pattern
             FROM unnest($1::bigint[], $2::text[]) AS u(id, pattern) WHERE i.id = u.id",
            &[&ids, &patterns],
        )?;
        Ok(())
    }

    pub(crate) fn put_pattern(&mut self, p: &Pattern) -> Result<(), StoreError> {
        self.txn.execute(
            "INSERT INTO patterns (id, record) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            &[&p.id, &codec::encode(p)],
        )?;
        Ok(())
    }

    pub(crate) fn has_pattern(&mut self, pattern_id: &str) -> Result<bool, StoreError> {
        Ok(self
            .txn
            .query_opt("SELECT 1 FROM patterns WHERE id = $1", &[&pattern_id])?
            .is_some())
    }

    pub(crate) fn remove_patterns_without_members(&mut self) -> Result<(), StoreError> {
        self.flush_patterns()?;
        self.txn.execute(
            "DELETE FROM patterns p WHERE NOT EXISTS
               (SELECT 1 FROM incidents i WHERE i.pattern = p.id)",
            &[],
        )?;
        Ok(())
    }

    /// Writes the buffered records and their fingerprints with binary `COPY`. The batch
    /// was deduplicated against the store by fingerprint; a fingerprint that another
    /// writer stored meanwhile (two migrations of one history at once) violates the key,
    /// and the whole batch is refused rather than stored twice.
    pub(crate) fn flush_bulk(&mut self, bulk: &mut Bulk) -> Result<(), StoreError> {
        let rows = bulk.rows();
        if ROW_INSERTS.load(Ordering::Relaxed) {
            insert_rows(&mut self.txn, &rows)?;
        } else {
            copy_rows(&mut self.txn, &rows)?;
        }
        drop(rows);
        if !bulk.fingerprints.is_empty() && ROW_INSERTS.load(Ordering::Relaxed) {
            let stmt = self
                .txn
                .prepare("INSERT INTO fingerprints VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")?;
            for (k, id) in &bulk.fingerprints {
                self.txn
                    .execute(&stmt, &[&k.micros(), &(k.lo as i64), &(*id as i64)])?;
            }
        } else if !bulk.fingerprints.is_empty() {
            copy_fingerprints(&mut self.txn, &bulk.fingerprints)?;
        }
        let txn = &mut self.txn;
        for (date, seq) in std::mem::take(&mut bulk.counters) {
            self.day_seq.reserve(date, seq, |d| lock_day(txn, d))?;
        }
        bulk.clear();
        Ok(())
    }
}

fn copy_rows(txn: &mut Transaction<'_>, rows: &[BulkRow<'_>]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let sink = txn.copy_in(&format!(
        "COPY incidents ({INCIDENT_COLUMNS}) FROM STDIN (FORMAT binary)"
    ))?;
    let mut w = BinaryCopyInWriter::new(sink, &INCIDENT_TYPES);
    for r in rows {
        w.write(&[
            &(r.key as i64),
            &r.head.0,
            &i16::from(r.head.1),
            &i16::from(r.head.2),
            &i16::from(r.head.3),
            &r.components,
            &r.assignee,
            &r.record,
        ])?;
    }
    w.finish()?;
    Ok(())
}

fn copy_fingerprints(
    txn: &mut Transaction<'_>,
    fingerprints: &[(crate::store::Pair, u64)],
) -> Result<(), StoreError> {
    let sink = txn.copy_in("COPY fingerprints FROM STDIN (FORMAT binary)")?;
    let mut w = BinaryCopyInWriter::new(sink, &[Type::INT8, Type::INT8, Type::INT8]);
    for (k, id) in fingerprints {
        w.write(&[&k.micros(), &(k.lo as i64), &(*id as i64)])?;
    }
    match w.finish() {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => {
            Err(StoreError::Corrupt {
                key: "fingerprints".into(),
                reason: format!(
                    "some of this batch's {} errors were stored meanwhile by another writer \
                     (two migrations of the same history at once?); nothing of the batch was \
                     written, and a rerun skips what is stored ({e})",
                    fingerprints.len()
                ),
            })
        }
        Err(e) => Err(e.into()),
    }
}

fn insert_rows(txn: &mut Transaction<'_>, rows: &[BulkRow<'_>]) -> Result<(), StoreError> {
    let stmt = txn.prepare_typed(
        &format!(
            "INSERT INTO incidents ({INCIDENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ),
        &INCIDENT_TYPES,
    )?;
    for r in rows {
        txn.execute(
            &stmt,
            &[
                &(r.key as i64),
                &r.head.0,
                &i16::from(r.head.1),
                &i16::from(r.head.2),
                &i16::from(r.head.3),
                &r.components,
                &r.assignee,
                &r.record,
            ],
        )?;
    }
    Ok(())
}
