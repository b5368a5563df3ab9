//! The incident data model: what an incident is, independent of how it is stored.

use std::fmt;
use std::str::FromStr;

use bincode::{Decode, Encode};
use chrono::{DateTime, Local, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseError;

/// A point in time, stored as UTC microseconds since the Unix epoch.
///
/// JSON carries it as RFC 3339 with microseconds and an explicit offset
/// (`2025-07-09T13:20:00.123456+00:00`), the shape the original tool wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Timestamp(i64);

impl Timestamp {
    /// 0001-01-01T00:00:00Z: the earliest time accepted from outside.
    pub const MIN: Timestamp = Timestamp(-62_135_596_800_000_000);
    /// 9999-12-31T23:59:59.999999Z: the latest time accepted from outside (a later one
    /// has no four-digit year, which ids, exports and the original's format need).
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999_999);

    /// The current time.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now())
    }

    /// From microseconds since the epoch.
    pub fn from_micros(micros: i64) -> Self {
        Self(micros)
    }

    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        self.0
    }

    /// Seconds since the epoch, as a float (for durations and averages).
    pub fn seconds_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }

    /// From a chrono UTC time (sub-microsecond precision is dropped).
    pub fn from_datetime(dt: DateTime<Utc>) -> Self {
        Self(dt.timestamp_micros())
    }

    /// As a chrono UTC time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp_micros(self.0).unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The calendar date in local time, which is what incident ids carry.
    pub fn local_date(self) -> NaiveDate {
        self.to_datetime().with_timezone(&Local).date_naive()
    }

    /// RFC 3339 in UTC with microseconds: the stable machine format.
    pub fn to_rfc3339(self) -> String {
        self.to_datetime()
            .format("%Y-%m-%dT%H:%M:%S%.6f+00:00")
            .to_string()
    }

    /// Local time for people: `2025-07-09 22:20:00`.
    pub fn to_local_string(self) -> String {
        self.to_datetime()
            .with_timezone(&Local)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }

    /// Parses RFC 3339 (`...+09:00`, `...Z`), a naive `YYYY-MM-DDTHH:MM:SS[.ffffff]`
    /// or `YYYY-MM-DD HH:MM[:SS]` (taken as local time, as the original tool wrote them),
    /// or a bare date `YYYY-MM-DD` (local midnight).
    /// Only years 0001 to 9999 (UTC) are accepted.
    pub fn parse(s: &str) -> Result<Self, ParseError> {
        let t = Self::parse_any(s)?;
        if !t.in_range() {
            return Err(ParseError::TimeRange(s.to_string()));
        }
        Ok(t)
    }

    /// Whether the year is 0001 to 9999 both in UTC (exports) and in local time (ids).
    pub fn in_range(self) -> bool {
        use chrono::Datelike;
        (Self::MIN..=Self::MAX).contains(&self)
            && (1..=9999).contains(&self.to_datetime().with_timezone(&Local).year())
    }

    fn parse_any(s: &str) -> Result<Self, ParseError> {
        let t = s.trim();
        if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
            return Ok(Self::from_datetime(dt.with_timezone(&Utc)));
        }
        for fmt in [
            "%Y-%m-%dT%H:%M:%S%.f",
            "%Y-%m-%d %H:%M:%S%.f",
            "%Y-%m-%dT%H:%M",
            "%Y-%m-%d %H:%M",
        ] {
            if let Ok(naive) = NaiveDateTime::parse_from_str(t, fmt) {
                return Self::from_local_naive(naive, s);
            }
        }
        if let Ok(date) = NaiveDate::parse_from_str(t, "%Y-%m-%d")
            && let Some(naive) = date.and_hms_opt(0, 0, 0)
        {
            return Self::from_local_naive(naive, s);
        }
        Err(ParseError::Time(s.to_string()))
    }

    fn from_local_naive(naive: NaiveDateTime, original: &str) -> Result<Self, ParseError> {
        Local
            .from_local_datetime(&naive)
            .earliest()
            .map(|dt| Self::from_datetime(dt.with_timezone(&Utc)))
            .ok_or_else(|| ParseError::Time(original.to_string()))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Timestamp::parse(&s).map_err(serde::de::Error::custom)
    }
}

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

/// `INC-YYYYMMDD-NNNN`: the local creation date and a per-day sequence starting at 1.
///
/// The key form `date << 32 | seq` sorts by date, then by number, so
/// `INC-20250104-12345` sorts after `INC-20250104-9999`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct IncidentId {
    date: u32,
    seq: u32,
}

impl IncidentId {
    /// The highest per-day sequence number. A higher one from outside is refused, so a
    /// single imported id can never exhaust a day's counter.
    pub const MAX_SEQ: u32 = 999_999;

    /// An id from a date as `YYYYMMDD` and a sequence number (at least 1).
    pub fn new(date: u32, seq: u32) -> Self {
        Self { date, seq }
    }

    /// The date part as the number `YYYYMMDD`.
    pub fn date(self) -> u32 {
        self.date
    }

    /// The per-day sequence number.
    pub fn seq(self) -> u32 {
        self.seq
    }

    /// The date part as a `YYYYMMDD` number for a calendar date.
    pub fn date_key(date: NaiveDate) -> u32 {
        use chrono::Datelike;
        date.year().max(0) as u32 * 10_000 + date.month() * 100 + date.day()
    }

    /// The sortable storage key.
    pub fn key(self) -> u64 {
        (u64::from(self.date) << 32) | u64::from(self.seq)
    }

    /// Inverse of [`IncidentId::key`].
    pub fn from_key(key: u64) -> Self {
        Self {
            date: (key >> 32) as u32,
            seq: key as u32,
        }
    }
}

impl fmt::Display for IncidentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "INC-{:08}-{:04}", self.date, self.seq)
    }
}

impl FromStr for IncidentId {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        let bad = || ParseError::Id(s.to_string());
        let upper = s.trim().to_ascii_uppercase();
        let rest = upper.strip_prefix("INC-").ok_or_else(bad)?;
        let (date, seq) = rest.split_once('-').ok_or_else(bad)?;
        if date.len() != 8 || seq.len() < 4 || !date.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        if !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let date: u32 = date.parse().map_err(|_| bad())?;
        // More digits than a u32 holds is as out of range as a large u32.
        let seq: u32 = seq.parse().unwrap_or(u32::MAX);
        let (y, m, d) = (date / 10_000, (date / 100) % 100, date % 100);
        if seq == 0 || NaiveDate::from_ymd_opt(y as i32, m, d).is_none() || y == 0 {
            return Err(bad());
        }
        if seq > Self::MAX_SEQ {
            return Err(ParseError::IdSeq(s.to_string()));
        }
        Ok(Self { date, seq })
    }
}

impl Serialize for IncidentId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for IncidentId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
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
            return Err(crate::error::Error::Invalid {
                field: "timeline",
                reason: format!(
                    "{} entries, more than the limit of {}",
                    self.timeline.len(),
                    limits::TIMELINE
                ),
            });
        }
        self.check_content_limits()
    }

    /// [`Incident::check_limits`] without the number of timeline entries.
    pub(crate) fn check_content_limits(&self) -> Result<(), crate::error::Error> {
        use limits::*;
        let over = |field: &'static str, reason: String| {
            Err(crate::error::Error::Invalid { field, reason })
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_round_trips_and_sorts_past_9999() {
        let a: IncidentId = "INC-20250104-9999".parse().unwrap();
        let b: IncidentId = "INC-20250104-12345".parse().unwrap();
        assert_eq!(b.to_string(), "INC-20250104-12345");
        assert!(a.key() < b.key());
        assert_eq!(IncidentId::from_key(b.key()), b);
        assert!("INC-20250230-0001".parse::<IncidentId>().is_err());
        assert!("INC-20250104-0000".parse::<IncidentId>().is_err());
        assert!("INC-2025014-0001".parse::<IncidentId>().is_err());
        let lower: IncidentId = "inc-20250104-0001".parse().unwrap();
        assert_eq!(lower.to_string(), "INC-20250104-0001");
    }

    #[test]
    fn timestamps_parse_the_original_shapes() {
        let a = Timestamp::parse("2025-07-09T13:20:00.123456+00:00").unwrap();
        let b = Timestamp::parse("2025-07-09T13:20:00.123456Z").unwrap();
        let c = Timestamp::parse("2025-07-09T22:20:00.123456+09:00").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.to_rfc3339(), "2025-07-09T13:20:00.123456+00:00");
        assert!(Timestamp::parse("yesterday").is_err());
    }

    #[test]
    fn enums_parse_case_insensitively() {
        assert_eq!("In-Progress".parse::<Status>().unwrap(), Status::InProgress);
        let err = "bug".parse::<Category>().unwrap_err().to_string();
        assert!(err.contains("category"), "{err}");
        for c in Category::ALL {
            assert_eq!(Category::from_code(c.code()), Some(*c));
        }
    }
}
