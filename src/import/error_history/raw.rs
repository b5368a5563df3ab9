//! What the error-history reader yields and reports: a record's raw bytes with where it
//! is in the input, and the errors of reading and of one record.

use std::fmt;
use std::io;

use memchr::{memchr, memchr_iter, memrchr};

/// Where something is in the input: byte offset (0-based), line and column
/// (1-based; the column counts bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Position {
    pub offset: u64,
    pub line: u64,
    pub column: u64,
}

impl Position {
    /// The position of byte `rel` of `text`, which starts at `self`.
    pub(crate) fn within(self, text: &[u8], rel: usize) -> Position {
        let before = &text[..rel.min(text.len())];
        let newlines = memchr_iter(b'\n', before).count() as u64;
        let column = match memrchr(b'\n', before) {
            Some(nl) => (before.len() - nl) as u64,
            None => self.column + before.len() as u64,
        };
        Position {
            offset: self.offset + before.len() as u64,
            line: self.line + newlines,
            column,
        }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "byte {} (line {}, column {})",
            self.offset, self.line, self.column
        )
    }
}

/// The two input shapes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    /// One JSON value: an object holding an `error_history` array (or a bare array).
    Document,
    /// JSON Lines: one error object per line.
    Lines,
}

/// Reading the error history failed.
///
/// [`ReadError::Invalid`] is recoverable: that one record is skipped and reading
/// goes on. Every other variant ends the stream.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum ReadError {
    #[error("cannot read input at byte {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("malformed JSON at {at}: {reason}")]
    Malformed { at: Position, reason: String },
    #[error("{0}")]
    Invalid(Box<RecordError>),
    #[error("value at {at} is larger than the {limit}-byte limit")]
    TooLarge { at: Position, limit: usize },
    #[error("the top-level object has no \"error_history\" array")]
    NoHistory,
    #[error("the input is empty (no JSON at all)")]
    Empty,
    /// Writing a file failed (the error names it and the operation).
    #[error(transparent)]
    File(#[from] crate::error::FileError),
    /// Writing failed with an I/O error that names its file.
    #[error("{0}")]
    Output(io::Error),
}

impl ReadError {
    /// False for an invalid record, which can be skipped; true when the input cannot be read on.
    pub(crate) fn is_fatal(&self) -> bool {
        !matches!(self, ReadError::Invalid(_))
    }

    pub(crate) fn malformed(at: Position, reason: impl Into<String>) -> Self {
        ReadError::Malformed {
            at,
            reason: reason.into(),
        }
    }
}

/// What is wrong with one record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub(crate) enum RecordProblem {
    /// JSON Lines only: the line is not valid JSON (in a document that is fatal).
    #[error("malformed JSON at column {column}: {reason}")]
    Malformed { column: u64, reason: String },
    #[error("expected an error object, found {found}")]
    NotAnObject { found: &'static str },
    #[error("missing field \"{0}\"")]
    Missing(&'static str),
    #[error("field \"{0}\" appears more than once")]
    Duplicate(&'static str),
    #[error("field \"{field}\": expected {expected}, found {found}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
        found: &'static str,
    },
    /// The incident the record would become exceeds a limit (`model::limits`); for
    /// `error_type` the length is the title's, `error_type in file`.
    #[error("field \"{field}\": {len} bytes, more than the limit of {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("field \"{field}\": {source}")]
    Value {
        field: &'static str,
        #[source]
        source: crate::error::ParseError,
    },
}

/// A record that is well-formed JSON (or, in JSON Lines, one bad line) but not a
/// valid error; the rest of the input can still be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RecordError {
    /// 0-based position among the records (array elements or non-blank lines).
    pub index: u64,
    /// Where the record starts.
    pub at: Position,
    pub shape: Shape,
    pub problem: RecordProblem,
    /// The record's exact bytes, for a rejects file.
    pub raw: Vec<u8>,
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.shape {
            Shape::Document => write!(
                f,
                "record {} (byte {}): {}",
                self.index, self.at.offset, self.problem
            ),
            Shape::Lines => write!(
                f,
                "record {} (line {}): {}",
                self.index, self.at.line, self.problem
            ),
        }
    }
}

impl std::error::Error for RecordError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.problem)
    }
}

impl RecordError {
    /// One JSON Lines line for a rejects file:
    /// `{"index":41,"byte":9876,"line":57,"reason":"...","record":{...}}`.
    /// The record is embedded as JSON when it is well-formed (pretty-printing
    /// newlines removed), else as a string under `"raw"`.
    pub(crate) fn to_reject_line(&self) -> String {
        let reason = serde_json::Value::from(self.problem.to_string());
        let mut line = format!(
            "{{\"index\":{},\"byte\":{},\"line\":{},\"reason\":{}",
            self.index, self.at.offset, self.at.line, reason
        );
        let well_formed = serde_json::from_slice::<serde::de::IgnoredAny>(&self.raw).is_ok();
        if well_formed {
            line.push_str(",\"record\":");
            // A newline cannot occur inside a JSON string, so it and the
            // indentation after it are whitespace between tokens.
            let mut rest = &self.raw[..];
            while let Some(nl) = memchr2_nl(rest) {
                line.push_str(&String::from_utf8_lossy(&rest[..nl]));
                let mut next = nl + 1;
                while rest
                    .get(next)
                    .is_some_and(|&b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                {
                    next += 1;
                }
                rest = &rest[next..];
            }
            line.push_str(&String::from_utf8_lossy(rest));
        } else {
            let raw = serde_json::Value::from(String::from_utf8_lossy(&self.raw).into_owned());
            line.push_str(",\"raw\":");
            line.push_str(&raw.to_string());
        }
        line.push('}');
        line
    }
}

fn memchr2_nl(s: &[u8]) -> Option<usize> {
    memchr::memchr2(b'\n', b'\r', s)
}

/// One record's bytes as found in the input, not yet validated.
#[derive(Clone, Copy, Debug)]
pub(crate) struct RawRecord<'a> {
    /// 0-based position among the records (array elements or non-blank lines).
    pub index: u64,
    /// Where the record's first byte is.
    pub at: Position,
    pub shape: Shape,
    pub bytes: &'a [u8],
}

impl RawRecord<'_> {
    pub(crate) fn invalid(&self, problem: RecordProblem) -> ReadError {
        ReadError::Invalid(Box::new(RecordError {
            index: self.index,
            at: self.at,
            shape: self.shape,
            problem,
            raw: self.bytes.to_vec(),
        }))
    }
}

/// The byte offset within `text` that a serde_json error points at, and its
/// message without serde_json's own `at line L column C` (which counts from the
/// start of `text`, not of the input).
pub(crate) fn json_error_parts(text: &[u8], e: &serde_json::Error) -> (usize, String) {
    let mut line_start = 0;
    for _ in 1..e.line() {
        match memchr(b'\n', &text[line_start..]) {
            Some(k) => line_start += k + 1,
            None => break,
        }
    }
    let rel = (line_start + e.column().saturating_sub(1)).min(text.len());
    let full = e.to_string();
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    let reason = full
        .strip_suffix(&suffix)
        .unwrap_or(&full)
        .replace('`', "'");
    (rel, reason)
}
