//! Writes incident ids back into the error history, in place and atomically.

use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use super::raw::ReadError;
use super::reader::ErrorReader;
use super::scan::{Member, members};
use crate::error::FileError;
use crate::fsutil::AtomicFile;
use crate::model::IncidentId;

/// What [`write_back`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct WriteBackSummary {
    /// Records read.
    pub records: u64,
    /// Records whose `incident_id` was added or changed.
    pub updated: u64,
}

/// Sets `"incident_id": "<id>"` in each record for which `ids(index)` gives an
/// id (the index as in [`super::RawRecord::index`]), leaving every other byte
/// as it was.
///
/// An existing `incident_id` member has its value replaced; otherwise the
/// member is appended after the record's last member, spaced like the record's
/// own members. The file is replaced atomically ([`AtomicFile`]), so a crash leaves
/// either the old file or the new one. Nothing is written when no record changes. A record that is
/// not an object is left as it is.
pub fn write_back(
    src: &Path,
    ids: impl FnMut(u64) -> Option<IncidentId>,
) -> crate::Result<WriteBackSummary> {
    Ok(write_back_inner(src, ids)?)
}

fn write_back_inner(
    src: &Path,
    mut ids: impl FnMut(u64) -> Option<IncidentId>,
) -> Result<WriteBackSummary, ReadError> {
    let io_err = |source| ReadError::Io { offset: 0, source };
    let mut reader = ErrorReader::new(File::open(src).map_err(io_err)?);
    let mut file = AtomicFile::create(src)?;
    let out = file.writer();
    let mut copy = BufReader::with_capacity(1 << 20, File::open(src).map_err(io_err)?);
    let mut summary = WriteBackSummary::default();
    let mut copied = 0u64;
    let mut fields = Vec::new();
    let mut edited = Vec::new();
    while let Some(raw) = reader.next_raw()? {
        summary.records += 1;
        let Some(id) = ids(raw.index) else { continue };
        if !with_incident_id(raw.bytes, id, &mut fields, &mut edited) {
            continue;
        }
        let at = raw.at.offset;
        pass(&mut copy, out, at - copied, true).map_err(|e| out_err(at, e))?;
        out.write_all(&edited).map_err(|e| out_err(at, e))?;
        pass(&mut copy, out, raw.bytes.len() as u64, false).map_err(|e| out_err(at, e))?;
        copied = at + raw.bytes.len() as u64;
        summary.updated += 1;
    }
    // Unchanged, the file is not rewritten (dropping `file` removes the temporary one).
    if summary.updated > 0 {
        io::copy(&mut copy, out).map_err(|e| out_err(copied, e))?;
        file.commit()?;
    }
    Ok(summary)
}

fn io_at(offset: u64, source: io::Error) -> ReadError {
    ReadError::Io { offset, source }
}

/// Reading errors are the input's; writing errors already name the file (`AtomicFile`).
fn out_err(offset: u64, e: io::Error) -> ReadError {
    if e.get_ref().is_some_and(|i| i.is::<FileError>()) {
        ReadError::Output(e)
    } else {
        io_at(offset, e)
    }
}

/// Copies (`keep`) or skips `n` bytes of `from`.
fn pass(from: &mut impl Read, to: &mut dyn Write, n: u64, keep: bool) -> io::Result<()> {
    let got = if keep {
        io::copy(&mut from.take(n), to)?
    } else {
        io::copy(&mut from.take(n), &mut io::sink())?
    };
    if got == n {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "source file changed while writing back",
        ))
    }
}

/// Writes `record` with its `incident_id` set to `id` into `out`; false when
/// nothing needs to change (or the record is not an object).
fn with_incident_id(
    record: &[u8],
    id: IncidentId,
    fields: &mut Vec<Member>,
    out: &mut Vec<u8>,
) -> bool {
    if members(record, fields).is_none() {
        return false;
    }
    let value = format!("\"{id}\"");
    out.clear();
    let existing = fields.iter().rev().find(|m| {
        let key = &record[m.key.0..m.key.1];
        key == b"\"incident_id\""
            || (key.contains(&b'\\')
                && serde_json::from_slice::<String>(key).is_ok_and(|k| k == "incident_id"))
    });
    if let Some(m) = existing {
        if &record[m.value.0..m.value.1] == value.as_bytes() {
            return false;
        }
        out.extend_from_slice(&record[..m.value.0]);
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(&record[m.value.1..]);
        return true;
    }
    let (after, between, colon) = match (fields.first(), fields.get(1)) {
        (Some(a), Some(b)) => (
            fields.last().map_or(1, |m| m.value.1),
            &record[a.value.1..b.key.0],
            &record[a.key.1..a.value.0],
        ),
        (Some(a), None) => (a.value.1, &b", "[..], &record[a.key.1..a.value.0]),
        (None, _) => (1, &b""[..], &b": "[..]),
    };
    out.extend_from_slice(&record[..after]);
    out.extend_from_slice(between);
    out.extend_from_slice(b"\"incident_id\"");
    out.extend_from_slice(colon);
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(&record[after..]);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn edit(record: &str, id: &str) -> Option<String> {
        let mut out = Vec::new();
        with_incident_id(
            record.as_bytes(),
            id.parse().unwrap(),
            &mut Vec::new(),
            &mut out,
        )
        .then(|| String::from_utf8(out).unwrap())
    }

    #[test]
    fn inserts_in_the_record_style() {
        assert_eq!(
            edit(r#"{"a": 1, "b": "x"}"#, "INC-20250709-0001").unwrap(),
            r#"{"a": 1, "b": "x", "incident_id": "INC-20250709-0001"}"#
        );
        assert_eq!(
            edit(
                "{\n      \"a\": 1,\n      \"b\": true\n    }",
                "INC-20250709-0002"
            )
            .unwrap(),
            "{\n      \"a\": 1,\n      \"b\": true,\n      \"incident_id\": \"INC-20250709-0002\"\n    }"
        );
        assert_eq!(
            edit(r#"{"a":1}"#, "INC-20250709-0003").unwrap(),
            r#"{"a":1, "incident_id":"INC-20250709-0003"}"#
        );
        assert_eq!(
            edit("{}", "INC-20250709-0004").unwrap(),
            r#"{"incident_id": "INC-20250709-0004"}"#
        );
    }

    #[test]
    fn replaces_an_existing_id_or_leaves_it() {
        assert_eq!(
            edit(r#"{"incident_id": null, "a": 1}"#, "INC-20250709-0001").unwrap(),
            r#"{"incident_id": "INC-20250709-0001", "a": 1}"#
        );
        assert_eq!(
            edit(
                r#"{"incident_id": "INC-20250709-0001"}"#,
                "INC-20250709-0001"
            ),
            None
        );
        assert_eq!(edit("[1]", "INC-20250709-0001"), None);
    }

    #[test]
    fn round_trips_both_shapes() {
        let dir = tempfile::tempdir().unwrap();
        let mut doc = Vec::new();
        crate::import::error_history::generate(500, 3, 0.05, &mut doc).unwrap();
        let jsonl: String = {
            let v: serde_json::Value = serde_json::from_slice(&doc).unwrap();
            v["error_history"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| format!("{r}\r\n\n"))
                .collect()
        };
        for (name, bytes) in [
            ("doc.json", doc.clone()),
            ("lines.jsonl", jsonl.into_bytes()),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, &bytes).unwrap();
            let id_for =
                |i: u64| (!i.is_multiple_of(3)).then(|| IncidentId::new(20250101, i as u32 + 1));
            let summary = write_back(&path, id_for).unwrap();
            assert_eq!(summary.records, 500, "{name}");
            let after = fs::read(&path).unwrap();
            let mut reader = ErrorReader::new(&after[..]);
            let mut before = ErrorReader::new(&bytes[..]);
            let mut i = 0;
            while let Some(r) = reader.read_record().unwrap() {
                let old = before.read_record().unwrap().unwrap().into_owned();
                let expected = id_for(i).or(old.incident_id);
                assert_eq!(r.incident_id, expected, "{name} record {i}");
                assert_eq!(
                    crate::import::error_history::fingerprint(&r),
                    crate::import::error_history::fingerprint(&old)
                );
                i += 1;
            }
            assert_eq!(reader.records_seen(), 500);
            // Unchanged records and everything between them keep their bytes.
            let strip = |b: &[u8]| -> String {
                let s = String::from_utf8(b.to_vec()).unwrap();
                let re_key = "\"incident_id\"";
                s.lines()
                    .filter(|l| !l.contains(re_key))
                    .map(|l| l.trim_end_matches(','))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            if name == "doc.json" {
                assert_eq!(strip(&after), strip(&bytes));
            }
            let again = write_back(&path, id_for).unwrap();
            assert_eq!(again.updated, 0);
            assert_eq!(fs::read(&path).unwrap(), after);
            assert_eq!(
                fs::read_dir(dir.path()).unwrap().count(),
                2 - usize::from(name == "doc.json")
            );
        }
    }
}
