//! The incident data model: what an incident is, independent of how it is stored.

mod id;
mod incident;
mod migrated;
mod pattern;
mod time;

pub use id::IncidentId;
pub use incident::{
    Category, Incident, Origin, PatternRef, Priority, Resolution, Status, TimelineEntry, limits,
};
pub(crate) use migrated::{
    MIGRATED_ASSIGNEE, MIGRATED_IMPACT, MIGRATED_WITH_PATTERN, MIGRATED_WITHOUT_PATTERN,
    MigratedError, migrated_creation,
};

pub use pattern::{Counted, Pattern};
pub use time::Timestamp;

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
