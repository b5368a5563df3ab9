//! Handing out incident ids.

use rustc_hash::FxHashMap as HashMap;

use super::RedbSnapshot;
use super::schema::DAY_COUNTERS;
use crate::error::StoreError;
use crate::model::IncidentId;

impl RedbSnapshot {
    /// The highest sequence number of `date` that a new id must pass: the day's counter,
    /// and the day's highest stored id (which the counter covers, unless the file was
    /// damaged).
    pub(crate) fn day_floor(&self, date: u32) -> Result<u32, StoreError> {
        let day = IncidentId::new(date, 0).key()..=IncidentId::new(date, u32::MAX).key();
        let stored = self
            .heads
            .range(day)?
            .next_back()
            .transpose()?
            .map_or(0, |(k, _)| IncidentId::from_key(k.value()).seq());
        let counter = self
            .txn
            .open_table(DAY_COUNTERS)?
            .get(date)?
            .map_or(0, |v| v.value());
        Ok(counter.max(stored))
    }
}

/// The one allocator of incident ids. A day's next id is past its floor (what the store
/// says no new id may reach: the day's counter, and for a migration also every stored
/// and reserved id) and past every id handed out or reserved here, so a stored id is
/// never handed out again. The counters it ends at are written back by the writer.
#[derive(Default)]
pub(crate) struct DaySeqs(HashMap<u32, u32>);

impl DaySeqs {
    fn current(
        &mut self,
        date: u32,
        floor: impl FnOnce(u32) -> Result<u32, StoreError>,
    ) -> Result<u32, StoreError> {
        if let Some(&s) = self.0.get(&date) {
            return Ok(s);
        }
        let s = floor(date)?;
        self.0.insert(date, s);
        Ok(s)
    }

    /// Hands out the next id of a local creation date.
    pub(crate) fn next(
        &mut self,
        date: u32,
        floor: impl FnOnce(u32) -> Result<u32, StoreError>,
    ) -> Result<IncidentId, StoreError> {
        let next = self
            .current(date, floor)?
            .checked_add(1)
            .filter(|n| *n <= IncidentId::MAX_SEQ)
            .ok_or(StoreError::CounterExhausted { date })?;
        self.0.insert(date, next);
        Ok(IncidentId::new(date, next))
    }

    /// Takes `seq` of `date`, which came from elsewhere (an import, a carried id, a
    /// batch written through another allocator), so no later id reaches it. Returns the
    /// day's sequence number now.
    pub(crate) fn reserve(
        &mut self,
        date: u32,
        seq: u32,
        floor: impl FnOnce(u32) -> Result<u32, StoreError>,
    ) -> Result<u32, StoreError> {
        let s = self.current(date, floor)?.max(seq);
        self.0.insert(date, s);
        Ok(s)
    }

    /// Every day touched, with its sequence number, in date order; empties the allocator.
    pub(crate) fn take(&mut self) -> Vec<(u32, u32)> {
        let mut out: Vec<(u32, u32)> = self.0.drain().collect();
        out.sort_unstable();
        out
    }
}
