//! Grouping accuracy and the ablation configurations, shared by the evaluation examples.

use std::collections::BTreeMap;

use incident::patterns::miner::MinerConfig;

/// Rows of each group, keyed by group label.
pub(crate) fn groups<K: Ord + Copy>(labels: impl Iterator<Item = K>) -> BTreeMap<K, Vec<usize>> {
    let mut g: BTreeMap<K, Vec<usize>> = BTreeMap::new();
    for (i, k) in labels.enumerate() {
        g.entry(k).or_default().push(i);
    }
    g
}

/// Share of messages whose predicted group holds exactly the rows of their true group.
pub(crate) fn grouping_accuracy<T: Ord + Copy>(pred: &[usize], truth: &[T]) -> f64 {
    let by_pred = groups(pred.iter().copied());
    let correct: usize = groups(truth.iter().copied())
        .values()
        .filter(|rows| by_pred[&pred[rows[0]]] == **rows)
        .map(Vec::len)
        .sum();
    correct as f64 / pred.len().max(1) as f64
}

/// The default configuration, then each grouping step turned off in turn.
pub(crate) fn ablations() -> Vec<(&'static str, MinerConfig)> {
    let off = |f: fn(&mut MinerConfig)| {
        let mut c = MinerConfig::default();
        f(&mut c);
        c
    };
    vec![
        ("default", MinerConfig::default()),
        ("-subsume", off(|c| c.subsume = false)),
        ("-common", off(|c| c.common_pattern = false)),
        ("-distinct", off(|c| c.distinct_values = false)),
        ("-varlen", off(|c| c.merge_variable_length = false)),
        ("-lower", off(|c| c.lower_case_values = false)),
        ("-known", off(|c| c.known_values = false)),
    ]
}
