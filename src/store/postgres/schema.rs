//! Every PostgreSQL table and index of the store, as the ordered schema steps that create
//! them: the whole layout at a glance. Step `n` takes a database from version `n` to
//! `n + 1`; `incident_meta.schema_version` says how many have run.
//!
//! Incident keys are `IncidentId::key()` (`date << 32 | seq`, which fits a `bigint`), so
//! `ORDER BY id` is id order. Enum columns hold the stable one-byte codes of `Status`,
//! `Category` and `Priority`; times are UTC microseconds. Text that is ordered or compared
//! as a key uses the "C" collation, so it sorts by bytes as in the redb file.
//!
//! The record is the codec's bytes (format-version byte, checksum, bincode payload), as in
//! redb: the timeline, the resolution and every other field live in it, and the columns
//! beside it are what queries filter on. The columns are written from the record by the
//! one index rule (`store::index::Indexed`) in the same statement as the record, so a
//! record and its index entries never disagree.

/// The layout version this build writes (PostgreSQL's own sequence, apart from redb's).
pub(crate) const SCHEMA_VERSION: u64 = 1;

/// Holds the schema version; created before any step runs.
pub(super) const META: &str = "
CREATE TABLE IF NOT EXISTS incident_meta (
    key   text PRIMARY KEY,      -- 'schema_version'
    value bigint NOT NULL
)";

/// The ordered schema steps; `STEPS.len()` must equal `SCHEMA_VERSION`.
pub(super) const STEPS: &[&str] = &[V1];

const V1: &str = r#"
-- incident key -> record, with the indexed fields beside it.
CREATE TABLE incidents (
    id          bigint PRIMARY KEY,          -- IncidentId::key()
    created_at  bigint   NOT NULL,           -- µs UTC
    status      smallint NOT NULL,           -- Status::code()
    category    smallint NOT NULL,           -- Category::code()
    priority    smallint NOT NULL,           -- Priority::code()
    components  text[]   NOT NULL,           -- each affected component once
    assignee    text COLLATE "C",            -- NULL: nobody
    pattern     text COLLATE "C",            -- mined pattern it belongs to (analyze), NULL: none
    record      bytea    NOT NULL            -- codec bytes: the whole incident
);
CREATE INDEX incidents_status     ON incidents (status, id);
CREATE INDEX incidents_category   ON incidents (category, id);
CREATE INDEX incidents_priority   ON incidents (priority, id);
CREATE INDEX incidents_assignee   ON incidents (assignee, id);
CREATE INDEX incidents_created    ON incidents (created_at, id);
CREATE INDEX incidents_pattern    ON incidents (pattern, id) WHERE pattern IS NOT NULL;
CREATE INDEX incidents_components ON incidents USING gin (components);

-- local creation date YYYYMMDD -> highest sequence number handed out that day. A writer
-- locks the day's row (INSERT ... ON CONFLICT DO UPDATE) until it commits.
CREATE TABLE day_counters (
    day integer PRIMARY KEY,
    seq integer NOT NULL
);

-- (error time µs, first 64 bits of the record's fingerprint) -> incident it became.
CREATE TABLE fingerprints (
    error_micros bigint NOT NULL,
    hash         bigint NOT NULL,            -- the u64, bit for bit
    incident     bigint NOT NULL,
    PRIMARY KEY (error_micros, hash)
);
CREATE INDEX fingerprints_incident ON fingerprints (incident);

-- pattern id -> codec-encoded Pattern.
CREATE TABLE patterns (
    id     text COLLATE "C" PRIMARY KEY,
    record bytea NOT NULL
);

-- Notifications to deliver: outbox sequence number -> the entry (event, routing and
-- delivery state) as JSON, the same value as redb's `outbox` table. A deliverer edits
-- entries it has locked FOR UPDATE SKIP LOCKED, so two never hold the same one.
-- Sequence numbers come from incident_meta 'outbox_seq', locked by the writing transaction.
CREATE TABLE outbox (
    seq   bigint PRIMARY KEY,
    entry bytea NOT NULL
);

-- (incident key, escalation step) -> when it fired (µs UTC): each step fires once.
CREATE TABLE escalations (
    incident bigint NOT NULL,
    step     text COLLATE "C" NOT NULL,
    fired_at bigint NOT NULL,
    PRIMARY KEY (incident, step)
);

-- Server access tokens: SHA-256 of the secret -> its unique name, role code and creation
-- time (µs UTC); the secret itself is never stored.
CREATE TABLE tokens (
    hash       bytea PRIMARY KEY,
    name       text COLLATE "C" NOT NULL UNIQUE,
    role       smallint NOT NULL,
    created_at bigint NOT NULL
);
"#;
