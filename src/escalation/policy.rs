//! The escalation policy: per priority, ordered steps that fire a set time after creation.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::metrics::ConfigError;
use crate::model::Priority;
use crate::notify::config::Fields;

/// A condition that keeps a step from firing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unless {
    /// Moved to in_progress (or resolved) by then.
    Acknowledged,
    /// Resolved or closed at that time.
    Resolved,
}

impl fmt::Display for Unless {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unless::Acknowledged => "acknowledged",
            Unless::Resolved => "resolved",
        })
    }
}

/// One step: when it is due and what it does.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Step {
    pub after_minutes: u32,
    pub unless: Option<Unless>,
    /// Targets (by `notify[].name`) that get the `escalated` event.
    pub notify: Vec<String>,
    pub assign: Option<String>,
    pub raise_priority: Option<Priority>,
    pub note: Option<String>,
}

impl Step {
    pub(crate) fn after_micros(&self) -> i64 {
        i64::from(self.after_minutes) * 60_000_000
    }
}

/// Steps per priority (`escalation.<priority>[i]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    steps: [Vec<Step>; Priority::COUNT],
}

impl Policy {
    /// The steps for incidents of `priority`, in configured order.
    pub fn steps(&self, priority: Priority) -> &[Step] {
        &self.steps[usize::from(priority.code())]
    }

    /// Whether no priority has a step.
    pub fn is_empty(&self) -> bool {
        self.steps.iter().all(Vec::is_empty)
    }

    /// Adds a step for `priority` (after the configured ones).
    pub fn push(&mut self, priority: Priority, step: Step) {
        self.steps[usize::from(priority.code())].push(step);
    }

    /// Parses the `escalation` section; `targets` are the names `notify` may use.
    pub(crate) fn parse(
        fx: &Fields<'_>,
        v: &Value,
        targets: &[&str],
    ) -> Result<Policy, ConfigError> {
        let mut policy = Policy::default();
        for (name, steps) in fx.object("escalation", v)? {
            let field = format!("escalation.{name}");
            let priority: Priority = name.parse().map_err(|_| {
                fx.err(
                    &field,
                    "unknown priority (expected critical, high, medium, low)",
                )
            })?;
            for (i, s) in fx.array(&field, steps)?.iter().enumerate() {
                let field = format!("{field}[{i}]");
                let obj = fx.object(&field, s)?;
                fx.only(
                    &field,
                    obj,
                    &[
                        "after_minutes",
                        "unless",
                        "notify",
                        "assign",
                        "raise_priority",
                        "note",
                    ],
                )?;
                let f = |k: &str| format!("{field}.{k}");
                let after = obj
                    .get("after_minutes")
                    .ok_or_else(|| fx.err(f("after_minutes"), "required"))?;
                let after_minutes = u32::try_from(fx.number(&f("after_minutes"), after, 0)?)
                    .map_err(|_| fx.err(f("after_minutes"), "too large"))?;
                let unless = match obj.get("unless") {
                    None => None,
                    Some(u) => Some(match fx.string(&f("unless"), u)? {
                        "acknowledged" => Unless::Acknowledged,
                        "resolved" => Unless::Resolved,
                        other => {
                            return Err(fx.err(
                                f("unless"),
                                format!(
                                    "unknown condition {other:?} (expected acknowledged, resolved)"
                                ),
                            ));
                        }
                    }),
                };
                let mut notify = Vec::new();
                if let Some(n) = obj.get("notify") {
                    for (j, t) in fx.array(&f("notify"), n)?.iter().enumerate() {
                        let tf = format!("{field}.notify[{j}]");
                        let t = fx.string(&tf, t)?;
                        if !targets.contains(&t) {
                            return Err(fx.err(tf, format!("no notify target is named {t:?}")));
                        }
                        notify.push(t.to_string());
                    }
                }
                let text = |k: &str| {
                    obj.get(k)
                        .map(|v| fx.string(&f(k), v).map(str::to_string))
                        .transpose()
                };
                let raise_priority = obj
                    .get("raise_priority")
                    .map(|p| fx.priority(&f("raise_priority"), p))
                    .transpose()?;
                policy.push(
                    priority,
                    Step {
                        after_minutes,
                        unless,
                        notify,
                        assign: text("assign")?,
                        raise_priority,
                        note: text("note")?,
                    },
                );
            }
        }
        Ok(policy)
    }
}

#[cfg(test)]
mod tests {
    use crate::notify::config::config_error;

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            config_error(r#"{"escalation": {"urgent": []}}"#),
            "config file cfg.json: escalation.urgent: unknown priority (expected critical, high, medium, low)"
        );
        assert_eq!(
            config_error(r#"{"escalation": {"high": [{"unless": "resolved"}]}}"#),
            "config file cfg.json: escalation.high[0].after_minutes: required"
        );
        assert_eq!(
            config_error(r#"{"escalation": {"high": [{"after_minutes": 5, "notify": ["ops"]}]}}"#),
            "config file cfg.json: escalation.high[0].notify[0]: no notify target is named \"ops\""
        );
        assert_eq!(
            config_error(r#"{"escalation": {"high": [{"after_minutes": 5, "unless": "seen"}]}}"#),
            "config file cfg.json: escalation.high[0].unless: unknown condition \"seen\" (expected acknowledged, resolved)"
        );
        assert_eq!(
            config_error(r#"{"escalation": {"low": [{"after_minutes": -1}]}}"#),
            "config file cfg.json: escalation.low[0].after_minutes: expected a whole number of at least 0, found -1"
        );
        assert_eq!(
            config_error(
                r#"{"escalation": {"low": [{"after_minutes": 1, "raise_priority": "urgent"}]}}"#
            ),
            "config file cfg.json: escalation.low[0].raise_priority: unknown priority \"urgent\" (expected critical, high, medium, low)"
        );
    }
}
