//! `incident copy`: everything in one store into another, empty one, whatever the two
//! backends: incidents (ids kept), pattern memberships, patterns, fingerprints and day
//! counters, so that the copy exports the same and a migration rerun against it adds
//! nothing.

use serde::Serialize;

use crate::error::{Error, Result, StoreError};
use crate::manager::IncidentManager;
use crate::model::IncidentId;
use crate::store::Bulk;

/// Records per write transaction.
const BATCH: usize = 20_000;

/// What a copy wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct CopySummary {
    pub incidents: u64,
    pub patterns: u64,
    pub pattern_members: u64,
    pub fingerprints: u64,
    pub day_counters: u64,
}

/// Copies `from` into `to`, which must hold no incidents and no patterns. `progress` gets
/// (incidents copied, incidents in all). Each batch is one transaction in `to`; a failure
/// leaves earlier batches there (copy again into an emptied database).
pub fn copy(
    from: &IncidentManager,
    to: &IncidentManager,
    progress: &dyn Fn(u64, u64),
) -> Result<CopySummary> {
    from.store()
        .contain(|| to.store().contain(|| copy_inner(from, to, progress)))
}

fn copy_inner(
    from: &IncidentManager,
    to: &IncidentManager,
    progress: &dyn Fn(u64, u64),
) -> Result<CopySummary> {
    {
        let dest = to.store().snapshot()?;
        let (n, p) = (dest.count()?, dest.patterns()?.len());
        if n > 0 || p > 0 {
            return Err(Error::invalid(
                "destination",
                format!(
                    "{} already holds {n} incidents and {p} patterns; copy only into an empty database",
                    to.store().location()
                ),
            ));
        }
    }
    let src = from.store().snapshot()?;
    let total = src.count()?;
    let mut summary = CopySummary::default();
    let dest = to.store();

    let patterns = src.patterns()?;
    dest.write(|w| {
        for p in &patterns {
            w.put_pattern(p)?;
        }
        Ok::<_, Error>(())
    })?;
    summary.patterns = patterns.len() as u64;

    let mut bulk = Bulk::default();
    let mut members: Vec<(IncidentId, String)> = Vec::new();
    let flush = |bulk: &mut Bulk,
                 members: &mut Vec<(IncidentId, String)>|
     -> std::result::Result<(), StoreError> {
        dest.write(|w| {
            w.flush_bulk(bulk)?;
            for (id, p) in members.drain(..) {
                w.set_pattern(id, Some(&p))?;
            }
            Ok(())
        })
    };
    let mut pending = 0usize;
    src.scan_with_pattern(|inc, pattern| {
        bulk.add(&inc);
        let seq = bulk.counters.entry(inc.id.date()).or_default();
        *seq = (*seq).max(inc.id.seq());
        if let Some(p) = pattern {
            members.push((inc.id, p.to_string()));
            summary.pattern_members += 1;
        }
        summary.incidents += 1;
        pending += 1;
        if pending >= BATCH {
            flush(&mut bulk, &mut members)?;
            pending = 0;
            progress(summary.incidents, total);
        }
        Ok::<_, Error>(())
    })?;
    if pending > 0 {
        flush(&mut bulk, &mut members)?;
    }
    progress(summary.incidents, total);

    let mut fps = 0usize;
    src.each_fingerprint(&mut |key, id| {
        bulk.fingerprints.push((key, id));
        fps += 1;
        if bulk.fingerprints.len() >= BATCH * 5 {
            flush(&mut bulk, &mut members)?;
        }
        Ok(())
    })?;
    if !bulk.fingerprints.is_empty() {
        flush(&mut bulk, &mut members)?;
    }
    summary.fingerprints = fps as u64;
    dest.after_bulk_load(summary.incidents);

    // Counters may run ahead of the stored ids (an incident deleted by hand, a failed
    // import): the copy hands out no id the source would not.
    let counters = src.day_counters()?;
    dest.write(|w| {
        for (date, seq) in &counters {
            w.reserve_id(IncidentId::new(*date, *seq))?;
        }
        Ok::<_, Error>(())
    })?;
    summary.day_counters = counters.len() as u64;

    let copied = dest.snapshot()?.count()?;
    if copied != total {
        return Err(Error::invalid(
            "destination",
            format!("holds {copied} incidents after the copy, the source {total}"),
        ));
    }
    Ok(summary)
}
