//! The one place that knows how records become bytes.
//!
//! Every stored value starts with a format-version byte, then a bincode 2.0.1 payload
//! (standard config: little endian, varint integers). A reader refuses versions newer
//! than it knows instead of misreading them; a future codec adds a version and keeps a
//! decoder for the old one.

use bincode::{Decode, Encode};

use crate::error::StoreError;

/// Format version written by this build.
pub(crate) const RECORD_VERSION: u8 = 1;

/// Encodes `value` behind the version byte into `buf` (cleared first).
pub(crate) fn encode_into<T: Encode>(value: &T, buf: &mut Vec<u8>) {
    buf.clear();
    encode_append(value, buf);
}

/// Appends `value`, behind the version byte, to `buf`.
pub(crate) fn encode_append<T: Encode>(value: &T, buf: &mut Vec<u8>) {
    buf.push(RECORD_VERSION);
    // Writing into a Vec cannot fail, and our types have no fallible Encode impls.
    if let Err(e) = bincode::encode_into_std_write(value, buf, bincode::config::standard()) {
        unreachable!("encoding into memory failed: {e}");
    }
}

/// Encodes `value` into a fresh buffer.
pub(crate) fn encode<T: Encode>(value: &T) -> Vec<u8> {
    let mut buf = Vec::with_capacity(256);
    encode_into(value, &mut buf);
    buf
}

/// Decodes a value written by [`encode`]; `key` names the record in errors.
pub(crate) fn decode<T: Decode<()>>(
    key: &dyn Fn() -> String,
    bytes: &[u8],
) -> Result<T, StoreError> {
    let Some((&version, payload)) = bytes.split_first() else {
        return Err(StoreError::Corrupt {
            key: key(),
            reason: "empty value".into(),
        });
    };
    if version > RECORD_VERSION {
        return Err(StoreError::NewerRecord {
            key: key(),
            found: version,
            supported: RECORD_VERSION,
        });
    }
    if version == 0 {
        return Err(StoreError::Corrupt {
            key: key(),
            reason: "format version 0".into(),
        });
    }
    let (value, used) =
        bincode::decode_from_slice(payload, bincode::config::standard()).map_err(|e| {
            StoreError::Corrupt {
                key: key(),
                reason: e.to_string(),
            }
        })?;
    if used != payload.len() {
        return Err(StoreError::Corrupt {
            key: key(),
            reason: format!("{} trailing bytes", payload.len() - used),
        });
    }
    Ok(value)
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
        }
    }

    #[test]
    fn round_trips() {
        let inc = sample();
        let bytes = encode(&inc);
        assert_eq!(bytes[0], RECORD_VERSION);
        let back: Incident = decode(&|| "k".into(), &bytes).unwrap();
        assert_eq!(back, inc);
    }

    #[test]
    fn refuses_newer_versions_and_garbage() {
        let mut bytes = encode(&sample());
        bytes[0] = RECORD_VERSION + 1;
        let err = decode::<Incident>(&|| "INC-1".into(), &bytes).unwrap_err();
        assert!(err.to_string().contains("newer than this build"), "{err}");
        let err = decode::<Incident>(&|| "INC-1".into(), &[1, 200]).unwrap_err();
        assert!(err.to_string().contains("cannot be decoded"), "{err}");
        let err = decode::<Incident>(&|| "INC-1".into(), &[]).unwrap_err();
        assert!(err.to_string().contains("empty"), "{err}");
    }
}
