//! Import and export of the original tool's `incident_history.json`
//! (`{"metadata": {...}, "incidents": [...], "statistics": {...}}`), plus JSONL and CSV export.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result, StoreError};
use crate::manager::IncidentManager;
use crate::model::{Incident, Timestamp};

/// Import failed; nothing was written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ImportError {
    #[error("malformed JSON at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the file has no \"incidents\" list or object")]
    NoIncidents,
    #[error("the input is empty (no JSON at all)")]
    Empty,
    #[error("incident {index}{}: {reason}", .id.as_ref().map(|i| format!(" ({i})")).unwrap_or_default())]
    Entry {
        index: usize,
        id: Option<String>,
        reason: String,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] Error),
}

impl From<StoreError> for ImportError {
    fn from(e: StoreError) -> Self {
        ImportError::Store(e.into())
    }
}

/// What an import did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ImportSummary {
    /// Incidents added.
    pub imported: u64,
    /// Entries whose id was already stored with identical content.
    pub already_present: u64,
    /// Entries whose id was already stored with different content; the stored one was kept.
    pub conflicts: Vec<String>,
}

#[derive(Deserialize)]
struct HistoryFile {
    #[serde(default, deserialize_with = "incidents")]
    incidents: Option<Value>,
}

/// A JSON value in which no object repeats a key: serde_json (like Python's `json`)
/// would keep the last value silently, so a hand-edited file could lose a field unseen.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Strict;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_string<E>(self, v: String) -> Result<Strict, E> {
                Ok(Strict(v.into()))
            }
            fn visit_unit<E>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_none<E>(self) -> Result<Strict, E> {
                Ok(Strict(Value::Null))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
                let mut out = Vec::new();
                while let Some(Strict(v)) = seq.next_element()? {
                    out.push(v);
                }
                Ok(Strict(Value::Array(out)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
                let mut out = serde_json::Map::new();
                while let Some(k) = map.next_key::<String>()? {
                    if out.contains_key(&k) {
                        return Err(A::Error::custom(format!("duplicate key {k:?}")));
                    }
                    let Strict(v) = map.next_value()?;
                    out.insert(k, v);
                }
                Ok(Strict(Value::Object(out)))
            }
        }
        d.deserialize_any(V)
    }
}

/// The `incidents` member, strictly; a list names the entry an error is in.
fn incidents<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    use serde::de::{Error as _, MapAccess, SeqAccess, Visitor};
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("a list or object of incidents")
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            loop {
                match seq.next_element::<Strict>() {
                    Ok(Some(Strict(v))) => out.push(v),
                    Ok(None) => break,
                    Err(e) => {
                        return Err(A::Error::custom(format!("incident {}: {e}", out.len())));
                    }
                }
            }
            Ok(Some(Value::Array(out)))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
            let Strict(v) = Strict::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
            Ok(Some(v))
        }
    }
    d.deserialize_any(V)
}

/// Rewrites an entry written by the original `incident_manager.py` into this tool's
/// shape: `incident_id` is the id, `timestamp` the creation time, and the last change
/// (timeline, resolution) the update time, which the original did not store. Our own
/// export (`id`, `created_at`, ...) passes unchanged. An entry without `origin` came from
/// another installation: `imported`.
fn normalize(v: &mut Value) -> Result<(), String> {
    let Some(obj) = v.as_object_mut() else {
        return Err("not a JSON object".into());
    };
    match (obj.get("id"), obj.get("incident_id")) {
        (Some(a), Some(b)) if a != b => {
            return Err(format!("id {a} and incident_id {b} differ"));
        }
        (None, Some(b)) => {
            let b = b.clone();
            obj.insert("id".into(), b);
        }
        _ => {}
    }
    if !obj.contains_key("created_at")
        && let Some(t) = obj.get("timestamp").cloned()
    {
        obj.insert("created_at".into(), t);
    }
    if !obj.contains_key("updated_at") && obj.contains_key("created_at") {
        let mut times = vec![obj["created_at"].clone()];
        if let Some(Value::Array(tl)) = obj.get("timeline") {
            times.extend(tl.iter().filter_map(|e| e.get("timestamp").cloned()));
        }
        if let Some(t) = obj.get("resolution").and_then(|r| r.get("resolved_at")) {
            times.push(t.clone());
        }
        // Unparseable times are reported by the typed decoding below, with their field.
        let latest = times
            .into_iter()
            .filter_map(|t| Some((Timestamp::parse(t.as_str()?).ok()?, t)))
            .max_by_key(|(ts, _)| *ts)
            .map(|(_, t)| t)
            .unwrap_or_else(|| obj["created_at"].clone());
        obj.insert("updated_at".into(), latest);
    }
    // A bad time is reported with its field (the typed decoding below cannot say which).
    let mut times: Vec<(String, &Value)> = ["created_at", "updated_at", "acknowledged_at"]
        .iter()
        .filter_map(|f| obj.get(*f).map(|v| (f.to_string(), v)))
        .collect();
    if let Some(Value::Array(tl)) = obj.get("timeline") {
        for (i, e) in tl.iter().enumerate() {
            if let Some(t) = e.get("timestamp") {
                times.push((format!("timeline[{i}].timestamp"), t));
            }
        }
    }
    if let Some(t) = obj.get("resolution").and_then(|r| r.get("resolved_at")) {
        times.push(("resolution.resolved_at".into(), t));
    }
    for (field, t) in times {
        if let Some(text) = t.as_str()
            && let Err(e) = Timestamp::parse(text)
        {
            return Err(format!("field {field}: {e}"));
        }
    }
    if !obj.contains_key("origin") {
        obj.insert("origin".into(), Value::String("imported".into()));
    }
    Ok(())
}

fn validate(index: usize, mut v: Value) -> Result<Incident, ImportError> {
    let id = v
        .get("id")
        .or_else(|| v.get("incident_id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    let entry = |reason: String| ImportError::Entry {
        index,
        id: id.clone(),
        reason,
    };
    normalize(&mut v).map_err(entry)?;
    let inc: Incident = serde_json::from_value(v).map_err(|e| {
        let msg = e.to_string();
        // Both shapes are accepted; say so when neither id field is there.
        entry(msg.replace(
            "missing field `id`",
            "missing field `id` (or `incident_id`)",
        ))
    })?;
    if inc.title.trim().is_empty() {
        return Err(entry("title is empty".into()));
    }
    inc.check_limits().map_err(|e| entry(e.to_string()))?;
    if inc.updated_at < inc.created_at {
        return Err(entry("updated_at is before created_at".into()));
    }
    Ok(inc)
}

/// Imports every incident of an `incident_history.json` in one transaction. Ids,
/// timestamps, timelines and resolutions are kept. A bad entry aborts the whole import,
/// naming its index; re-importing the same file adds nothing.
pub fn import_history(manager: &IncidentManager, input: impl Read) -> crate::Result<ImportSummary> {
    import_incidents(manager, read_history(input)?)
}

/// Reads and validates every incident of an `incident_history.json` (the original tool's
/// shape or ours) without touching a store, so that a slow input never holds one open.
pub fn read_history(input: impl Read) -> crate::Result<Vec<Incident>> {
    Ok(read_history_inner(input)?)
}

fn read_history_inner(input: impl Read) -> Result<Vec<Incident>, ImportError> {
    let mut input = std::io::BufReader::new(input);
    // A UTF-8 byte order mark (some Windows editors write one) is skipped, as `bridge
    // migrate` does; an input with nothing but whitespace is refused, as it does.
    use std::io::BufRead;
    if input.fill_buf()?.starts_with(b"\xEF\xBB\xBF") {
        input.consume(3);
    }
    // Leading whitespace is skipped here (JSON allows it) to tell "empty" apart.
    loop {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            return Err(ImportError::Empty);
        }
        match buf.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(n) => {
                input.consume(n);
                break;
            }
            None => {
                let n = buf.len();
                input.consume(n);
            }
        }
    }
    let file: HistoryFile = serde_json::from_reader(input).map_err(|e| ImportError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let entries: Vec<Value> = match file.incidents {
        Some(Value::Array(a)) => a,
        // Also accept an object keyed by id, in the file's order of ids.
        Some(Value::Object(m)) => m.into_iter().map(|(_, v)| v).collect(),
        _ => return Err(ImportError::NoIncidents),
    };
    let mut incidents = Vec::with_capacity(entries.len());
    for (i, v) in entries.into_iter().enumerate() {
        incidents.push(validate(i, v)?);
    }
    Ok(incidents)
}

/// Stores incidents read by [`read_history`] in one transaction.
pub fn import_incidents(
    manager: &IncidentManager,
    incidents: Vec<Incident>,
) -> crate::Result<ImportSummary> {
    Ok(manager
        .store()
        .contain(|| import_incidents_inner(manager, incidents))?)
}

fn import_incidents_inner(
    manager: &IncidentManager,
    incidents: Vec<Incident>,
) -> Result<ImportSummary, ImportError> {
    let mut summary = ImportSummary::default();
    manager.store().write(|w| {
        let mut seen = std::collections::HashSet::new();
        for (i, inc) in incidents.iter().enumerate() {
            if !seen.insert(inc.id) {
                return Err(ImportError::Entry {
                    index: i,
                    id: Some(inc.id.to_string()),
                    reason: "duplicate id in the file".into(),
                });
            }
            match w.get(inc.id)? {
                Some(existing) if &existing == inc => summary.already_present += 1,
                Some(_) => summary.conflicts.push(inc.id.to_string()),
                None => {
                    w.reserve_id(inc.id)?;
                    w.put(None, inc)?;
                    // A create-time match is indexed when this store knows the pattern.
                    if let Some(p) = &inc.matched_pattern
                        && w.has_pattern(&p.pattern_id)?
                    {
                        w.set_pattern(inc.id, Some(&p.pattern_id))?;
                    }
                    summary.imported += 1;
                }
            }
        }
        Ok(summary)
    })
}

/// Export formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExportFormat {
    /// The original's `incident_history.json` shape.
    Json,
    /// One incident object per line.
    Jsonl,
    /// One row per incident, lists joined with `; `.
    Csv,
}

#[derive(Default, Serialize)]
struct Statistics {
    total_incidents: u64,
    by_category: BTreeMap<String, u64>,
    by_priority: BTreeMap<String, u64>,
    by_status: BTreeMap<String, u64>,
}

fn io(e: std::io::Error) -> Error {
    Error::from(e)
}

/// Writes every incident, streaming, in id order.
pub fn export(manager: &IncidentManager, format: ExportFormat, out: &mut dyn Write) -> Result<()> {
    manager
        .store()
        .contain(|| export_inner(manager, format, out, None))
}

/// Like [`export`], but skips records that cannot be decoded (a damaged file) and
/// returns, for each, its id and why.
pub fn export_readable(
    manager: &IncidentManager,
    format: ExportFormat,
    out: &mut dyn Write,
) -> Result<Vec<String>> {
    let mut skipped = Vec::new();
    manager
        .store()
        .contain(|| export_inner(manager, format, out, Some(&mut skipped)))?;
    Ok(skipped)
}

fn export_inner(
    manager: &IncidentManager,
    format: ExportFormat,
    out: &mut dyn Write,
    mut skipped: Option<&mut Vec<String>>,
) -> Result<()> {
    // Every incident, in id order; with `skipped`, undecodable records are listed there.
    let mut each = |f: &mut dyn FnMut(Incident) -> Result<()>| match skipped {
        Some(ref mut s) => manager.for_each_readable(f, |e| s.push(e)),
        None => manager.for_each(f),
    };
    match format {
        ExportFormat::Json => {
            let mut stats = Statistics::default();
            out.write_all(b"{\n  \"metadata\": ").map_err(io)?;
            let meta = serde_json::json!({
                "exported_at": Timestamp::now(),
                "tool": concat!("incident ", env!("CARGO_PKG_VERSION")),
                "total_incidents": manager.count()?,
            });
            serde_json::to_writer(&mut *out, &meta).map_err(|e| io(e.into()))?;
            out.write_all(b",\n  \"incidents\": [").map_err(io)?;
            let mut first = true;
            each(&mut |inc| {
                stats.total_incidents += 1;
                *stats
                    .by_category
                    .entry(inc.category.to_string())
                    .or_default() += 1;
                *stats
                    .by_priority
                    .entry(inc.priority.to_string())
                    .or_default() += 1;
                *stats.by_status.entry(inc.status.to_string()).or_default() += 1;
                out.write_all(if first { b"\n    " } else { b",\n    " })
                    .map_err(io)?;
                first = false;
                serde_json::to_writer(&mut *out, &inc).map_err(|e| io(e.into()))
            })?;
            out.write_all(b"\n  ],\n  \"statistics\": ").map_err(io)?;
            serde_json::to_writer(&mut *out, &stats).map_err(|e| io(e.into()))?;
            out.write_all(b"\n}\n").map_err(io)?;
        }
        ExportFormat::Jsonl => each(&mut |inc| {
            serde_json::to_writer(&mut *out, &inc).map_err(|e| io(e.into()))?;
            out.write_all(b"\n").map_err(io)
        })?,
        ExportFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            let csv_err = |e: csv::Error| match e.into_kind() {
                csv::ErrorKind::Io(io) => Error::from(io),
                other => Error::invalid("output", format!("{other:?}")),
            };
            w.write_record(CSV_HEADER).map_err(csv_err)?;
            each(&mut |inc| w.write_record(csv_row(&inc)).map_err(csv_err))?;
            w.flush().map_err(io)?;
        }
    }
    Ok(())
}

/// Columns of the CSV formats (`export` and `list`).
pub const CSV_HEADER: [&str; 15] = [
    "id",
    "created_at",
    "updated_at",
    "category",
    "priority",
    "status",
    "title",
    "description",
    "components",
    "impact",
    "assignee",
    "acknowledged_at",
    "resolved_at",
    "root_cause",
    "actions_taken",
];

pub fn csv_row(inc: &Incident) -> [String; 15] {
    let res = inc.resolution.as_ref();
    [
        inc.id.to_string(),
        inc.created_at.to_rfc3339(),
        inc.updated_at.to_rfc3339(),
        inc.category.to_string(),
        inc.priority.to_string(),
        inc.status.to_string(),
        inc.title.clone(),
        inc.description.clone(),
        inc.affected_components.join("; "),
        inc.impact.clone(),
        inc.assignee.clone().unwrap_or_default(),
        inc.acknowledged_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        inc.resolved_at()
            .map(|t| t.to_rfc3339())
            .unwrap_or_default(),
        res.map(|r| r.root_cause.clone()).unwrap_or_default(),
        res.map(|r| r.actions_taken.join("; ")).unwrap_or_default(),
    ]
}
