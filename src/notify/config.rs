//! The `notify`, `delivery`, `dashboard_url` and `escalation` sections of the config file
//! (the file that holds the SLA targets), resolved and checked; every error names its field.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Map, Value};

use super::event::EventKind;
use crate::escalation::Policy;
use crate::metrics::{ConfigError, SlaTargets, json_kind, read_config};
use crate::model::Priority;

/// How a target wants its request body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// The event as JSON, signed when a secret is set.
    Json,
    /// A Slack incoming-webhook message (blocks).
    Slack,
}

/// A shared secret; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub(crate) fn bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// One notification target (`notify[i]`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub url: String,
    pub format: Format,
    /// Event kinds it takes; `["*"]` is every kind.
    pub events: Vec<EventKind>,
    /// Only incidents at least this urgent.
    pub min_priority: Option<Priority>,
    pub secret: Option<Secret>,
}

impl Target {
    /// Whether this target takes `kind` about an incident of `priority`.
    pub fn takes(&self, kind: EventKind, priority: Priority) -> bool {
        self.events.contains(&kind) && self.min_priority.is_none_or(|m| priority <= m)
    }
}

/// Retry and timeout settings (`delivery`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeliverySettings {
    /// Attempts before a message is dead-lettered.
    pub max_attempts: u32,
    /// Age (from the event) after which a failing message is dead-lettered.
    pub max_age: Duration,
    /// Wait after the first failure; doubles per attempt (with jitter) up to `backoff_max`.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    pub connect_timeout: Duration,
    /// Whole request, connect to last body byte.
    pub request_timeout: Duration,
}

impl Default for DeliverySettings {
    fn default() -> Self {
        Self {
            max_attempts: 12,
            max_age: Duration::from_secs(24 * 3600),
            backoff_initial: Duration::from_secs(1),
            backoff_max: Duration::from_secs(600),
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(10),
        }
    }
}

/// Everything that acts: targets, delivery settings, the dashboard link, the escalation
/// policy and the SLA targets it watches.
#[derive(Clone, Debug, Default)]
pub struct NotifyConfig {
    pub targets: Vec<Target>,
    pub delivery: DeliverySettings,
    /// Base URL of the dashboard; Slack messages link to `<base>/incidents/<id>`.
    pub dashboard_url: Option<String>,
    pub escalation: Policy,
    pub sla: SlaTargets,
    /// The knowledge-base directory whose entry about an incident's pattern goes into its
    /// messages. Not read from the file: the command running the worker sets it
    /// (`--kb-dir`).
    pub kb_dir: Option<PathBuf>,
}

/// Builds the field errors of one config file.
pub(crate) struct Fields<'a> {
    pub(crate) origin: &'a str,
}

impl Fields<'_> {
    pub(crate) fn err(&self, field: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Field {
            path: self.origin.to_string(),
            field: field.into(),
            reason: reason.into(),
        }
    }

    pub(crate) fn object<'v>(
        &self,
        field: &str,
        v: &'v Value,
    ) -> Result<&'v Map<String, Value>, ConfigError> {
        v.as_object()
            .ok_or_else(|| self.err(field, format!("expected an object, found {}", json_kind(v))))
    }

    pub(crate) fn array<'v>(&self, field: &str, v: &'v Value) -> Result<&'v [Value], ConfigError> {
        v.as_array()
            .map(Vec::as_slice)
            .ok_or_else(|| self.err(field, format!("expected an array, found {}", json_kind(v))))
    }

    pub(crate) fn string<'v>(&self, field: &str, v: &'v Value) -> Result<&'v str, ConfigError> {
        match v.as_str().map(str::trim) {
            Some(s) if !s.is_empty() => Ok(s),
            Some(_) => Err(self.err(field, "must not be empty")),
            None => Err(self.err(field, format!("expected a string, found {}", json_kind(v)))),
        }
    }

    pub(crate) fn number(&self, field: &str, v: &Value, min: u64) -> Result<u64, ConfigError> {
        v.as_u64().filter(|n| *n >= min).ok_or_else(|| {
            self.err(
                field,
                format!("expected a whole number of at least {min}, found {v}"),
            )
        })
    }

    pub(crate) fn priority(&self, field: &str, v: &Value) -> Result<Priority, ConfigError> {
        self.string(field, v)?.parse().map_err(|_| {
            self.err(
                field,
                format!("unknown priority {v} (expected critical, high, medium, low)"),
            )
        })
    }

    /// Refuses keys other than `known`.
    pub(crate) fn only(
        &self,
        field: &str,
        obj: &Map<String, Value>,
        known: &[&str],
    ) -> Result<(), ConfigError> {
        match obj.keys().find(|k| !known.contains(&k.as_str())) {
            Some(k) => Err(self.err(
                format!("{field}.{k}"),
                format!("unknown field (expected {})", known.join(", ")),
            )),
            None => Ok(()),
        }
    }
}

impl NotifyConfig {
    /// Reads the config file; a missing section is empty (no targets, no escalation).
    pub fn load(path: &Path) -> crate::Result<Self> {
        Ok(Self::load_inner(path)?)
    }

    fn load_inner(path: &Path) -> Result<Self, ConfigError> {
        let (text, shown) = read_config(path)?;
        Self::from_json_inner(&text, &shown, &|name| std::env::var(name).ok())
    }

    /// Like [`NotifyConfig::load`], from JSON text; `origin` names it in errors and `env`
    /// answers `secret: "env:NAME"`.
    pub fn from_json(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> crate::Result<Self> {
        Ok(Self::from_json_inner(text, origin, env)?)
    }

    fn from_json_inner(
        text: &str,
        origin: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let sla = SlaTargets::from_json_inner(text, origin)?;
        let root: Value = serde_json::from_str(text).map_err(|source| ConfigError::Json {
            path: origin.to_string(),
            source,
        })?;
        let fx = Fields { origin };
        let root = fx.object("(top level)", &root)?;
        let mut config = NotifyConfig {
            sla,
            ..Self::default()
        };
        if let Some(v) = root.get("notify") {
            for (i, t) in fx.array("notify", v)?.iter().enumerate() {
                let target = parse_target(&fx, &format!("notify[{i}]"), t, env)?;
                if config.targets.iter().any(|o| o.name == target.name) {
                    return Err(fx.err(
                        format!("notify[{i}].name"),
                        format!("{:?} is used by an earlier target", target.name),
                    ));
                }
                config.targets.push(target);
            }
        }
        if let Some(v) = root.get("delivery") {
            config.delivery = parse_delivery(&fx, v)?;
        }
        if let Some(v) = root.get("dashboard_url") {
            let url = fx.string("dashboard_url", v)?;
            check_url(&fx, "dashboard_url", url)?;
            config.dashboard_url = Some(url.trim_end_matches('/').to_string());
        }
        if let Some(v) = root.get("escalation") {
            let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
            config.escalation = Policy::parse(&fx, v, &names)?;
        }
        Ok(config)
    }

    /// The target called `name`.
    pub fn target(&self, name: &str) -> Option<&Target> {
        self.targets.iter().find(|t| t.name == name)
    }
}

fn check_url(fx: &Fields<'_>, field: &str, url: &str) -> Result<(), ConfigError> {
    let parsed: Result<ureq::http::Uri, _> = url.parse();
    match parsed {
        Ok(u) if matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some() => Ok(()),
        Ok(_) => Err(fx.err(
            field,
            format!("{url:?} is not an http:// or https:// URL with a host"),
        )),
        Err(e) => Err(fx.err(field, format!("{url:?} is not a valid URL: {e}"))),
    }
}

fn parse_target(
    fx: &Fields<'_>,
    field: &str,
    v: &Value,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Target, ConfigError> {
    let obj = fx.object(field, v)?;
    fx.only(
        field,
        obj,
        &["name", "url", "format", "events", "min_priority", "secret"],
    )?;
    let required = |key: &str| {
        obj.get(key)
            .ok_or_else(|| fx.err(format!("{field}.{key}"), "required"))
    };
    let name = fx.string(&format!("{field}.name"), required("name")?)?;
    let url = fx.string(&format!("{field}.url"), required("url")?)?;
    check_url(fx, &format!("{field}.url"), url)?;
    let format = match obj.get("format") {
        None => Format::Json,
        Some(f) => match fx.string(&format!("{field}.format"), f)? {
            "json" => Format::Json,
            "slack" => Format::Slack,
            other => {
                return Err(fx.err(
                    format!("{field}.format"),
                    format!("unknown format {other:?} (expected json, slack)"),
                ));
            }
        },
    };
    let mut events = Vec::new();
    for (j, e) in fx
        .array(&format!("{field}.events"), required("events")?)?
        .iter()
        .enumerate()
    {
        let ef = format!("{field}.events[{j}]");
        match fx.string(&ef, e)? {
            "*" => events.extend(EventKind::ALL),
            name => events.push(name.parse().map_err(|()| {
                fx.err(
                    &ef,
                    format!(
                        "unknown event {name:?} (expected *, {})",
                        EventKind::ALL.map(EventKind::as_str).join(", ")
                    ),
                )
            })?),
        }
    }
    if events.is_empty() {
        return Err(fx.err(
            format!("{field}.events"),
            "names no event (use [\"*\"] for all)",
        ));
    }
    let min_priority = obj
        .get("min_priority")
        .map(|p| fx.priority(&format!("{field}.min_priority"), p))
        .transpose()?;
    let secret = match obj.get("secret") {
        None => None,
        Some(s) => {
            let sf = format!("{field}.secret");
            let s = fx.string(&sf, s)?;
            Some(Secret(match s.strip_prefix("env:") {
                Some(var) => env(var)
                    .filter(|v| !v.is_empty())
                    .ok_or_else(|| fx.err(&sf, format!("environment variable {var} is not set")))?,
                None => s.to_string(),
            }))
        }
    };
    Ok(Target {
        name: name.to_string(),
        url: url.to_string(),
        format,
        events,
        min_priority,
        secret,
    })
}

fn parse_delivery(fx: &Fields<'_>, v: &Value) -> Result<DeliverySettings, ConfigError> {
    let obj = fx.object("delivery", v)?;
    const KNOWN: [&str; 6] = [
        "max_attempts",
        "max_age_hours",
        "backoff_initial_ms",
        "backoff_max_ms",
        "connect_timeout_ms",
        "request_timeout_ms",
    ];
    fx.only("delivery", obj, &KNOWN)?;
    let mut d = DeliverySettings::default();
    for (key, v) in obj {
        let field = format!("delivery.{key}");
        let n = fx.number(&field, v, 1)?;
        let ms = Duration::from_millis(n);
        match key.as_str() {
            "max_attempts" => {
                d.max_attempts = u32::try_from(n).map_err(|_| fx.err(&field, "too large"))?
            }
            "max_age_hours" => d.max_age = Duration::from_secs(n.saturating_mul(3600)),
            "backoff_initial_ms" => d.backoff_initial = ms,
            "backoff_max_ms" => d.backoff_max = ms,
            "connect_timeout_ms" => d.connect_timeout = ms,
            _ => d.request_timeout = ms,
        }
    }
    Ok(d)
}

/// The error `text` gives as a config file `cfg.json` (tests of the sections it holds).
#[cfg(test)]
pub(crate) fn config_error(text: &str) -> String {
    match NotifyConfig::from_json(text, "cfg.json", &|_| None) {
        Err(e) => e.to_string(),
        Ok(c) => panic!("expected an error, got {c:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::config_error;
    use super::*;

    #[test]
    fn the_issue_example_loads() {
        let text = r#"{
          "notify": [
            {"name": "ops-slack", "url": "https://hooks.slack.com/services/x", "format": "slack",
             "events": ["created", "escalated", "sla_at_risk", "sla_breached", "resolved", "reopened"],
             "min_priority": "high"},
            {"name": "ticketing", "url": "http://127.0.0.1:9000/hook", "format": "json",
             "secret": "env:TICKET_HOOK_SECRET", "events": ["*"]}
          ],
          "escalation": {
            "critical": [{"after_minutes": 10, "unless": "acknowledged", "notify": ["ops-slack"], "assign": "oncall-lead"},
                         {"after_minutes": 60, "unless": "resolved", "notify": ["ops-slack"], "note": "エスカレーション: 1時間未解決"}],
            "high": [{"after_minutes": 30, "unless": "acknowledged", "raise_priority": "critical"}]
          }
        }"#;
        let env = |n: &str| (n == "TICKET_HOOK_SECRET").then(|| "s3cret".to_string());
        let c = NotifyConfig::from_json(text, "cfg.json", &env).expect("valid");
        assert_eq!(c.targets.len(), 2);
        assert!(c.targets[0].takes(EventKind::Created, Priority::Critical));
        assert!(!c.targets[0].takes(EventKind::Created, Priority::Medium));
        assert!(!c.targets[0].takes(EventKind::Changed, Priority::Critical));
        assert!(c.targets[1].takes(EventKind::Changed, Priority::Low));
        assert_eq!(
            c.targets[1].secret.as_ref().map(Secret::bytes),
            Some(&b"s3cret"[..])
        );
        assert!(
            !format!("{c:?}").contains("s3cret"),
            "secrets are never printed"
        );
        assert_eq!(c.escalation.steps(Priority::Critical).len(), 2);
    }

    #[test]
    fn errors_name_the_field() {
        assert_eq!(
            config_error(
                r#"{"notify": [{"name": "a", "url": "http://x/", "events": ["*"]}, {"name": "b", "url": "ftp://x", "events": ["*"]}]}"#
            ),
            r#"config file cfg.json: notify[1].url: "ftp://x" is not an http:// or https:// URL with a host"#
        );
        assert_eq!(
            config_error(
                r#"{"notify": [{"name": "a", "url": "http://x/", "events": ["created", "done"]}]}"#
            ),
            "config file cfg.json: notify[0].events[1]: unknown event \"done\" (expected *, created, changed, escalated, sla_at_risk, sla_breached, resolved, reopened)"
        );
        assert_eq!(
            config_error(
                r#"{"notify": [{"name": "a", "url": "http://x/", "events": ["*"], "secret": "env:NOPE"}]}"#
            ),
            "config file cfg.json: notify[0].secret: environment variable NOPE is not set"
        );
        assert_eq!(
            config_error(r#"{"notify": [{"url": "http://x/", "events": ["*"]}]}"#),
            "config file cfg.json: notify[0].name: required"
        );
        assert_eq!(
            config_error(
                r#"{"notify": [{"name": "a", "url": "http://x/", "events": ["*"], "fmt": "json"}]}"#
            ),
            "config file cfg.json: notify[0].fmt: unknown field (expected name, url, format, events, min_priority, secret)"
        );
        assert_eq!(
            config_error(
                r#"{"notify": [{"name": "a", "url": "http://x/", "events": ["*"], "format": "teams"}]}"#
            ),
            "config file cfg.json: notify[0].format: unknown format \"teams\" (expected json, slack)"
        );
        assert_eq!(
            config_error(r#"{"delivery": {"max_attempts": 0}}"#),
            "config file cfg.json: delivery.max_attempts: expected a whole number of at least 1, found 0"
        );
        assert_eq!(
            config_error(
                r#"{"notify": [{"name": "a", "url": "http://x/", "events": ["*"]}, {"name": "a", "url": "http://y/", "events": ["*"]}]}"#
            ),
            "config file cfg.json: notify[1].name: \"a\" is used by an earlier target"
        );
    }
}
