//! Handing out incident ids.

use super::Snapshot;
use super::schema::DAY_COUNTERS;
use crate::error::StoreError;
use crate::model::IncidentId;

impl Snapshot {
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
