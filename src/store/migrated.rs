//! Migration's fast path: a migrated error encoded straight into the bytes of the
//! incident [`MigratedError::to_incident`] builds from it, and buffered into a [`Bulk`]
//! with its index entries. Kept beside the codec because it restates `Incident`'s layout.

use bincode::enc::write::Writer as _;
use bincode::enc::{Encode, Encoder};
use bincode::error::EncodeError;

use super::codec;
use super::{Bulk, Indexed};
use crate::model::{
    Category, Incident, IncidentId, MIGRATED_ASSIGNEE, MIGRATED_IMPACT, MIGRATED_WITH_PATTERN,
    MIGRATED_WITHOUT_PATTERN, MigratedError, Origin, Timestamp,
};

impl Bulk {
    /// Buffers the incident `error` becomes (what `to_incident` builds) under `id`.
    pub(crate) fn add_migrated(&mut self, error: &MigratedError<'_>, id: IncidentId) {
        let incident = MigratedIncident { error, id };
        let fields = Indexed {
            id,
            created_at: error.timestamp,
            status: error.status(),
            category: Category::Error,
            priority: error.priority,
            components: &[error.file],
            assignee: Some(MIGRATED_ASSIGNEE),
        };
        self.add_encoded(&fields, &incident);
    }
}

/// The incident [`MigratedError::to_incident`] builds, encoded straight from the error
/// into the same bytes (a test compares them), without allocating its strings.
struct MigratedIncident<'r, 'a> {
    error: &'r MigratedError<'a>,
    id: IncidentId,
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

impl Encode for MigratedIncident<'_, '_> {
    /// The fields of [`Incident`] in their declared order, as `to_incident` fills them.
    fn encode<E: Encoder>(&self, e: &mut E) -> Result<(), EncodeError> {
        let r = self.error;
        let created = r.timestamp;
        let pattern = r.pattern_id;
        let fix = r.fix_applied;
        let success = r.success;
        let known = r.known_resolved_at();
        let resolved_at = known.unwrap_or(created);
        self.id.encode(e)?;
        created.encode(e)?;
        resolved_at.encode(e)?;
        Category::Error.encode(e)?;
        r.priority.encode(e)?;
        r.status().encode(e)?;
        Concat([r.error_type, " in ", r.file]).encode(e)?;
        r.error_message.encode(e)?;
        [r.file].as_slice().encode(e)?;
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
    use crate::import::error_history::{ErrorReader, ErrorRecord, generate};

    fn record(json: &str) -> ErrorRecord<'static> {
        let mut reader = ErrorReader::new(json.as_bytes());
        reader.read_record().unwrap().unwrap().into_owned()
    }

    /// Migration encodes `MigratedIncident`; everything else reads it back as the incident
    /// `to_incident` builds. Every branch of the mapping, and a generated history (read
    /// by the importer: this test, not the store, depends on it).
    #[test]
    fn fast_encoding_is_the_bytes_of_to_incident() {
        let check = |r: &ErrorRecord<'_>, id: IncidentId| {
            let error = r.migrated();
            let fast = MigratedIncident { error: &error, id };
            let (mut a, mut b) = (Vec::new(), Vec::new());
            codec::encode_into(&error.to_incident(id), &mut a);
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
        generate(300, 11, 0.1, &mut json).unwrap();
        let mut reader = ErrorReader::new(json.as_slice());
        let mut n = 0;
        while let Some(r) = reader.read_record().unwrap() {
            check(&r, IncidentId::new(20250709, n + 1));
            n += 1;
        }
        assert_eq!(n, 300);
    }
}
