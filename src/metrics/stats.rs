//! Duration summaries over whole seconds: mean, median, nearest-rank p90.

use serde::Serialize;

/// Mean, median and 90th percentile of a set of durations, in seconds.
///
/// Every field but `count` is `null` when `count` is 0.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DurationStats {
    pub count: u64,
    pub mean_seconds: Option<f64>,
    pub median_seconds: Option<f64>,
    pub p90_seconds: Option<f64>,
}

/// Durations collected for one breakdown, as whole seconds (4 bytes each, so a million
/// incidents in several breakdowns stay a few tens of MiB).
#[derive(Clone, Debug, Default)]
pub(crate) struct Durations(Vec<u32>);

impl Durations {
    /// Records a non-negative duration given in microseconds; sub-second parts are
    /// truncated and anything past `u32::MAX` seconds (136 years) saturates.
    pub(crate) fn push_micros(&mut self, micros: i64) {
        let secs = (micros.max(0) / 1_000_000).min(i64::from(u32::MAX));
        self.0.push(secs as u32);
    }

    pub(crate) fn stats(&mut self) -> DurationStats {
        summarize(&mut self.0)
    }
}

/// Summarizes `values` (reordering them).
///
/// Median: the middle value, or the mean of the two middle values for an even count.
/// p90: nearest rank, the value at 1-based rank `ceil(0.9 * n)` in ascending order.
pub(crate) fn summarize(values: &mut [u32]) -> DurationStats {
    let n = values.len();
    if n == 0 {
        return DurationStats::default();
    }
    let sum: u64 = values.iter().map(|&v| u64::from(v)).sum();
    let mid = n / 2;
    let upper_mid = *values.select_nth_unstable(mid).1;
    let median = if n % 2 == 1 {
        f64::from(upper_mid)
    } else {
        let lower_mid = values[..mid].iter().copied().max().unwrap_or(upper_mid);
        (f64::from(lower_mid) + f64::from(upper_mid)) / 2.0
    };
    // ceil(0.9 n) - 1 >= n / 2 for every n >= 1, so the p90 is at or right of the median.
    let p90_index = (9 * n).div_ceil(10) - 1;
    let p90 = if p90_index == mid {
        upper_mid
    } else {
        *values[mid + 1..].select_nth_unstable(p90_index - mid - 1).1
    };
    DurationStats {
        count: n as u64,
        mean_seconds: Some(sum as f64 / n as f64),
        median_seconds: Some(median),
        p90_seconds: Some(f64::from(p90)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_is_all_null() {
        let s = summarize(&mut []);
        assert_eq!(s.count, 0);
        assert_eq!(s.mean_seconds, None);
        assert_eq!(s.p90_seconds, None);
    }

    #[test]
    fn median_and_nearest_rank_p90() {
        // n = 10: median = (5+6)/2 * 60; p90 rank ceil(9) = 9 -> 9th value.
        let mut v: Vec<u32> = (1..=10).rev().map(|m| m * 60).collect();
        let s = summarize(&mut v);
        assert_eq!(s.mean_seconds, Some(330.0));
        assert_eq!(s.median_seconds, Some(330.0));
        assert_eq!(s.p90_seconds, Some(540.0));

        // n = 11: rank ceil(9.9) = 10.
        let mut v: Vec<u32> = (1..=11).collect();
        let s = summarize(&mut v);
        assert_eq!(s.median_seconds, Some(6.0));
        assert_eq!(s.p90_seconds, Some(10.0));

        let mut v = vec![7];
        let s = summarize(&mut v);
        assert_eq!((s.median_seconds, s.p90_seconds), (Some(7.0), Some(7.0)));
    }

    #[test]
    fn selection_matches_sorting() {
        let mut seed = 7u64;
        for n in 1..60 {
            let mut v: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    (seed >> 40) as u32 % 50
                })
                .collect();
            let mut sorted = v.clone();
            sorted.sort_unstable();
            let s = summarize(&mut v);
            let expect_median = if n % 2 == 1 {
                f64::from(sorted[n / 2])
            } else {
                (f64::from(sorted[n / 2 - 1]) + f64::from(sorted[n / 2])) / 2.0
            };
            let rank = (n as f64 * 0.9).ceil() as usize;
            assert_eq!(s.median_seconds, Some(expect_median), "n = {n}");
            assert_eq!(s.p90_seconds, Some(f64::from(sorted[rank - 1])), "n = {n}");
        }
    }

    #[test]
    fn push_truncates_to_seconds() {
        let mut d = Durations::default();
        d.push_micros(1_999_999);
        d.push_micros(-5);
        assert_eq!(d.0, vec![1, 0]);
    }
}
