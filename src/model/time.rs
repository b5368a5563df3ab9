//! A point in time.

use std::fmt;

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
