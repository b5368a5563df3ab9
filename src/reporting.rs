//! Metrics over the store: one streaming pass that feeds [`MetricsBuilder`], with each
//! incident's pattern (when analysis has run) for recurrence.

use std::collections::HashMap;

use crate::analysis::load_patterns;
use crate::error::Result;
use crate::manager::IncidentManager;
use crate::metrics::{Metrics, MetricsBuilder, MetricsOptions, SlaTargets};

/// Computes every metric of `incident report` in one pass over the store.
pub fn compute_metrics(
    manager: &IncidentManager,
    opts: MetricsOptions,
    targets: SlaTargets,
) -> Result<Metrics> {
    let names: HashMap<String, String> = load_patterns(manager)?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let mut builder = MetricsBuilder::new(opts, targets).with_pattern_names(names);
    manager.for_each_with_pattern(|inc, pattern| {
        builder.add_with_pattern(&inc, pattern);
        Ok(())
    })?;
    Ok(builder.finish())
}
