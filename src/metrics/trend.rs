//! Trend periods: ISO weeks or calendar months, in a fixed UTC offset.

use chrono::{Datelike, Days, FixedOffset, Months, NaiveDate};
use serde::Serialize;

use crate::model::Timestamp;

/// The length of one trend period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Period {
    /// ISO 8601 week, Monday to Sunday, labelled `2025-W07`.
    #[default]
    Week,
    /// Calendar month, labelled `2025-07`.
    Month,
}

/// Past this many periods between the first and the last incident, empty periods are not
/// filled in (a stray timestamp in year 1970 must not produce thousands of rows).
const MAX_FILLED_PERIODS: usize = 520;

impl Period {
    /// The first day of the period holding `ts`, as seen in `offset`.
    pub(crate) fn start_of(self, ts: Timestamp, offset: FixedOffset) -> NaiveDate {
        let date = ts.to_datetime().with_timezone(&offset).date_naive();
        self.start_of_date(date)
    }

    fn start_of_date(self, date: NaiveDate) -> NaiveDate {
        match self {
            Period::Week => date
                .checked_sub_days(Days::new(u64::from(date.weekday().num_days_from_monday())))
                .unwrap_or(date),
            Period::Month => date.with_day(1).unwrap_or(date),
        }
    }

    fn next(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Period::Week => start.checked_add_days(Days::new(7)),
            Period::Month => start.checked_add_months(Months::new(1)),
        }
    }

    /// The period holding `ts` and its bounds in µs since the epoch, `[start, end)`.
    pub(crate) fn locate(self, ts: Timestamp, offset: FixedOffset) -> (NaiveDate, i64, i64) {
        let start = self.start_of(ts, offset);
        let micros = |d: NaiveDate| {
            d.and_hms_opt(0, 0, 0)
                .and_then(|dt| dt.and_local_timezone(offset).single())
                .map(|dt| dt.timestamp_micros())
        };
        match (micros(start), self.next(start).and_then(micros)) {
            (Some(lo), Some(hi)) => (start, lo, hi),
            // Out of chrono's range: an empty range, so it is never reused.
            _ => (start, ts.micros(), ts.micros()),
        }
    }

    /// `2025-W07` or `2025-07`.
    pub(crate) fn label(self, start: NaiveDate) -> String {
        match self {
            Period::Week => {
                let w = start.iso_week();
                format!("{}-W{:02}", w.year(), w.week())
            }
            Period::Month => format!("{}-{:02}", start.year(), start.month()),
        }
    }

    /// Every period start from `first` to `last` inclusive, or `None` when that would be
    /// more than [`MAX_FILLED_PERIODS`].
    pub(crate) fn span(self, first: NaiveDate, last: NaiveDate) -> Option<Vec<NaiveDate>> {
        let mut out = Vec::new();
        let mut cur = first;
        while cur <= last {
            if out.len() == MAX_FILLED_PERIODS {
                return None;
            }
            out.push(cur);
            cur = self.next(cur)?;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    #[test]
    fn iso_weeks_cross_the_year() {
        // 2025-12-31 is a Wednesday in ISO week 2026-W01.
        let start = Period::Week.start_of_date(date(2025, 12, 31));
        assert_eq!(start, date(2025, 12, 29));
        assert_eq!(Period::Week.label(start), "2026-W01");
        assert_eq!(
            Period::Month.label(Period::Month.start_of_date(date(2025, 7, 9))),
            "2025-07"
        );
    }

    #[test]
    fn offset_decides_the_day() {
        // Monday 2025-07-07 00:30 at +09:00 is Sunday 15:30 UTC.
        let ts = Timestamp::parse("2025-07-07T00:30:00+09:00").expect("time");
        let jst = FixedOffset::east_opt(9 * 3600).expect("offset");
        let utc = FixedOffset::east_opt(0).expect("offset");
        assert_eq!(Period::Week.start_of(ts, jst), date(2025, 7, 7));
        assert_eq!(Period::Week.start_of(ts, utc), date(2025, 6, 30));
    }

    #[test]
    fn locate_gives_the_bounds() {
        let jst = FixedOffset::east_opt(9 * 3600).expect("offset");
        let ts = Timestamp::parse("2025-07-09T12:00:00+09:00").expect("time");
        let (start, lo, hi) = Period::Week.locate(ts, jst);
        assert_eq!(start, date(2025, 7, 7));
        assert_eq!(
            lo,
            Timestamp::parse("2025-07-07T00:00:00+09:00")
                .expect("time")
                .micros()
        );
        assert_eq!(hi - lo, 7 * 86_400_000_000);
    }

    #[test]
    fn span_fills_gaps_but_not_forever() {
        let s = Period::Month
            .span(date(2025, 11, 1), date(2026, 2, 1))
            .expect("short span");
        assert_eq!(s.len(), 4);
        assert!(
            Period::Week
                .span(date(1970, 1, 5), date(2025, 1, 6))
                .is_none()
        );
    }
}
