//! The one place that knows how records become bytes.
//!
//! Every stored value is `[version: u8][checksum: u64 LE][payload]`: a format-version byte,
//! the xxh3-64 of the payload seeded with the version, then a bincode 2.0.1 payload
//! (standard config: little endian, varint integers). redb checksums pages only when it
//! recovers from a crash, not each value on read; the checksum makes a changed byte an
//! error instead of a silently different record. Each stored type has its own version
//! ([`Versioned::VERSION`]); a type that changes layout bumps it and keeps a decoder for
//! every older version in [`Record::decode_old`], so stored values never need rewriting.
//! A reader refuses versions newer than it knows instead of misreading them.

use bincode::{Decode, Encode};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::error::StoreError;

/// Bytes before the payload: the version and the checksum.
pub(crate) const HEADER: usize = 9;

/// A value stored behind a version byte.
pub(crate) trait Versioned: Encode {
    /// Format version this build writes.
    const VERSION: u8;
}

/// A stored type that can be read back, including from older versions.
pub(crate) trait Record: Versioned + Decode<()> + Sized {
    /// Decodes a payload written under `version` (1 ..= VERSION - 1).
    fn decode_old(version: u8, _payload: &[u8]) -> Result<Self, String> {
        Err(format!("no decoder for format version {version}"))
    }
}

fn checksum(version: u8, payload: &[u8]) -> u64 {
    xxh3_64_with_seed(payload, u64::from(version))
}

/// Encodes `value` behind its header into `buf` (cleared first).
pub(crate) fn encode_into<T: Versioned>(value: &T, buf: &mut Vec<u8>) {
    buf.clear();
    encode_append(value, buf);
}

/// Appends `value`, behind its header, to `buf`.
pub(crate) fn encode_append<T: Versioned>(value: &T, buf: &mut Vec<u8>) {
    let start = buf.len();
    buf.push(T::VERSION);
    buf.extend_from_slice(&[0; 8]);
    // Writing into a Vec cannot fail, and our types have no fallible Encode impls.
    if let Err(e) = bincode::encode_into_std_write(value, buf, bincode::config::standard()) {
        unreachable!("encoding into memory failed: {e}");
    }
    let sum = checksum(T::VERSION, &buf[start + HEADER..]);
    buf[start + 1..start + HEADER].copy_from_slice(&sum.to_le_bytes());
}

/// Encodes `value` into a fresh buffer.
pub(crate) fn encode<T: Versioned>(value: &T) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    encode_into(value, &mut buf);
    buf
}

/// A value as schema 3 and older stored it (`[version][payload]`), with its checksum
/// added: the upgrade to schema 4. An empty value stays empty (decoding reports it).
pub(crate) fn add_checksum(legacy: &[u8]) -> Vec<u8> {
    let Some((&version, payload)) = legacy.split_first() else {
        return Vec::new();
    };
    let mut out = Vec::with_capacity(legacy.len() + 8);
    out.push(version);
    out.extend_from_slice(&checksum(version, payload).to_le_bytes());
    out.extend_from_slice(payload);
    out
}

/// Decodes exactly one `T` from a whole payload.
pub(crate) fn decode_payload<T: Decode<()>>(payload: &[u8]) -> Result<T, String> {
    let (value, used) = bincode::decode_from_slice(payload, bincode::config::standard())
        .map_err(|e| e.to_string())?;
    if used != payload.len() {
        return Err(format!("{} trailing bytes", payload.len() - used));
    }
    Ok(value)
}

/// Decodes a value written by [`encode`] by this or an older build; `key` names the
/// record in errors. The checksum is verified first, so a damaged version byte reads as
/// damage, not as a newer format.
pub(crate) fn decode<T: Record>(key: &dyn Fn() -> String, bytes: &[u8]) -> Result<T, StoreError> {
    let corrupt = |reason: String| StoreError::Corrupt { key: key(), reason };
    if bytes.is_empty() {
        return Err(corrupt("empty value".into()));
    }
    if bytes.len() < HEADER {
        return Err(corrupt(format!(
            "{} bytes, shorter than the {HEADER}-byte header",
            bytes.len()
        )));
    }
    let version = bytes[0];
    let mut stored = [0u8; 8];
    stored.copy_from_slice(&bytes[1..HEADER]);
    let payload = &bytes[HEADER..];
    if checksum(version, payload) != u64::from_le_bytes(stored) {
        return Err(corrupt(
            "checksum mismatch: the stored bytes were changed or damaged".into(),
        ));
    }
    if version > T::VERSION {
        return Err(StoreError::NewerRecord {
            key: key(),
            found: version,
            supported: T::VERSION,
        });
    }
    if version == 0 {
        return Err(corrupt("format version 0".into()));
    }
    if version == T::VERSION {
        decode_payload(payload).map_err(corrupt)
    } else {
        T::decode_old(version, payload).map_err(corrupt)
    }
}

use crate::model::Pattern;
use crate::model::{
    Category, Incident, IncidentId, Origin, PatternRef, Priority, Resolution, Status,
    TimelineEntry, Timestamp,
};

impl Versioned for Incident {
    /// 2 added `origin`, and `resolution.resolved_at: None` for an unknown time;
    /// 3 added `by` to timeline entries.
    const VERSION: u8 = 3;
}

impl Record for Incident {
    fn decode_old(version: u8, payload: &[u8]) -> Result<Self, String> {
        match version {
            1 => decode_payload::<IncidentV1>(payload).map(IncidentV1::upgrade),
            2 => decode_payload::<IncidentV2>(payload).map(IncidentV2::upgrade),
            _ => Err(format!("no decoder for incident format version {version}")),
        }
    }
}

impl Versioned for Pattern {
    const VERSION: u8 = 1;
}

impl Record for Pattern {}

/// A timeline entry as format versions 1 and 2 stored it: without who made it.
#[derive(Decode)]
#[cfg_attr(test, derive(Encode))]
struct TimelineEntryV1 {
    timestamp: Timestamp,
    action: String,
    details: String,
}

impl TimelineEntryV1 {
    fn upgrade(self) -> TimelineEntry {
        TimelineEntry {
            timestamp: self.timestamp,
            action: self.action,
            details: self.details,
            by: None,
        }
    }
}

/// An incident as format version 2 stored it.
#[derive(Decode)]
#[cfg_attr(test, derive(Encode))]
struct IncidentV2 {
    id: IncidentId,
    created_at: Timestamp,
    updated_at: Timestamp,
    category: Category,
    priority: Priority,
    status: Status,
    title: String,
    description: String,
    affected_components: Vec<String>,
    impact: String,
    assignee: Option<String>,
    timeline: Vec<TimelineEntryV1>,
    resolution: Option<Resolution>,
    acknowledged_at: Option<Timestamp>,
    matched_pattern: Option<PatternRef>,
    origin: Origin,
}

impl IncidentV2 {
    fn upgrade(self) -> Incident {
        Incident {
            id: self.id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            category: self.category,
            priority: self.priority,
            status: self.status,
            title: self.title,
            description: self.description,
            affected_components: self.affected_components,
            impact: self.impact,
            assignee: self.assignee,
            timeline: self
                .timeline
                .into_iter()
                .map(TimelineEntryV1::upgrade)
                .collect(),
            resolution: self.resolution,
            acknowledged_at: self.acknowledged_at,
            matched_pattern: self.matched_pattern,
            origin: self.origin,
        }
    }
}

/// An incident as format version 1 stored it (schema 1 to 3 builds).
#[derive(Decode)]
#[cfg_attr(test, derive(Encode))]
struct IncidentV1 {
    id: IncidentId,
    created_at: Timestamp,
    updated_at: Timestamp,
    category: Category,
    priority: Priority,
    status: Status,
    title: String,
    description: String,
    affected_components: Vec<String>,
    impact: String,
    assignee: Option<String>,
    timeline: Vec<TimelineEntryV1>,
    resolution: Option<Resolution>,
    acknowledged_at: Option<Timestamp>,
    matched_pattern: Option<PatternRef>,
}

impl IncidentV1 {
    /// Version 1 had no origin, and resolved a migrated error without a recorded
    /// resolution time at its own timestamp, which reads as "fixed in zero seconds".
    fn upgrade(self) -> Incident {
        let migrated = self.timeline.first().is_some_and(|e| {
            e.action == "created" && crate::model::migrated_creation(&e.details).is_some()
        });
        let mut resolution = self.resolution;
        if migrated
            && let Some(r) = resolution.as_mut()
            && r.resolved_at == Some(self.created_at)
        {
            r.resolved_at = None;
        }
        Incident {
            id: self.id,
            created_at: self.created_at,
            updated_at: self.updated_at,
            category: self.category,
            priority: self.priority,
            status: self.status,
            title: self.title,
            description: self.description,
            affected_components: self.affected_components,
            impact: self.impact,
            assignee: self.assignee,
            timeline: self
                .timeline
                .into_iter()
                .map(TimelineEntryV1::upgrade)
                .collect(),
            resolution,
            acknowledged_at: self.acknowledged_at,
            matched_pattern: self.matched_pattern,
            origin: if migrated {
                Origin::Migrated
            } else {
                Origin::Manual
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;

    fn sample() -> Incident {
        let t = Timestamp::parse("2025-01-04T09:00:00Z").unwrap();
        Incident {
            id: IncidentId::new(20250104, 1),
            created_at: t,
            updated_at: t,
            category: Category::Failure,
            priority: Priority::High,
            status: Status::Open,
            title: "RabbitMQ接続断".into(),
            description: "Connection refused".into(),
            affected_components: vec!["rabbitmq".into()],
            impact: "処理停止".into(),
            assignee: None,
            timeline: vec![],
            resolution: None,
            acknowledged_at: None,
            matched_pattern: None,
            origin: Origin::Manual,
        }
    }

    #[test]
    fn round_trips() {
        let inc = sample();
        let bytes = encode(&inc);
        assert_eq!(bytes[0], Incident::VERSION);
        let back: Incident = decode(&|| "k".into(), &bytes).unwrap();
        assert_eq!(back, inc);
    }

    #[test]
    fn refuses_newer_versions_and_garbage() {
        let bytes = encode(&sample());
        let mut newer = add_checksum(&[&[Incident::VERSION + 1], &bytes[HEADER..]].concat());
        let err = decode::<Incident>(&|| "INC-1".into(), &newer).unwrap_err();
        assert!(err.to_string().contains("newer than this build"), "{err}");
        // A damaged version byte is damage, not a newer format.
        newer[0] = Incident::VERSION;
        let err = decode::<Incident>(&|| "INC-1".into(), &newer).unwrap_err();
        assert!(err.to_string().contains("checksum mismatch"), "{err}");
        let err = decode::<Incident>(&|| "INC-1".into(), &add_checksum(&[1, 200])).unwrap_err();
        assert!(err.to_string().contains("cannot be decoded"), "{err}");
        let err = decode::<Incident>(&|| "INC-1".into(), &[1, 200]).unwrap_err();
        assert!(err.to_string().contains("header"), "{err}");
        let err = decode::<Incident>(&|| "INC-1".into(), &[]).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }

    /// Every single-bit flip anywhere in a stored value is caught.
    #[test]
    fn every_bit_flip_is_detected() {
        let bytes = encode(&sample());
        for i in 0..bytes.len() * 8 {
            let mut damaged = bytes.clone();
            damaged[i / 8] ^= 1 << (i % 8);
            assert!(
                decode::<Incident>(&|| "k".into(), &damaged).is_err(),
                "bit {i}"
            );
        }
    }

    /// A field added to `Incident` (version 2: `origin`) leaves version-1 records readable,
    /// and a migrated error's unknown resolution time stops reading as zero.
    #[test]
    fn version_1_records_still_read() {
        let inc = sample();
        let v1 = IncidentV1 {
            id: inc.id,
            created_at: inc.created_at,
            updated_at: inc.updated_at,
            category: inc.category,
            priority: inc.priority,
            status: inc.status,
            title: inc.title.clone(),
            description: inc.description.clone(),
            affected_components: inc.affected_components.clone(),
            impact: inc.impact.clone(),
            assignee: None,
            timeline: vec![],
            resolution: None,
            acknowledged_at: None,
            matched_pattern: None,
        };
        let mut bytes = vec![1u8];
        bincode::encode_into_std_write(&v1, &mut bytes, bincode::config::standard()).unwrap();
        let back: Incident = decode(&|| "k".into(), &add_checksum(&bytes)).unwrap();
        assert_eq!(back, inc);

        let t = inc.created_at;
        let migrated = IncidentV1 {
            status: Status::Resolved,
            timeline: vec![TimelineEntryV1 {
                timestamp: t,
                action: "created".into(),
                details: "migrated from error_history (pattern PATTERN_001)".into(),
            }],
            resolution: Some(Resolution {
                actions_taken: vec!["restart".into()],
                root_cause: "Pattern: PATTERN_001".into(),
                resolved_at: Some(t),
                ..Resolution::default()
            }),
            ..v1
        };
        let mut bytes = vec![1u8];
        bincode::encode_into_std_write(&migrated, &mut bytes, bincode::config::standard()).unwrap();
        let back: Incident = decode(&|| "k".into(), &add_checksum(&bytes)).unwrap();
        assert_eq!(back.origin, Origin::Migrated);
        assert_eq!(back.timeline[0].by, None);
        assert_eq!(back.resolved_at(), None);
        assert_eq!(back.resolution.unwrap().root_cause, "Pattern: PATTERN_001");
    }

    /// Version 2 records (no `by` in timeline entries) still read, with no author.
    #[test]
    fn version_2_records_still_read() {
        let inc = sample();
        let t = inc.created_at;
        let v2 = IncidentV2 {
            id: inc.id,
            created_at: t,
            updated_at: t,
            category: inc.category,
            priority: inc.priority,
            status: inc.status,
            title: inc.title.clone(),
            description: inc.description.clone(),
            affected_components: inc.affected_components.clone(),
            impact: inc.impact.clone(),
            assignee: None,
            timeline: vec![TimelineEntryV1 {
                timestamp: t,
                action: "created".into(),
                details: "Incident created".into(),
            }],
            resolution: None,
            acknowledged_at: None,
            matched_pattern: None,
            origin: Origin::Api,
        };
        let mut bytes = vec![2u8];
        bincode::encode_into_std_write(&v2, &mut bytes, bincode::config::standard()).unwrap();
        let back: Incident = decode(&|| "k".into(), &add_checksum(&bytes)).unwrap();
        assert_eq!(back.origin, Origin::Api);
        assert_eq!(
            back.timeline,
            vec![TimelineEntry {
                timestamp: t,
                action: "created".into(),
                details: "Incident created".into(),
                by: None,
            }]
        );
    }
}
