//! Migration's fast path: an error record encoded straight into the bytes of the
//! incident `bridge::to_incident` builds from it, and buffered into a [`Bulk`] with its
//! index entries. Kept beside the codec because it restates `Incident`'s layout.

use bincode::enc::write::Writer as _;
use bincode::enc::{Encode, Encoder};
use bincode::error::EncodeError;

use super::codec;
use super::{Bulk, Indexed};
use crate::bridge::{
    ErrorRecord, MIGRATED_ASSIGNEE, MIGRATED_IMPACT, MIGRATED_WITH_PATTERN,
    MIGRATED_WITHOUT_PATTERN, priority_for,
};
use crate::model::{Category, Incident, IncidentId, Origin, Priority, Status, Timestamp};

impl Bulk {
    /// Buffers the incident `record` becomes (what `to_incident` builds) under `id`.
    pub(crate) fn add_migrated(&mut self, record: &ErrorRecord<'_>, id: IncidentId) {
        let incident = MigratedIncident {
            record,
            id,
            priority: priority_for(&record.error_type),
        };
        let fields = Indexed {
            id,
            created_at: record.timestamp,
            status: incident.status(),
            category: Category::Error,
            priority: incident.priority,
            components: &[&record.file],
            assignee: Some(MIGRATED_ASSIGNEE),
        };
        self.add_encoded(&fields, &incident);
    }
}

/// The incident [`to_incident`] builds, encoded straight from the record into the same
/// bytes (a test compares them), without allocating its strings: migration's fast path.
struct MigratedIncident<'r, 'a> {
    record: &'r ErrorRecord<'a>,
    id: IncidentId,
    priority: Priority,
}

impl codec::Versioned for MigratedIncident<'_, '_> {
    const VERSION: u8 = <Incident as codec::Versioned>::VERSION;
}

/// Text written as one string, from parts.
struct Concat<'s, const N: usize>([&'s str; N]);

impl<const N: usize> Encode for Concat<'_, N> {
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        // A string is its byte length, then its bytes.
        (self.0.iter().map(|p| p.len()).sum::<usize>() as u64).encode(e)?;
        self.0
            .iter()
            .try_for_each(|p| e.writer().write(p.as_bytes()))
    }
}

impl MigratedIncident<'_, '_> {
    /// When it was resolved, if the error was fixed and the history says when.
    fn known_resolved_at(&self) -> Option<Timestamp> {
        let r = self.record;
        r.resolved_at
            .map(|t| t.max(r.timestamp))
            .filter(|_| r.success)
    }

    fn status(&self) -> Status {
        if self.record.success {
            Status::Resolved
        } else {
            Status::Open
        }
    }
}

impl Encode for MigratedIncident<'_, '_> {
    /// The fields of [`Incident`] in their declared order, as `to_incident` fills them.
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let r = self.record;
        let created = r.timestamp;
        let pattern = r.pattern_id.as_deref();
        let fix = r.fix_applied.as_deref();
        let success = r.success;
        let known = self.known_resolved_at();
        let resolved_at = known.unwrap_or(created);
        self.id.encode(e)?;
        created.encode(e)?;
        resolved_at.encode(e)?;
        Category::Error.encode(e)?;
        self.priority.encode(e)?;
        self.status().encode(e)?;
        Concat([&r.error_type, " in ", &r.file]).encode(e)?;
        r.error_message.as_ref().encode(e)?;
        [r.file.as_ref()].as_slice().encode(e)?;
        MIGRATED_IMPACT.encode(e)?;
        Some(MIGRATED_ASSIGNEE).encode(e)?;
        // timeline
        (1 + u64::from(success)).encode(e)?;
        created.encode(e)?;
        "created".encode(e)?;
        match pattern {
            Some(p) => Concat([MIGRATED_WITH_PATTERN, p, ")"]).encode(e)?,
            None => MIGRATED_WITHOUT_PATTERN.encode(e)?,
        }
        None::<String>.encode(e)?;
        if success {
            resolved_at.encode(e)?;
            "resolved".encode(e)?;
            match fix {
                Some(f) => Concat(["fix applied: ", f]).encode(e)?,
                None => "resolved (no fix recorded)".encode(e)?,
            }
            None::<String>.encode(e)?;
        }
        // resolution
        match success {
            false => 0u8.encode(e)?,
            true => {
                1u8.encode(e)?;
                fix.as_slice().encode(e)?;
                match pattern {
                    Some(p) => Concat(["Pattern: ", p]).encode(e)?,
                    None => "".encode(e)?,
                }
                // preventive_measures, knowledge_updates
                0u64.encode(e)?;
                0u64.encode(e)?;
                known.encode(e)?;
            }
        }
        // acknowledged_at, matched_pattern, origin
        None::<Timestamp>.encode(e)?;
        None::<crate::model::PatternRef>.encode(e)?;
        Origin::Migrated.encode(e)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bridge::{ErrorReader, to_incident};

    fn record(json: &str) -> ErrorRecord<'static> {
        let mut reader = ErrorReader::new(json.as_bytes());
        reader.next_record().unwrap().unwrap().into_owned()
    }

    /// Migration encodes `MigratedIncident`; everything else reads it back as the incident
    /// `to_incident` builds. Every branch of the mapping, and a generated history.
    #[test]
    fn fast_encoding_is_the_bytes_of_to_incident() {
        let check = |r: &ErrorRecord<'_>, id: IncidentId| {
            let fast = MigratedIncident {
                record: r,
                id,
                priority: priority_for(&r.error_type),
            };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            codec::encode_into(&to_incident(r, id), &mut a);
            codec::encode_into(&fast, &mut b);
            assert_eq!(a, b, "{r:?}");
        };
        let id = IncidentId::new(20250709, 70_000);
        let base = r#""timestamp": "2025-07-09T13:20:00.25+09:00", "error_type": "接続Error", "file": "libs/データ.py", "error_message": "Connection refused to 10.0.0.3:5672""#;
        for extra in [
            r#""success": false"#,
            r#""success": false, "pattern_id": "PATTERN_001", "fix_applied": "pending""#,
            r#""success": true"#,
            r#""success": true, "pattern_id": "P", "fix_applied": "systemctl restart x""#,
            r#""success": true, "fix_applied": "rm -rf /tmp/x", "resolved_at": "2025-07-10T00:00:00Z""#,
            r#""success": true, "pattern_id": "P", "resolved_at": "2020-01-01T00:00:00Z""#,
        ] {
            check(&record(&format!("[{{{base}, {extra}}}]")), id);
        }
        let mut json = Vec::new();
        crate::bridge::generate(300, 11, 0.1, &mut json).unwrap();
        let mut reader = ErrorReader::new(json.as_slice());
        let mut n = 0;
        while let Some(r) = reader.next_record().unwrap() {
            check(&r, IncidentId::new(20250709, n + 1));
            n += 1;
        }
        assert_eq!(n, 300);
    }
}
