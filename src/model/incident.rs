//! What an incident is: its record, the enums that classify it, and the limits on what
//! one incident may hold.

use std::fmt;
use std::str::FromStr;

use bincode::{Decode, Encode};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{IncidentId, Timestamp};
use crate::error::ParseError;

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, $what:literal { $($variant:ident = $code:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// How many values there are. Codes are `0..COUNT` (checked when compiling), so
            /// a code indexes an array of this length.
            pub const COUNT: usize = Self::ALL.len();

            /// The lowercase name used in JSON, on the command line and in the original tool.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// The one-byte code used as an index key. Codes never change meaning.
            pub const fn code(self) -> u8 {
                match self { $($name::$variant => $code),+ }
            }

            /// The value for an index code.
            pub fn from_code(code: u8) -> Option<Self> {
                match code { $($code => Some($name::$variant),)+ _ => None }
            }
        }

        const _: () = {
            let mut i = 0;
            while i < $name::ALL.len() {
                assert!($name::ALL[i].code() as usize == i, "codes must be 0..COUNT in order");
                i += 1;
            }
        };

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = ParseError;
            fn from_str(s: &str) -> Result<Self, ParseError> {
                let lower = s.trim().to_ascii_lowercase().replace('-', "_");
                match lower.as_str() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ParseError::Value {
                        what: $what,
                        value: s.to_string(),
                        expected: [$($text),+].join(", "),
                    }),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

string_enum!(
    /// What kind of incident this is.
    Category, "category" {
        Error = 0 => "error",
        Failure = 1 => "failure",
        Request = 2 => "request",
        Change = 3 => "change",
        Security = 4 => "security",
        Performance = 5 => "performance",
    }
);

string_enum!(
    /// How urgent an incident is; each priority has response and resolution targets.
    Priority, "priority" {
        Critical = 0 => "critical",
        High = 1 => "high",
        Medium = 2 => "medium",
        Low = 3 => "low",
    }
);

string_enum!(
    /// Where an incident is in its lifecycle.
    Status, "status" {
        Open = 0 => "open",
        InProgress = 1 => "in_progress",
        Resolved = 2 => "resolved",
        Closed = 3 => "closed",
    }
);

string_enum!(
    /// Where an incident came from.
    Origin, "origin" {
        Manual = 0 => "manual",
        Api = 1 => "api",
        Migrated = 2 => "migrated",
        Imported = 3 => "imported",
    }
);

impl Default for Origin {
    /// Raised by a person: what an incident without a recorded origin is taken to be.
    fn default() -> Self {
        Origin::Manual
    }
}

impl Status {
    /// Open or in progress: still needs someone.
    pub fn is_active(self) -> bool {
        matches!(self, Status::Open | Status::InProgress)
    }
}

impl Priority {
    /// Weight used for component impact: critical counts 8, high 4, medium 2, low 1.
    pub fn weight(self) -> u32 {
        match self {
            Priority::Critical => 8,
            Priority::High => 4,
            Priority::Medium => 2,
            Priority::Low => 1,
        }
    }
}

/// What one incident may hold. Every way in (the CLI, `import`, `bridge migrate`) is held
/// to these, so that no single record can make writes, reports or exports expensive.
pub mod limits {
    /// Affected components of one incident.
    pub const COMPONENTS: usize = 1_000;
    /// Bytes of one component or assignee name (each is an index key).
    pub const NAME_BYTES: usize = 1_024;
    /// Bytes of the title.
    pub const TITLE_BYTES: usize = 4_096;
    /// Bytes of any other text: description, impact, root cause, each list item, each
    /// timeline entry's details.
    pub const TEXT_BYTES: usize = 65_536;
    /// Items of each resolution list (actions, preventive measures, knowledge updates).
    pub const LIST_ITEMS: usize = 1_000;
    /// Timeline entries of one incident. Notes and updates stop there; resolve, close
    /// and reopen still work, so a full incident can always be closed.
    pub const TIMELINE: usize = 10_000;
}

/// One line of an incident's history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct TimelineEntry {
    pub timestamp: Timestamp,
    pub action: String,
    pub details: String,
    /// Who made the change: a server token's name, or the local user of the CLI. Absent
    /// for entries written before it was recorded, and for migrated errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
}

/// How an incident was resolved. `resolved_at` is `None` when the time is unknown.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Resolution {
    #[serde(default)]
    pub actions_taken: Vec<String>,
    #[serde(default)]
    pub root_cause: String,
    #[serde(default)]
    pub preventive_measures: Vec<String>,
    #[serde(default)]
    pub knowledge_updates: Vec<String>,
    #[serde(default)]
    pub resolved_at: Option<Timestamp>,
}

/// A known pattern this incident matched when it was created (or analysed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct PatternRef {
    pub pattern_id: String,
    pub name: String,
}

/// An incident: one record in the store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, Encode, Decode)]
pub struct Incident {
    pub id: IncidentId,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub category: Category,
    pub priority: Priority,
    pub status: Status,
    pub title: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub affected_components: Vec<String>,
    #[serde(default)]
    pub impact: String,
    #[serde(default)]
    pub assignee: Option<String>,
    #[serde(default)]
    pub timeline: Vec<TimelineEntry>,
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// First move to `in_progress`; the response SLA is measured to it.
    #[serde(default)]
    pub acknowledged_at: Option<Timestamp>,
    /// Pattern matched when the incident was created, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub matched_pattern: Option<PatternRef>,
    /// Raised by a person, by the API, migrated from the error history, or imported.
    #[serde(default)]
    pub origin: Origin,
}

impl Incident {
    /// Checks [`limits`], naming the field that exceeds one.
    pub fn check_limits(&self) -> Result<(), crate::error::Error> {
        if self.timeline.len() > limits::TIMELINE {
            return Err(crate::error::Error::invalid(
                "timeline",
                format!(
                    "{} entries, more than the limit of {}",
                    self.timeline.len(),
                    limits::TIMELINE
                ),
            ));
        }
        self.check_content_limits()
    }

    /// [`Incident::check_limits`] without the number of timeline entries.
    pub(crate) fn check_content_limits(&self) -> Result<(), crate::error::Error> {
        use limits::*;
        let over =
            |field: &'static str, reason: String| Err(crate::error::Error::invalid(field, reason));
        let text = |field: &'static str, s: &str, max: usize| {
            if s.len() > max {
                over(
                    field,
                    format!("{} bytes, more than the limit of {max}", s.len()),
                )
            } else {
                Ok(())
            }
        };
        let list = |field: &'static str, v: &[String], items: usize, bytes: usize| {
            if v.len() > items {
                return over(
                    field,
                    format!("{} items, more than the limit of {items}", v.len()),
                );
            }
            v.iter().try_for_each(|s| text(field, s, bytes))
        };
        text("title", &self.title, TITLE_BYTES)?;
        text("description", &self.description, TEXT_BYTES)?;
        text("impact", &self.impact, TEXT_BYTES)?;
        list(
            "components",
            &self.affected_components,
            COMPONENTS,
            NAME_BYTES,
        )?;
        if let Some(a) = &self.assignee {
            text("assignee", a, NAME_BYTES)?;
        }
        for e in &self.timeline {
            text("timeline action", &e.action, NAME_BYTES)?;
            text("timeline details", &e.details, TEXT_BYTES)?;
        }
        if let Some(r) = &self.resolution {
            list("actions", &r.actions_taken, LIST_ITEMS, TEXT_BYTES)?;
            text("root cause", &r.root_cause, TEXT_BYTES)?;
            list(
                "preventive measures",
                &r.preventive_measures,
                LIST_ITEMS,
                TEXT_BYTES,
            )?;
            list(
                "knowledge updates",
                &r.knowledge_updates,
                LIST_ITEMS,
                TEXT_BYTES,
            )?;
        }
        Ok(())
    }

    /// When the current resolution was recorded, if the incident is resolved or closed and
    /// the time is known (an error history records none: such incidents are resolved at an
    /// unknown time, never "in zero seconds").
    pub fn resolved_at(&self) -> Option<Timestamp> {
        if matches!(self.status, Status::Resolved | Status::Closed) {
            self.resolution.as_ref().and_then(|r| r.resolved_at)
        } else {
            None
        }
    }

    /// How many times the incident was reopened.
    pub fn reopen_count(&self) -> usize {
        self.timeline
            .iter()
            .filter(|e| e.action == "reopened")
            .count()
    }
}
