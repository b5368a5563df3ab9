//! Error-history statistics for the integrated report, computed while streaming.

use std::collections::HashMap;

use serde::Serialize;

use super::mapping::ErrorRecord;

/// Counts over an error history.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ErrorStats {
    pub total_errors: u64,
    /// Errors with `success: true`.
    pub resolved_errors: u64,
    /// Percent resolved, one decimal, as the original tool reported it.
    pub resolution_rate: f64,
    /// Errors without a pattern id.
    pub unmatched_errors: u64,
    /// Most frequent first, then by id.
    pub patterns: Vec<PatternStat>,
    /// Most frequent first, then by name.
    pub error_types: Vec<TypeCount>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatternStat {
    pub pattern_id: String,
    pub count: u64,
    pub resolved: u64,
    pub resolution_rate: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TypeCount {
    pub error_type: String,
    pub count: u64,
    pub resolved: u64,
}

/// Accumulates [`ErrorStats`] one record at a time.
#[derive(Debug, Default)]
pub struct ErrorStatsBuilder {
    total: u64,
    resolved: u64,
    unmatched: u64,
    patterns: HashMap<Box<str>, (u64, u64)>,
    types: HashMap<Box<str>, (u64, u64)>,
}

fn bump(map: &mut HashMap<Box<str>, (u64, u64)>, key: &str, success: bool) {
    let entry = match map.get_mut(key) {
        Some(e) => e,
        None => map.entry(key.into()).or_default(),
    };
    entry.0 += 1;
    entry.1 += u64::from(success);
}

fn rate(resolved: u64, count: u64) -> f64 {
    if count == 0 {
        0.0
    } else {
        (resolved as f64 * 1000.0 / count as f64).round() / 10.0
    }
}

impl ErrorStatsBuilder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, record: &ErrorRecord<'_>) {
        self.total += 1;
        self.resolved += u64::from(record.success);
        match record.pattern_id.as_deref() {
            Some(p) => bump(&mut self.patterns, p, record.success),
            None => self.unmatched += 1,
        }
        bump(&mut self.types, &record.error_type, record.success);
    }

    pub fn finish(self) -> ErrorStats {
        let mut patterns: Vec<PatternStat> = self
            .patterns
            .into_iter()
            .map(|(id, (count, resolved))| PatternStat {
                pattern_id: id.into(),
                count,
                resolved,
                resolution_rate: rate(resolved, count),
            })
            .collect();
        patterns.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.pattern_id.cmp(&b.pattern_id))
        });
        let mut error_types: Vec<TypeCount> = self
            .types
            .into_iter()
            .map(|(t, (count, resolved))| TypeCount {
                error_type: t.into(),
                count,
                resolved,
            })
            .collect();
        error_types.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.error_type.cmp(&b.error_type))
        });
        ErrorStats {
            total_errors: self.total,
            resolved_errors: self.resolved,
            resolution_rate: rate(self.resolved, self.total),
            unmatched_errors: self.unmatched,
            patterns,
            error_types,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::error_history::ErrorReader;

    #[test]
    fn counts_match_the_generated_summary() {
        let mut doc = Vec::new();
        crate::import::error_history::generate(3000, 11, 0.0, &mut doc).unwrap();
        let mut reader = ErrorReader::new(&doc[..]);
        let mut b = ErrorStatsBuilder::new();
        while let Some(r) = reader.read_record().unwrap() {
            b.add(&r);
        }
        let stats = b.finish();
        let meta = reader.metadata().unwrap();
        assert_eq!(stats.total_errors, 3000);
        assert_eq!(meta["resolved_errors"], stats.resolved_errors);
        let summary = reader.pattern_statistics().unwrap();
        for p in &stats.patterns {
            assert_eq!(summary[&p.pattern_id]["count"], p.count, "{}", p.pattern_id);
            assert_eq!(summary[&p.pattern_id]["resolution_rate"], p.resolution_rate);
        }
        let typed: u64 = stats.error_types.iter().map(|t| t.count).sum();
        assert_eq!(typed, 3000);
        assert!(stats.patterns.windows(2).all(|w| w[0].count >= w[1].count));
    }
}
