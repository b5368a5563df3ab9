//! What to run next, added to library errors that the library states without naming a
//! command. The Python package compiles this file too (`#[path]` in `python/src/lib.rs`),
//! so its messages stay the CLI's.

use std::fmt::Display;

use incident::{ErrorKind, Status};

/// The message of a refused `update` (error `e` of kind `kind`) that asked for status
/// `wanted`, with the command that does it instead.
pub(crate) fn update_refused(
    e: &dyn Display,
    kind: Option<ErrorKind>,
    wanted: Option<Status>,
) -> Option<String> {
    if kind != Some(ErrorKind::Refused) {
        return None;
    }
    let how = match wanted {
        Some(Status::Resolved) => "use `incident resolve` (it needs actions and a root cause)",
        Some(Status::Closed) => "use `incident close`",
        _ => "use `incident reopen` to work on it again",
    };
    Some(format!("{e}; {how}"))
}

/// The message of a refused `close` (error `e`, the incident in `status`) of an incident
/// that is not resolved yet.
pub(crate) fn close_refused(e: &dyn Display, status: Option<Status>) -> Option<String> {
    status
        .is_some_and(|s| s != Status::Closed)
        .then(|| format!("{e} (`incident resolve`)"))
}
