//! `check` and `repair` for PostgreSQL. PostgreSQL keeps its own indexes equal to the
//! columns; what can drift is a column against the record it was written from (a hand
//! edit, a foreign writer), a counter behind a stored id, a fingerprint or a pattern
//! membership whose target is gone. Each is found, and repaired, from the records.

use std::collections::{BTreeMap, BTreeSet};

use super::{Conn, PgStore};
use crate::error::StoreError;
use crate::model::IncidentId;
use crate::notify::OutboxEntry;
use crate::store::verify::{CheckReport, Problem, ProblemTable};
use crate::store::{Indexed, decode_incident};

/// The indexed columns of a row, as stored or as its record says.
#[derive(Debug, PartialEq, Eq)]
struct Columns {
    head: (i64, u8, u8, u8),
    components: Vec<String>,
    assignee: Option<String>,
}

/// Every row whose columns disagree with its record (with the record's columns), every
/// undecodable record, and the highest sequence number stored per day.
struct Scan {
    incidents: u64,
    entries: u64,
    drifted: Vec<(u64, Columns, Columns)>,
    undecodable: Vec<String>,
    too_high: Vec<IncidentId>,
    misfiled: Vec<(u64, IncidentId)>,
    max_seq: BTreeMap<u32, u32>,
}

fn scan(conn: &mut Conn) -> Result<Scan, StoreError> {
    let mut s = Scan {
        incidents: 0,
        entries: 0,
        drifted: Vec::new(),
        undecodable: Vec::new(),
        too_high: Vec::new(),
        misfiled: Vec::new(),
        max_seq: BTreeMap::new(),
    };
    let mut txn = conn.transaction()?;
    txn.batch_execute(
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY;
         DECLARE incident_check NO SCROLL CURSOR FOR
           SELECT id, created_at, status, category, priority, components, assignee, record
           FROM incidents ORDER BY id",
    )?;
    loop {
        let rows = txn.query("FETCH 2000 FROM incident_check", &[])?;
        for row in &rows {
            s.incidents += 1;
            let key = row.get::<_, i64>(0) as u64;
            let stored = Columns {
                head: (
                    row.get(1),
                    row.get::<_, i16>(2) as u8,
                    row.get::<_, i16>(3) as u8,
                    row.get::<_, i16>(4) as u8,
                ),
                components: row.get(5),
                assignee: row.get(6),
            };
            let inc = match decode_incident(key, row.get::<_, &[u8]>(7)) {
                Ok(inc) => inc,
                Err(e) => {
                    s.undecodable.push(e.to_string());
                    continue;
                }
            };
            if inc.id.key() != key {
                s.misfiled.push((key, inc.id));
            }
            if inc.id.seq() > IncidentId::MAX_SEQ {
                s.too_high.push(inc.id);
            }
            let seq = s.max_seq.entry(inc.id.date()).or_default();
            *seq = (*seq).max(inc.id.seq());
            let expected = Indexed::with(&inc, |f| {
                let mut n = 0;
                f.for_each_entry(|_| n += 1);
                s.entries += n;
                Columns {
                    head: f.head(),
                    components: f.components.iter().map(|c| c.to_string()).collect(),
                    assignee: f.assignee.map(str::to_string),
                }
            });
            if stored != expected {
                s.drifted.push((key, stored, expected));
            }
        }
        if rows.len() < 2000 {
            break;
        }
    }
    txn.commit()?;
    Ok(s)
}

fn id(key: u64) -> String {
    IncidentId::from_key(key).to_string()
}

impl PgStore {
    pub(crate) fn check(&self) -> Result<CheckReport, StoreError> {
        let mut conn = self.conn()?;
        let s = scan(&mut conn)?;
        let mut report = CheckReport {
            incidents: s.incidents,
            index_entries: s.entries,
            ..CheckReport::default()
        };
        let p = &mut report.problems;
        for message in s.undecodable {
            p.push(Problem {
                table: ProblemTable::Incidents,
                message,
            });
        }
        for (key, inc) in s.misfiled {
            p.push(Problem {
                table: ProblemTable::Incidents,
                message: format!("record stored under {} says it is {inc}", id(key)),
            });
        }
        for inc in s.too_high {
            p.push(Problem {
                table: ProblemTable::Incidents,
                message: format!(
                    "{inc} has a sequence number above {}, which no longer parses and keeps \
                     that day's counter from handing out new ids",
                    IncidentId::MAX_SEQ
                ),
            });
        }
        for (key, stored, expected) in &s.drifted {
            let (table, what) = if stored.head.1 != expected.head.1 {
                (ProblemTable::ByStatus, "status")
            } else if stored.head.2 != expected.head.2 {
                (ProblemTable::ByCategory, "category")
            } else if stored.head.3 != expected.head.3 {
                (ProblemTable::ByPriority, "priority")
            } else if stored.head.0 != expected.head.0 {
                (ProblemTable::ByCreated, "created_at")
            } else if stored.components != expected.components {
                (ProblemTable::ByComponent, "components")
            } else {
                (ProblemTable::ByAssignee, "assignee")
            };
            p.push(Problem {
                table,
                message: format!(
                    "{what} column of {} is {stored:?}, record says {expected:?}",
                    id(*key)
                ),
            });
        }
        let counters: BTreeMap<u32, u32> = conn
            .query("SELECT day, seq FROM day_counters", &[])?
            .iter()
            .map(|r| (r.get::<_, i32>(0) as u32, r.get::<_, i32>(1) as u32))
            .collect();
        for (date, max) in &s.max_seq {
            let c = counters.get(date).copied().unwrap_or(0);
            if c < *max {
                p.push(Problem {
                    table: ProblemTable::DayCounters,
                    message: format!("counter for {date} is {c}, behind INC-{date:08}-{max:04}"),
                });
            }
        }
        for r in conn.query(
            "SELECT f.error_micros, f.hash, f.incident FROM fingerprints f
             WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = f.incident)
             ORDER BY 1, 2",
            &[],
        )? {
            p.push(Problem {
                table: ProblemTable::Fingerprints,
                message: format!(
                    "fingerprint ({}, {:016x}) points at missing {}",
                    crate::model::Timestamp::from_micros(r.get(0)),
                    r.get::<_, i64>(1) as u64,
                    id(r.get::<_, i64>(2) as u64)
                ),
            });
        }
        for r in conn.query(
            "SELECT DISTINCT pattern FROM incidents i WHERE pattern IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM patterns p WHERE p.id = i.pattern) ORDER BY 1",
            &[],
        )? {
            p.push(Problem {
                table: ProblemTable::Patterns,
                message: format!(
                    "pattern {} has members but no definition",
                    r.get::<_, String>(0)
                ),
            });
        }
        let last_seq: i64 = conn
            .query_opt(
                "SELECT value FROM incident_meta WHERE key = 'outbox_seq'",
                &[],
            )?
            .map_or(0, |r| r.get(0));
        let outbox: Vec<(u64, Result<OutboxEntry, StoreError>)> = conn
            .query("SELECT seq, entry FROM outbox ORDER BY seq", &[])?
            .iter()
            .map(|r| {
                let seq = r.get::<_, i64>(0) as u64;
                (seq, crate::store::outbox::decode(seq, r.get(1)))
            })
            .collect();
        let about: Vec<i64> = outbox
            .iter()
            .filter_map(|(_, e)| e.as_ref().ok())
            .map(|e| e.event.incident.id.key() as i64)
            .collect();
        let stored: BTreeSet<u64> = conn
            .query("SELECT id FROM incidents WHERE id = ANY($1)", &[&about])?
            .iter()
            .map(|r| r.get::<_, i64>(0) as u64)
            .collect();
        let exists = |id: IncidentId| stored.contains(&id.key());
        for (seq, entry) in outbox {
            p.extend(crate::store::outbox::check_entry(
                seq,
                entry,
                last_seq as u64,
                &exists,
            ));
        }
        for r in conn.query(
            "SELECT e.incident, e.step FROM escalations e
             WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = e.incident) ORDER BY 1, 2",
            &[],
        )? {
            p.push(crate::store::outbox::orphan_escalation(
                r.get::<_, i64>(0) as u64,
                r.get(1),
            ));
        }
        for r in conn.query("SELECT id, record FROM patterns ORDER BY id", &[])? {
            let key: String = r.get(0);
            if let Err(e) =
                crate::store::codec::decode::<crate::model::Pattern>(&|| key.clone(), r.get(1))
            {
                p.push(Problem {
                    table: ProblemTable::Patterns,
                    message: e.to_string(),
                });
            }
        }
        Ok(report)
    }

    /// Rewrites drifted columns from their records, moves counters up to the stored
    /// ids and events, and drops fingerprints of missing incidents, in one transaction.
    pub(crate) fn repair(&self) -> Result<(), StoreError> {
        let mut conn = self.conn()?;
        let s = scan(&mut conn)?;
        let mut txn = conn.transaction()?;
        let stmt = txn.prepare(
            "UPDATE incidents SET created_at = $2, status = $3, category = $4, priority = $5,
               components = $6, assignee = $7 WHERE id = $1",
        )?;
        for (key, _, c) in &s.drifted {
            txn.execute(
                &stmt,
                &[
                    &(*key as i64),
                    &c.head.0,
                    &i16::from(c.head.1),
                    &i16::from(c.head.2),
                    &i16::from(c.head.3),
                    &c.components,
                    &c.assignee,
                ],
            )?;
        }
        let (days, seqs): (Vec<i32>, Vec<i32>) = s
            .max_seq
            .iter()
            .map(|(d, s)| (*d as i32, *s as i32))
            .unzip();
        txn.execute(
            "INSERT INTO day_counters (day, seq) SELECT * FROM unnest($1::int[], $2::int[])
             ON CONFLICT (day) DO UPDATE SET seq = GREATEST(day_counters.seq, EXCLUDED.seq)",
            &[&days, &seqs],
        )?;
        txn.batch_execute(
            "DELETE FROM fingerprints f
               WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.id = f.incident);
             INSERT INTO incident_meta (key, value)
               SELECT 'outbox_seq', max(seq) FROM outbox HAVING max(seq) IS NOT NULL
             ON CONFLICT (key) DO UPDATE
               SET value = GREATEST(incident_meta.value, EXCLUDED.value)",
        )?;
        txn.commit()?;
        Ok(())
    }
}
