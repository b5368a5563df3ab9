//! Notifications: events written to the outbox with the change that caused them, routed
//! to the configured targets and delivered over HTTP, at least once.

mod background;
pub(crate) mod config;
mod event;
mod payload;
mod send;
mod worker;

pub use background::{Background, ErrorHook, Hooks};
pub use config::{DeliverySettings, Format, NotifyConfig, Secret, Target};
pub use event::{Delivery, Event, EventKind, IncidentSnapshot, OutboxEntry};
pub use payload::{Context, json_body, slack_body};
pub use send::{IDEMPOTENCY_HEADER, Outcome, SIGNATURE_HEADER, backoff, signature};
pub use worker::{
    Claim, DeliveryCounters, FailedAttempt, OutboxRow, OutboxView, PassReport, Worker, claim,
    discard, lease, outbox_view, pass, record, retry, send_all,
};
