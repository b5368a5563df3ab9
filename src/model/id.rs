//! Incident ids.

use std::fmt;
use std::str::FromStr;

use bincode::{Decode, Encode};
use chrono::NaiveDate;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::ParseError;

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
