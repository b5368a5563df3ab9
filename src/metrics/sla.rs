//! SLA targets per priority and the config-file loader for them.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use super::{AlertState, SlaMeasure};
use crate::model::Priority;

/// Response and resolution targets for one priority, in minutes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SlaTarget {
    /// Created → acknowledged (first move to `in_progress`).
    pub response_minutes: u32,
    /// Created → resolved.
    pub resolution_minutes: u32,
}

impl SlaTarget {
    pub(crate) fn response_micros(self) -> i64 {
        i64::from(self.response_minutes) * 60_000_000
    }

    pub(crate) fn resolution_micros(self) -> i64 {
        i64::from(self.resolution_minutes) * 60_000_000
    }
}

/// SLA targets for every priority.
///
/// Serializes in the same shape the config file's `sla` section uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SlaTargets {
    pub critical: SlaTarget,
    pub high: SlaTarget,
    pub medium: SlaTarget,
    pub low: SlaTarget,
}

impl Default for SlaTargets {
    /// The priority guideline: critical 15 min / 4 h, high 30 min / 24 h,
    /// medium 4 h / 3 days, low 24 h / 1 week.
    fn default() -> Self {
        Self {
            critical: SlaTarget {
                response_minutes: 15,
                resolution_minutes: 4 * 60,
            },
            high: SlaTarget {
                response_minutes: 30,
                resolution_minutes: 24 * 60,
            },
            medium: SlaTarget {
                response_minutes: 4 * 60,
                resolution_minutes: 3 * 24 * 60,
            },
            low: SlaTarget {
                response_minutes: 24 * 60,
                resolution_minutes: 7 * 24 * 60,
            },
        }
    }
}

/// An open incident's deadlines not yet met, as (measure, deadline in UTC microseconds):
/// the response until it is acknowledged (`responded`), the resolution until resolved.
pub(crate) fn open_deadlines(
    target: SlaTarget,
    created: i64,
    responded: Option<i64>,
    resolved: Option<i64>,
) -> [Option<(SlaMeasure, i64)>; 2] {
    [
        responded
            .is_none()
            .then(|| (SlaMeasure::Response, created + target.response_micros())),
        resolved
            .is_none()
            .then(|| (SlaMeasure::Resolution, created + target.resolution_micros())),
    ]
}

/// Where a deadline stands at `now`: breaching once passed, at risk within the hour
/// before it, otherwise on track (`None`).
pub(crate) fn alert_state(deadline: i64, now: i64) -> Option<AlertState> {
    if now > deadline {
        Some(AlertState::Breaching)
    } else if deadline - now < HOUR_MICROS {
        Some(AlertState::AtRisk)
    } else {
        None
    }
}

const HOUR_MICROS: i64 = 3_600_000_000;

/// The SLA config file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("config file {path} is not valid JSON: {source}")]
    Json {
        path: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("config file {path}: {field}: {reason}")]
    Field {
        path: String,
        field: String,
        reason: String,
    },
}

/// The text of the configuration file at `path`, with the name errors give it.
pub(crate) fn read_config(path: &Path) -> Result<(String, String), ConfigError> {
    let shown = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, shown)),
        Err(source) => Err(ConfigError::Read {
            path: shown,
            source,
        }),
    }
}

impl ConfigError {
    /// The configuration file.
    pub(crate) fn path(&self) -> &str {
        match self {
            ConfigError::Read { path, .. }
            | ConfigError::Json { path, .. }
            | ConfigError::Field { path, .. } => path,
        }
    }
}

impl SlaTargets {
    /// The target for one priority.
    pub fn get(&self, priority: Priority) -> SlaTarget {
        match priority {
            Priority::Critical => self.critical,
            Priority::High => self.high,
            Priority::Medium => self.medium,
            Priority::Low => self.low,
        }
    }

    fn get_mut(&mut self, priority: Priority) -> &mut SlaTarget {
        match priority {
            Priority::Critical => &mut self.critical,
            Priority::High => &mut self.high,
            Priority::Medium => &mut self.medium,
            Priority::Low => &mut self.low,
        }
    }

    /// Reads the `sla` section of a JSON config file.
    ///
    /// Shape: `{"sla": {"critical": {"response_minutes": 15, "resolution_minutes": 240}, ...}}`.
    /// Other top-level sections are ignored. A priority or field left out keeps its default;
    /// an unknown priority or field, or a value that is not a whole number of minutes of at
    /// least 1, is an error naming the field (`sla.high.response_minutes`).
    pub fn load(path: &Path) -> crate::Result<Self> {
        Ok(Self::load_inner(path)?)
    }

    fn load_inner(path: &Path) -> Result<Self, ConfigError> {
        let (text, shown) = read_config(path)?;
        Self::from_json_inner(&text, &shown)
    }

    /// Like [`SlaTargets::load`], from JSON text; `origin` names it in errors.
    pub fn from_json(text: &str, origin: &str) -> crate::Result<Self> {
        Ok(Self::from_json_inner(text, origin)?)
    }

    pub(crate) fn from_json_inner(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let root: Value = serde_json::from_str(text).map_err(|source| ConfigError::Json {
            path: origin.to_string(),
            source,
        })?;
        let field_err = |field: String, reason: String| ConfigError::Field {
            path: origin.to_string(),
            field,
            reason,
        };
        let mut targets = Self::default();
        let Some(root) = root.as_object() else {
            return Err(field_err(
                "(top level)".into(),
                "expected a JSON object".into(),
            ));
        };
        let Some(sla) = root.get("sla") else {
            return Ok(targets);
        };
        let Some(sla) = sla.as_object() else {
            return Err(field_err(
                "sla".into(),
                format!("expected an object of priorities, found {}", json_kind(sla)),
            ));
        };
        for (name, section) in sla {
            let field = format!("sla.{name}");
            let priority: Priority = name.parse().map_err(|_| {
                field_err(
                    field.clone(),
                    "unknown priority (expected critical, high, medium, low)".into(),
                )
            })?;
            let Some(section) = section.as_object() else {
                return Err(field_err(
                    field,
                    format!(
                        "expected an object with response_minutes and resolution_minutes, found {}",
                        json_kind(section)
                    ),
                ));
            };
            let target = targets.get_mut(priority);
            for (key, value) in section {
                let field = format!("sla.{name}.{key}");
                let slot = match key.as_str() {
                    "response_minutes" => &mut target.response_minutes,
                    "resolution_minutes" => &mut target.resolution_minutes,
                    _ => {
                        return Err(field_err(
                            field,
                            "unknown field (expected response_minutes, resolution_minutes)".into(),
                        ));
                    }
                };
                *slot = value
                    .as_u64()
                    .filter(|&m| m >= 1)
                    .and_then(|m| u32::try_from(m).ok())
                    .ok_or_else(|| {
                        field_err(
                            field,
                            format!(
                                "expected a whole number of minutes (1 or more), found {value}"
                            ),
                        )
                    })?;
            }
        }
        Ok(targets)
    }
}

/// What a JSON value is, for errors (`expected a number, found a string`).
pub(crate) fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_error(text: &str) -> String {
        match SlaTargets::from_json_inner(text, "cfg.json") {
            Err(e @ ConfigError::Field { .. }) => e.to_string(),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn defaults_follow_the_guideline() {
        let t = SlaTargets::default();
        assert_eq!(t.critical.response_minutes, 15);
        assert_eq!(t.critical.resolution_minutes, 240);
        assert_eq!(t.high.resolution_minutes, 1440);
        assert_eq!(t.medium.response_minutes, 240);
        assert_eq!(t.medium.resolution_minutes, 3 * 1440);
        assert_eq!(t.low.response_minutes, 1440);
        assert_eq!(t.low.resolution_minutes, 7 * 1440);
    }

    #[test]
    fn partial_config_keeps_other_defaults() {
        let t = SlaTargets::from_json_inner(
            r#"{"other": 1, "sla": {"high": {"response_minutes": 10}, "Low": {"resolution_minutes": 60}}}"#,
            "cfg.json",
        )
        .expect("valid config");
        assert_eq!(t.high.response_minutes, 10);
        assert_eq!(t.high.resolution_minutes, 1440);
        assert_eq!(t.low.resolution_minutes, 60);
        assert_eq!(t.critical, SlaTargets::default().critical);
        assert_eq!(
            SlaTargets::from_json_inner("{}", "cfg.json").expect("empty config"),
            SlaTargets::default()
        );
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            field_error(r#"{"sla": {"high": {"response_minutes": "30m"}}}"#),
            r#"config file cfg.json: sla.high.response_minutes: expected a whole number of minutes (1 or more), found "30m""#
        );
        assert_eq!(
            field_error(r#"{"sla": {"urgent": {}}}"#),
            "config file cfg.json: sla.urgent: unknown priority (expected critical, high, medium, low)"
        );
        assert_eq!(
            field_error(r#"{"sla": {"low": {"respond_minutes": 5}}}"#),
            "config file cfg.json: sla.low.respond_minutes: unknown field (expected response_minutes, resolution_minutes)"
        );
        assert!(field_error(r#"{"sla": {"low": {"resolution_minutes": 0}}}"#).contains("found 0"));
        assert!(
            field_error(r#"{"sla": {"low": {"resolution_minutes": -5}}}"#).contains("found -5")
        );
        assert!(field_error(r#"{"sla": []}"#).contains("sla: expected an object"));
    }

    #[test]
    fn bad_json_and_missing_file_are_reported() {
        let e = SlaTargets::from_json_inner("{\"sla\": ", "cfg.json").expect_err("truncated JSON");
        assert!(matches!(e, ConfigError::Json { .. }), "{e}");
        assert!(e.to_string().contains("line 1"), "{e}");
        let e = SlaTargets::load_inner(Path::new("/nonexistent/incident.json"))
            .expect_err("missing file");
        assert!(e.to_string().contains("/nonexistent/incident.json"), "{e}");
    }
}
