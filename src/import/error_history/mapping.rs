//! One entry of the error history, its validation, and how it becomes an incident.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};

use super::raw::{RawRecord, ReadError, RecordProblem, Shape, json_error_parts};
use super::scan::is_ws;
use crate::model::{Incident, IncidentId, MigratedError, Priority, Timestamp};
use crate::store::Pair;

impl<'a> RawRecord<'a> {
    /// Validates the record. A syntax error is fatal in a document and a
    /// recoverable [`ReadError::Invalid`] in JSON Lines.
    pub(crate) fn parse(&self) -> Result<ErrorRecord<'a>, ReadError> {
        ErrorRecord::from_raw(self)
    }
}

/// One error from the history, borrowing its text from the input where it can.
///
/// Missing or `null` optional fields: `pattern_id`, `fix_applied`, `incident_id`
/// and `resolved_at` are `None` (an empty string counts as missing too), and
/// `success` is `false`. The four text fields and `timestamp` are required.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorRecord<'a> {
    pub timestamp: Timestamp,
    pub error_type: Cow<'a, str>,
    pub file: Cow<'a, str>,
    pub error_message: Cow<'a, str>,
    pub pattern_id: Option<Cow<'a, str>>,
    pub fix_applied: Option<Cow<'a, str>>,
    pub success: bool,
    /// The incident this error was already turned into, if written back.
    pub incident_id: Option<IncidentId>,
    pub resolved_at: Option<Timestamp>,
    /// Microseconds that identify the error's time for its fingerprint: the instant when
    /// the timestamp has an offset, else its wall-clock reading taken as UTC, so that the
    /// time zone a migration runs in never changes an error's identity.
    pub identity_time: i64,
}

/// Whether an ISO 8601 timestamp carries a UTC offset (`Z`, `+09:00`, `-0500`).
fn has_offset(s: &str) -> bool {
    let t = s.trim();
    let time_part = t.find(['T', ' ']).map_or("", |i| &t[i + 1..]);
    t.ends_with(['Z', 'z']) || time_part.contains(['+', '-'])
}

impl ErrorRecord<'_> {
    /// The incident a record becomes must stay within `model::limits`: its title is
    /// `error_type in file`, its component `file`, its description the message.
    fn check_limits(&self) -> Result<(), RecordProblem> {
        use crate::model::limits::*;
        let check = |field: &'static str, len: usize, max: usize| {
            if len > max {
                Err(RecordProblem::TooLong { field, len, max })
            } else {
                Ok(())
            }
        };
        check("file", self.file.len(), NAME_BYTES)?;
        check(
            "error_type",
            self.error_type.len() + " in ".len() + self.file.len(),
            TITLE_BYTES,
        )?;
        check("error_message", self.error_message.len(), TEXT_BYTES)?;
        let optional = |s: &Option<std::borrow::Cow<'_, str>>| s.as_ref().map_or(0, |s| s.len());
        check("pattern_id", optional(&self.pattern_id), NAME_BYTES)?;
        check("fix_applied", optional(&self.fix_applied), TEXT_BYTES)
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> ErrorRecord<'static> {
        ErrorRecord {
            timestamp: self.timestamp,
            error_type: Cow::Owned(self.error_type.into_owned()),
            file: Cow::Owned(self.file.into_owned()),
            error_message: Cow::Owned(self.error_message.into_owned()),
            pattern_id: self.pattern_id.map(|p| Cow::Owned(p.into_owned())),
            fix_applied: self.fix_applied.map(|f| Cow::Owned(f.into_owned())),
            success: self.success,
            incident_id: self.incident_id,
            resolved_at: self.resolved_at,
            identity_time: self.identity_time,
        }
    }
}

impl<'a> ErrorRecord<'a> {
    pub(crate) fn from_raw(raw: &RawRecord<'a>) -> Result<Self, ReadError> {
        let found = match raw.bytes.first() {
            Some(b'{') => None,
            Some(b'[') => Some("an array"),
            Some(b'"') => Some("a string"),
            Some(b't' | b'f') => Some("a boolean"),
            Some(b'n') => Some("null"),
            _ => Some("a number"),
        };
        let mut obj = FlatObject::default();
        if found.is_none()
            && flat_object(raw.bytes, &mut obj)
            && raw.bytes[obj.len..].iter().all(|&b| is_ws(b))
            && let Ok(text) = std::str::from_utf8(raw.bytes)
            && let Some(wire) = flat_wire(text, &obj)
        {
            return wire.validate().map_err(|p| raw.invalid(p));
        }
        let mut de = serde_json::Deserializer::from_slice(raw.bytes);
        let parsed = match found {
            None => Wire::deserialize(&mut de).and_then(|w| de.end().map(|()| Some(w))),
            Some(_) => de::Deserialize::deserialize(&mut de)
                .and_then(|IgnoredAny| de.end())
                .map(|()| None),
        };
        let wire = match parsed {
            Ok(Some(wire)) => wire,
            Ok(None) => {
                let found = found.unwrap_or("a value");
                return Err(raw.invalid(RecordProblem::NotAnObject { found }));
            }
            Err(e) => {
                let (rel, reason) = json_error_parts(raw.bytes, &e);
                let at = raw.at.within(raw.bytes, rel);
                return Err(match raw.shape {
                    Shape::Document => ReadError::Malformed { at, reason },
                    Shape::Lines => raw.invalid(RecordProblem::Malformed {
                        column: at.column,
                        reason,
                    }),
                });
            }
        };
        wire.validate().map_err(|p| raw.invalid(p))
    }
}

/// A JSON value as far as validation needs it.
enum Val<'a> {
    Null,
    Bool(bool),
    Number,
    Str(Cow<'a, str>),
    Array,
    Object,
}

impl Val<'_> {
    fn kind(&self) -> &'static str {
        match self {
            Val::Null => "null",
            Val::Bool(_) => "a boolean",
            Val::Number => "a number",
            Val::Str(_) => "a string",
            Val::Array => "an array",
            Val::Object => "an object",
        }
    }
}

impl<'de> de::Deserialize<'de> for Val<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Val<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Val<'de>, E> {
                Ok(Val::Null)
            }
            fn visit_none<E>(self) -> Result<Val<'de>, E> {
                Ok(Val::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Val<'de>, E> {
                Ok(Val::Bool(v))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Val<'de>, E> {
                Ok(Val::Number)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Val<'de>, E> {
                Ok(Val::Number)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Val<'de>, E> {
                Ok(Val::Number)
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Val<'de>, E> {
                Ok(Val::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Val<'de>, E> {
                Ok(Val::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Val<'de>, E> {
                Ok(Val::Str(Cow::Owned(v)))
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Val<'de>, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Val::Array)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Val<'de>, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Val::Object)
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Clone, Copy)]
enum Key {
    Timestamp,
    ErrorType,
    File,
    ErrorMessage,
    PatternId,
    FixApplied,
    Success,
    IncidentId,
    ResolvedAt,
    Other,
}

impl<'de> de::Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E>(self, v: &str) -> Result<Key, E> {
                Ok(match v {
                    "timestamp" => Key::Timestamp,
                    "error_type" => Key::ErrorType,
                    "file" => Key::File,
                    "error_message" => Key::ErrorMessage,
                    "pattern_id" => Key::PatternId,
                    "fix_applied" => Key::FixApplied,
                    "success" => Key::Success,
                    "incident_id" => Key::IncidentId,
                    "resolved_at" => Key::ResolvedAt,
                    _ => Key::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// The fields as found. A repeated field is remembered and refuses the record: keeping
/// the last value, as Python's `json` does, would lose the other silently.
#[derive(Default)]
pub(crate) struct Wire<'a> {
    duplicate: Option<&'static str>,
    timestamp: Option<Val<'a>>,
    error_type: Option<Val<'a>>,
    file: Option<Val<'a>>,
    error_message: Option<Val<'a>>,
    pattern_id: Option<Val<'a>>,
    fix_applied: Option<Val<'a>>,
    success: Option<Val<'a>>,
    incident_id: Option<Val<'a>>,
    resolved_at: Option<Val<'a>>,
}

impl<'de> Wire<'de> {
    fn deserialize(
        de: &mut serde_json::Deserializer<serde_json::de::SliceRead<'de>>,
    ) -> serde_json::Result<Self> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Wire<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Wire<'de>, A::Error> {
                let mut w = Wire::default();
                while let Some(key) = map.next_key::<Key>()? {
                    let (name, slot) = match key {
                        Key::Timestamp => ("timestamp", &mut w.timestamp),
                        Key::ErrorType => ("error_type", &mut w.error_type),
                        Key::File => ("file", &mut w.file),
                        Key::ErrorMessage => ("error_message", &mut w.error_message),
                        Key::PatternId => ("pattern_id", &mut w.pattern_id),
                        Key::FixApplied => ("fix_applied", &mut w.fix_applied),
                        Key::Success => ("success", &mut w.success),
                        Key::IncidentId => ("incident_id", &mut w.incident_id),
                        Key::ResolvedAt => ("resolved_at", &mut w.resolved_at),
                        Key::Other => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                    };
                    if slot.is_some() {
                        w.duplicate.get_or_insert(name);
                    }
                    *slot = Some(map.next_value()?);
                }
                Ok(w)
            }
        }
        de.deserialize_map(V)
    }

    pub(crate) fn validate(self) -> Result<ErrorRecord<'de>, RecordProblem> {
        if let Some(field) = self.duplicate {
            return Err(RecordProblem::Duplicate(field));
        }
        let raw_time = required("timestamp", self.timestamp)?;
        let offset = has_offset(&raw_time);
        let timestamp = time("timestamp", raw_time)?;
        let identity_time = if offset {
            timestamp.micros()
        } else {
            timestamp
                .to_datetime()
                .with_timezone(&chrono::Local)
                .naive_local()
                .and_utc()
                .timestamp_micros()
        };
        let resolved_at = match optional("resolved_at", self.resolved_at)? {
            Some(s) => Some(time("resolved_at", s)?),
            None => None,
        };
        let incident_id = match optional("incident_id", self.incident_id)? {
            Some(s) => Some(s.trim().parse().map_err(|source| RecordProblem::Value {
                field: "incident_id",
                source,
            })?),
            None => None,
        };
        let success = match self.success {
            None | Some(Val::Null) => false,
            Some(Val::Bool(b)) => b,
            Some(other) => {
                return Err(RecordProblem::WrongType {
                    field: "success",
                    expected: "true or false",
                    found: other.kind(),
                });
            }
        };
        let record = ErrorRecord {
            timestamp,
            error_type: required("error_type", self.error_type)?,
            file: required("file", self.file)?,
            error_message: required("error_message", self.error_message)?,
            pattern_id: optional("pattern_id", self.pattern_id)?,
            fix_applied: optional("fix_applied", self.fix_applied)?,
            success,
            incident_id,
            resolved_at,
            identity_time,
        };
        record.check_limits()?;
        Ok(record)
    }
}

/// Most members a record may have for the single-pass parser.
const FLAT_MAX: usize = 16;

/// The layout of a flat object (values are strings, booleans or null) found by
/// [`flat_object`]: byte ranges into the text it was found in.
#[derive(Clone, Debug)]
pub(crate) struct FlatObject {
    /// Bytes from `{` through `}`.
    pub(crate) len: usize,
    /// Newlines inside, and the offset of the last one, for line numbers.
    pub(crate) newlines: u64,
    pub(crate) last_newline: usize,
    n: usize,
    members: [FlatMember; FLAT_MAX],
}

impl Default for FlatObject {
    fn default() -> Self {
        Self {
            len: 0,
            newlines: 0,
            last_newline: 0,
            n: 0,
            members: [FlatMember::default(); FLAT_MAX],
        }
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct FlatMember {
    key: FlatStr,
    value: FlatValue,
}

#[derive(Clone, Copy, Debug, Default)]
struct FlatStr {
    start: u32,
    end: u32,
    escaped: bool,
}

#[derive(Clone, Copy, Debug, Default)]
enum FlatValue {
    #[default]
    Null,
    Bool(bool),
    Str(FlatStr),
}

/// A single-pass parser for the common case: the flat object at the start of
/// `b`, written into `obj`. It returns false for anything else (nesting,
/// numbers, too many members, any syntax error, or `b` ending first), and the
/// caller then takes the general path, so both paths accept the same records
/// and report the same errors. UTF-8 is not checked here but by [`flat_wire`].
pub(crate) fn flat_object(b: &[u8], obj: &mut FlatObject) -> bool {
    flat_object_inner(b, obj).is_some()
}

fn flat_object_inner(b: &[u8], obj: &mut FlatObject) -> Option<()> {
    if b.first() != Some(&b'{') || b.len() > u32::MAX as usize {
        return None;
    }
    let mut newlines = 0;
    let mut last_newline = 0;
    let mut ws = |mut i: usize| {
        while let Some(&c) = b.get(i) {
            match c {
                b' ' | b'\t' | b'\r' => {}
                b'\n' => {
                    newlines += 1;
                    last_newline = i;
                }
                _ => break,
            }
            i += 1;
        }
        i
    };
    let mut n = 0;
    let mut i = ws(1);
    if b.get(i) == Some(&b'}') {
        i += 1;
    } else {
        loop {
            if b.get(i) != Some(&b'"') || n == FLAT_MAX {
                return None;
            }
            let key = flat_str(b, i)?;
            i = ws(key.end as usize + 1);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = ws(i + 1);
            let value = match *b.get(i)? {
                b'"' => {
                    let v = flat_str(b, i)?;
                    i = v.end as usize + 1;
                    FlatValue::Str(v)
                }
                b't' if b.get(i..i + 4)? == b"true" => {
                    i += 4;
                    FlatValue::Bool(true)
                }
                b'f' if b.get(i..i + 5)? == b"false" => {
                    i += 5;
                    FlatValue::Bool(false)
                }
                b'n' if b.get(i..i + 4)? == b"null" => {
                    i += 4;
                    FlatValue::Null
                }
                _ => return None,
            };
            obj.members[n] = FlatMember { key, value };
            n += 1;
            i = ws(i);
            match b.get(i) {
                Some(b',') => i = ws(i + 1),
                Some(b'}') => {
                    i += 1;
                    break;
                }
                _ => return None,
            }
        }
    }
    obj.len = i;
    obj.n = n;
    obj.newlines = newlines;
    obj.last_newline = last_newline;
    Some(())
}

/// The string whose opening quote is at `b[start]`; `end` is its closing quote.
fn flat_str(b: &[u8], start: usize) -> Option<FlatStr> {
    let mut i = start + 1;
    let mut escaped = false;
    loop {
        let k = memchr::memchr2(b'"', b'\\', &b[i..])?;
        if b[i..i + k].iter().copied().min().is_some_and(|c| c < 0x20) {
            return None;
        }
        let p = i + k;
        if b[p] == b'"' {
            return Some(FlatStr {
                start: start as u32 + 1,
                end: p as u32,
                escaped,
            });
        }
        escaped = true;
        i = match *b.get(p + 1)? {
            b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => p + 2,
            b'u' if b.get(p + 2..p + 6)?.iter().all(u8::is_ascii_hexdigit) => p + 6,
            _ => return None,
        };
    }
}

/// The fields of a [`FlatObject`] found in `s`; `None` where serde_json must
/// decide (a lone surrogate escape).
pub(crate) fn flat_wire<'a>(s: &'a str, obj: &FlatObject) -> Option<Wire<'a>> {
    let text = |f: FlatStr| -> Option<Cow<'a, str>> {
        let raw = s.get(f.start as usize..f.end as usize)?;
        if f.escaped {
            unescape(raw).map(Cow::Owned)
        } else {
            Some(Cow::Borrowed(raw))
        }
    };
    let mut w = Wire::default();
    for m in &obj.members[..obj.n] {
        let key = text(m.key)?;
        let value = match m.value {
            FlatValue::Null => Val::Null,
            FlatValue::Bool(b) => Val::Bool(b),
            FlatValue::Str(f) => Val::Str(text(f)?),
        };
        let (name, slot) = match &*key {
            "timestamp" => ("timestamp", &mut w.timestamp),
            "error_type" => ("error_type", &mut w.error_type),
            "file" => ("file", &mut w.file),
            "error_message" => ("error_message", &mut w.error_message),
            "pattern_id" => ("pattern_id", &mut w.pattern_id),
            "fix_applied" => ("fix_applied", &mut w.fix_applied),
            "success" => ("success", &mut w.success),
            "incident_id" => ("incident_id", &mut w.incident_id),
            "resolved_at" => ("resolved_at", &mut w.resolved_at),
            _ => continue,
        };
        if slot.is_some() {
            w.duplicate.get_or_insert(name);
        }
        *slot = Some(value);
    }
    Some(w)
}

/// Decodes the escapes of a JSON string body already checked by [`flat_str`].
fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while let Some(k) = memchr::memchr(b'\\', &b[i..]) {
        out.push_str(s.get(i..i + k)?);
        let p = i + k;
        i = p + 2;
        let c = match *b.get(p + 1)? {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hi = hex4(b.get(i..i + 4)?)?;
                i += 4;
                let code = if (0xD800..0xDC00).contains(&hi) {
                    if b.get(i..i + 2)? != b"\\u" {
                        return None;
                    }
                    let lo = hex4(b.get(i + 2..i + 6)?)?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return None;
                    }
                    i += 6;
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else {
                    hi
                };
                char::from_u32(code)?
            }
            _ => return None,
        };
        out.push(c);
    }
    out.push_str(s.get(i..)?);
    Some(out)
}

fn hex4(h: &[u8]) -> Option<u32> {
    h.iter()
        .try_fold(0u32, |acc, &c| Some(acc * 16 + (c as char).to_digit(16)?))
}

fn required<'a>(field: &'static str, v: Option<Val<'a>>) -> Result<Cow<'a, str>, RecordProblem> {
    match v {
        Some(Val::Str(s)) => Ok(s),
        None => Err(RecordProblem::Missing(field)),
        Some(other) => Err(RecordProblem::WrongType {
            field,
            expected: "a string",
            found: other.kind(),
        }),
    }
}

fn optional<'a>(
    field: &'static str,
    v: Option<Val<'a>>,
) -> Result<Option<Cow<'a, str>>, RecordProblem> {
    match v {
        None | Some(Val::Null) => Ok(None),
        Some(Val::Str(s)) if s.trim().is_empty() => Ok(None),
        Some(Val::Str(s)) => Ok(Some(s)),
        Some(other) => Err(RecordProblem::WrongType {
            field,
            expected: "a string or null",
            found: other.kind(),
        }),
    }
}

fn time(field: &'static str, s: Cow<'_, str>) -> Result<Timestamp, RecordProblem> {
    parse_time(&s).map_err(|source| RecordProblem::Value { field, source })
}

/// [`Timestamp::parse`], with a fast path for the shape the original tool wrote
/// (`YYYY-MM-DDTHH:MM:SS[.ffffff](+HH:MM|Z)`); anything else takes the full parser.
pub(crate) fn parse_time(s: &str) -> Result<Timestamp, crate::error::ParseError> {
    // Only a year at the edge can fall outside 0001-9999 in UTC or local time.
    let edge = matches!(s.as_bytes().get(..4), Some(b"0000" | b"0001" | b"9999"));
    fast_rfc3339(s.as_bytes())
        .filter(|t| !edge || t.in_range())
        .map_or_else(|| Timestamp::parse(s), Ok)
}

/// An RFC 3339 time with an offset, by chrono: the same answer as [`Timestamp::parse`]
/// gives for these shapes. (A hand-written parser measured 1.09x chrono's, 3 ns a
/// record, and was dropped: `cargo bench --bench parsers`.)
fn fast_rfc3339(b: &[u8]) -> Option<Timestamp> {
    let s = std::str::from_utf8(b).ok()?;
    let dt = chrono::DateTime::parse_from_rfc3339(s).ok()?;
    Some(Timestamp::from_datetime(dt.with_timezone(&chrono::Utc)))
}

/// Priority from the error type, by case-insensitive substring: critical / fatal
/// / crash, then connection / permission / authentication, then error /
/// exception / failed; anything else is low.
pub fn priority_for(error_type: &str) -> Priority {
    let lower = error_type.to_ascii_lowercase();
    let any = |words: &[&str]| words.iter().any(|w| lower.contains(w));
    if any(&["critical", "fatal", "crash"]) {
        Priority::Critical
    } else if any(&["connection", "permission", "authentication"]) {
        Priority::High
    } else if any(&["error", "exception", "failed"]) {
        Priority::Medium
    } else {
        Priority::Low
    }
}

/// The incident an error becomes: see [`MigratedError::to_incident`].
pub fn to_incident(record: &ErrorRecord<'_>, id: IncidentId) -> Incident {
    record.migrated().to_incident(id)
}

impl<'a> ErrorRecord<'a> {
    /// The plain data of the incident this record becomes.
    pub(crate) fn migrated(&self) -> MigratedError<'_> {
        MigratedError {
            timestamp: self.timestamp,
            error_type: &self.error_type,
            file: &self.file,
            error_message: &self.error_message,
            pattern_id: self.pattern_id.as_deref(),
            fix_applied: self.fix_applied.as_deref(),
            success: self.success,
            resolved_at: self.resolved_at,
            priority: priority_for(&self.error_type),
        }
    }
}

/// The store's key for an error: (identity time, first 64 bits of its fingerprint). Time
/// first, so errors migrated in time order append to the fingerprint table.
pub(crate) fn fingerprint_key(record: &ErrorRecord<'_>) -> Pair {
    let fp = fingerprint(record);
    let mut head = [0u8; 8];
    head.copy_from_slice(&fp[..8]);
    Pair::time(record.identity_time, u64::from_be_bytes(head))
}

/// A stable identity for one error occurrence: xxh3-128 over its time (UTC
/// microseconds), `error_type`, `file` and `error_message`.
///
/// Left out on purpose: `incident_id` (written back by the migration itself),
/// and `success`, `fix_applied`, `resolved_at` and `pattern_id`, which the
/// original tool updates on an existing entry as it analyses and fixes it. The
/// same error seen again after any of those changed is the same error.
/// The time hashed is [`ErrorRecord::identity_time`], the same in every time zone.
pub fn fingerprint(record: &ErrorRecord<'_>) -> [u8; 16] {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(b"incident/error-history/v1\0");
    h.update(&record.identity_time.to_le_bytes());
    for text in [&record.error_type, &record.file, &record.error_message] {
        h.update(&(text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
    }
    h.digest128().to_be_bytes()
}

/// The reader's two ways through one error object, for `benches/parsers.rs`, which
/// shows whether the single-pass parser earns its place. Not for normal use.
#[doc(hidden)]
pub mod parse_paths {
    use super::*;

    /// The single-pass path (`flat_object`, `flat_wire`): `None` when it declines.
    pub fn flat(json: &str) -> Option<ErrorRecord<'_>> {
        let mut obj = FlatObject::default();
        (flat_object(json.as_bytes(), &mut obj) && obj.len == json.len())
            .then(|| flat_wire(json, &obj))
            .flatten()
            .and_then(|w| w.validate().ok())
    }

    /// serde_json's borrowed path into the same wire struct.
    pub fn serde(json: &str) -> Option<ErrorRecord<'_>> {
        let mut de = serde_json::Deserializer::from_slice(json.as_bytes());
        Wire::deserialize(&mut de)
            .ok()
            .and_then(|w| w.validate().ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::error_history::ErrorReader;
    use crate::model::{Category, Status};

    fn record(json: &str) -> ErrorRecord<'static> {
        let mut reader = ErrorReader::new(json.as_bytes());
        reader.read_record().unwrap().unwrap().into_owned()
    }

    fn both_paths(json: &str) -> (Option<ErrorRecord<'_>>, Option<ErrorRecord<'_>>) {
        let mut obj = FlatObject::default();
        let flat = (flat_object(json.as_bytes(), &mut obj) && obj.len == json.len())
            .then(|| flat_wire(json, &obj))
            .flatten()
            .and_then(|w| w.validate().ok());
        let mut de = serde_json::Deserializer::from_slice(json.as_bytes());
        let slow = Wire::deserialize(&mut de)
            .ok()
            .and_then(|w| w.validate().ok());
        (flat, slow)
    }

    #[test]
    fn single_pass_and_serde_paths_agree() {
        let cases = [
            r#"{"timestamp": "2025-07-09T13:20:00.5+09:00", "error_type": "E\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00", "file": "日本語.py", "error_message": "m", "success": false, "pattern_id": null}"#,
            r#"{"timestamp":"2025-07-09T13:20:00Z","error_type":"E","file":"f","error_message":"","fix_applied":"","success":true}"#,
            r#"{"t\u0069mestamp": "2025-07-09 13:20:00", "error_type": "E", "file": "f", "error_message": "x", "resolved_at": "2025-07-10"}"#,
            r#"{"timestamp": "2025-07-09T13:20:00.123456789-03:30", "error_type": "E", "file": "f", "error_message": "x", "incident_id": " INC-20250709-12345 "}"#,
        ];
        for json in cases {
            let (flat, slow) = both_paths(json);
            assert!(flat.is_some(), "{json}");
            assert_eq!(flat, slow, "{json}");
        }
        // A repeated field refuses the record on both paths.
        let dup = r#"{"timestamp":"2025-07-09T13:20:00Z","error_type":"E","file":"f","error_message":"","success":true,"success":false}"#;
        assert_eq!(both_paths(dup), (None, None));
        // Lone surrogates and raw control characters are left to serde_json, which refuses them.
        for json in [r#"{"a": "\ud800"}"#, "{\"a\": \"tab\there\"}"] {
            let mut obj = FlatObject::default();
            let flat = flat_object(json.as_bytes(), &mut obj)
                .then(|| flat_wire(json, &obj))
                .flatten();
            assert!(flat.is_none(), "{json}");
        }
    }

    #[test]
    fn fast_times_match_the_model_parser() {
        for t in [
            "2025-07-09T13:20:00.123456+00:00",
            "2025-07-09T13:20:00Z",
            "2025-07-09T23:59:59.9999999-11:45",
            "2024-02-29T00:00:00.1+14:00",
            "1969-12-31T23:59:59.999999Z",
        ] {
            assert_eq!(
                fast_rfc3339(t.as_bytes()),
                Some(Timestamp::parse(t).unwrap()),
                "{t}"
            );
        }
        for t in [
            "2025-02-30T00:00:00Z",
            "2025-07-09T24:00:00Z",
            "2025-07-09T13:20:00",
            "2025-07-09T13:20:00.Z",
        ] {
            assert_eq!(fast_rfc3339(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn priority_by_error_type() {
        for (t, p) in [
            ("FatalError", Priority::Critical),
            ("WorkerCrashError", Priority::Critical),
            ("CRITICAL_failure", Priority::Critical),
            ("ConnectionRefusedError", Priority::High),
            ("PermissionError", Priority::High),
            ("AuthenticationFailed", Priority::High),
            ("ModuleNotFoundError", Priority::Medium),
            ("SomeException", Priority::Medium),
            ("JobFailed", Priority::Medium),
            ("PerformanceWarning", Priority::Low),
        ] {
            assert_eq!(priority_for(t), p, "{t}");
        }
    }

    #[test]
    fn resolved_errors_become_resolved_incidents() {
        let r = record(
            r#"[{"timestamp": "2025-07-09T13:20:00Z", "error_type": "ConnectionRefusedError", "file": "libs/rabbitmq_client.py", "error_message": "Connection refused", "pattern_id": "PATTERN_001", "fix_applied": "systemctl restart rabbitmq-server", "success": true, "resolved_at": "2025-07-09T13:25:00Z"}]"#,
        );
        let id: IncidentId = "INC-20250709-0007".parse().unwrap();
        let inc = to_incident(&r, id);
        let done = Timestamp::parse("2025-07-09T13:25:00Z").unwrap();
        assert_eq!(inc.id, id);
        assert_eq!(
            (inc.category, inc.priority, inc.status),
            (Category::Error, Priority::High, Status::Resolved)
        );
        assert_eq!(
            inc.title,
            "ConnectionRefusedError in libs/rabbitmq_client.py"
        );
        assert_eq!(inc.description, "Connection refused");
        assert_eq!(inc.affected_components, ["libs/rabbitmq_client.py"]);
        assert_eq!(inc.impact, "システムエラーによる処理中断");
        assert_eq!(inc.assignee.as_deref(), Some("error_handler"));
        assert_eq!(
            (inc.created_at, inc.updated_at, inc.resolved_at()),
            (r.timestamp, done, Some(done))
        );
        let res = inc.resolution.as_ref().unwrap();
        assert_eq!(res.actions_taken, ["systemctl restart rabbitmq-server"]);
        assert_eq!(res.root_cause, "Pattern: PATTERN_001");
        let actions: Vec<_> = inc
            .timeline
            .iter()
            .map(|e| (e.action.as_str(), e.timestamp))
            .collect();
        assert_eq!(actions, [("created", r.timestamp), ("resolved", done)]);
        assert_eq!(
            inc.timeline[0].details,
            "migrated from error_history (pattern PATTERN_001)"
        );
        assert_eq!(inc.matched_pattern, None);
    }

    #[test]
    fn unresolved_errors_stay_open() {
        let r = record(
            r#"[{"timestamp": "2025-07-09T13:20:00Z", "error_type": "Weird", "file": "a.py", "error_message": "m", "fix_applied": "pending", "success": false, "resolved_at": "2025-07-10T00:00:00Z"}]"#,
        );
        let inc = to_incident(&r, IncidentId::new(20250709, 1));
        assert_eq!((inc.status, inc.priority), (Status::Open, Priority::Low));
        assert!(inc.resolution.is_none() && inc.matched_pattern.is_none());
        assert_eq!(inc.updated_at, r.timestamp);
        assert_eq!(inc.timeline.len(), 1);
        assert_eq!(
            inc.timeline[0].details,
            "migrated from error_history (no pattern)"
        );
    }

    #[test]
    fn fingerprint_ignores_resolution_state() {
        let base = r#""timestamp": "2025-07-09T22:20:00+09:00", "error_type": "E", "file": "a.py", "error_message": "m""#;
        let a = record(&format!(
            "[{{{base}, \"success\": false, \"fix_applied\": \"pending\"}}]"
        ));
        let b = record(&format!(
            "[{{{base}, \"success\": true, \"fix_applied\": \"x\", \"pattern_id\": \"P\", \"incident_id\": \"INC-20250709-0001\", \"resolved_at\": \"2025-07-10\"}}]"
        ));
        let utc = record(
            r#"[{"timestamp": "2025-07-09T13:20:00Z", "error_type": "E", "file": "a.py", "error_message": "m"}]"#,
        );
        assert_eq!(fingerprint(&a), fingerprint(&b));
        assert_eq!(fingerprint(&a), fingerprint(&utc));
        let other = record(
            r#"[{"timestamp": "2025-07-09T13:20:00Z", "error_type": "E", "file": "a.p", "error_message": "ym"}]"#,
        );
        assert_ne!(fingerprint(&a), fingerprint(&other));
    }
}
