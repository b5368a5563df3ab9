//! Metrics over the store: one streaming pass that feeds [`MetricsBuilder`], with each
//! incident's pattern (when analysis has run) for recurrence.

use std::collections::HashMap;

use super::{ErrorHistoryBuilder, Metrics, MetricsBuilder, MetricsOptions, SlaTargets};
use crate::error::Result;
use crate::manager::IncidentManager;
use crate::model::Origin;

/// Which incidents the main figures (MTTR, SLA, recurrence...) cover.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum OriginScope {
    /// Incidents people raised, through the CLI or the API, and imported ones; migrated
    /// errors get their own section.
    #[default]
    Handled,
    /// Exactly these origins, migrated errors included among them when named.
    Only(Vec<Origin>),
}

/// Computes every metric of `incident report` in one pass over the store.
pub fn compute_metrics(
    manager: &IncidentManager,
    opts: MetricsOptions,
    targets: SlaTargets,
    scope: &OriginScope,
) -> Result<Metrics> {
    let names: HashMap<String, String> = manager
        .patterns()?
        .into_iter()
        .map(|p| (p.id, p.name))
        .collect();
    let window = opts.clone();
    let mut builder = MetricsBuilder::new(opts, targets).with_pattern_names(names);
    let mut errors = ErrorHistoryBuilder::default();
    manager.for_each_with_pattern(|inc, pattern| {
        match scope {
            OriginScope::Handled if inc.origin == Origin::Migrated => {
                if window.in_window(inc.created_at) {
                    errors.add(&inc);
                }
            }
            OriginScope::Only(origins) if !origins.contains(&inc.origin) => {}
            _ => builder.add_with_pattern(&inc, pattern),
        }
        Ok(())
    })?;
    let mut metrics = builder.finish();
    match scope {
        OriginScope::Handled => {
            metrics.origins = Origin::ALL
                .iter()
                .copied()
                .filter(|o| *o != Origin::Migrated)
                .collect();
            metrics.error_history = Some(errors.finish(window.top_n));
        }
        OriginScope::Only(origins) => metrics.origins = origins.clone(),
    }
    Ok(metrics)
}
