//! Streaming reader for the ops team's `error_history.json` (or JSON Lines).
//!
//! The input is read in chunks into one reusable buffer. A structural scanner
//! finds where each record of the `error_history` array ends; only that slice is
//! handed to serde_json. Memory stays at about one chunk plus the largest record,
//! whatever the size of the file.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use memchr::memchr;

use super::mapping::{ErrorRecord, FlatObject, flat_object, flat_wire};
use super::raw::{Position, RawRecord, ReadError, Shape, json_error_parts};
use super::scan::{Step, ValueScan, is_ws};

/// Bytes asked of the source per read.
pub(crate) const DEFAULT_CHUNK: usize = 4 << 20;
/// Largest single record (or kept top-level value) the reader will hold.
pub(crate) const DEFAULT_MAX_RECORD: usize = 64 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Start,
    /// Inside the top-level object, before a key (`first`: `}` may close it).
    TopKey {
        first: bool,
    },
    /// Inside the array, before an element (`first`: `]` may close it).
    Elem {
        first: bool,
    },
    AfterElem,
    AfterArray,
    AfterTopValue,
    /// After the top-level value: only whitespace may follow.
    End,
    Lines,
    Done,
}

/// While the first top-level object is read, it may be a whole document or the
/// first line of JSON Lines; its start is kept until an `error_history` key decides.
#[derive(Clone, Copy, Debug)]
struct Probe {
    /// `None` once the object outgrew the record limit and could not be kept.
    start: Option<u64>,
    saw_document_key: bool,
}

/// Reads error records one at a time from a document or JSON Lines input.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut reader = incident::import::error_history::ErrorReader::open("error_history.json".as_ref())?;
/// while let Some(item) = reader.next_record().transpose() {
///     match item {
///         Ok(record) => println!("{} {}", record.timestamp, record.error_type),
///         // An error that names a record skips that record only.
///         Err(e) if e.record_index().is_some() => eprintln!("skipped: {e}"),
///         Err(e) => return Err(e.into()),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct ErrorReader<R> {
    src: R,
    buf: Vec<u8>,
    /// Next unread byte of `buf`.
    pos: usize,
    /// End of the valid bytes in `buf`.
    end: usize,
    /// Input offset of `buf[0]`.
    base: u64,
    eof: bool,
    chunk: usize,
    max_record: usize,
    /// Newlines are counted up to this input offset; it never moves back past
    /// bytes still needed, and never past `base + pos` except while probing.
    counted: u64,
    line: u64,
    line_start: u64,
    state: State,
    shape: Option<Shape>,
    probe: Option<Probe>,
    index: u64,
    seen_history: bool,
    /// The document is a bare array of records.
    top_array: bool,
    failed: Cell<bool>,
    scan: ValueScan,
    /// Layout of the record last read by the single-pass path.
    flat: FlatObject,
    metadata: Option<serde_json::Value>,
    pattern_statistics: Option<serde_json::Value>,
}

impl ErrorReader<Box<dyn Read + Send>> {
    /// Opens a file, or standard input for `-`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let src: Box<dyn Read + Send> = if path.as_os_str() == "-" {
            Box::new(io::stdin())
        } else {
            Box::new(File::open(path)?)
        };
        Ok(Self::new(src))
    }
}

impl<R: Read> ErrorReader<R> {
    pub fn new(src: R) -> Self {
        Self::with_limits(src, DEFAULT_CHUNK, DEFAULT_MAX_RECORD)
    }

    /// `chunk`: bytes per read (the steady-state buffer size); `max_record`: the
    /// largest record accepted. Both are at least 1.
    pub fn with_limits(src: R, chunk: usize, max_record: usize) -> Self {
        let chunk = chunk.max(1);
        Self {
            src,
            buf: vec![0; chunk],
            pos: 0,
            end: 0,
            base: 0,
            eof: false,
            chunk,
            max_record: max_record.max(1),
            counted: 0,
            line: 1,
            line_start: 0,
            state: State::Start,
            shape: None,
            probe: None,
            index: 0,
            seen_history: false,
            top_array: false,
            failed: Cell::new(false),
            scan: ValueScan::default(),
            flat: FlatObject::default(),
            metadata: None,
            pattern_statistics: None,
        }
    }

    /// The input's shape, once the first record (or the end) has been reached.
    pub fn shape(&self) -> Option<Shape> {
        self.shape
    }

    /// Input bytes consumed so far, for progress.
    pub fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    /// Records returned so far (valid or not).
    pub fn records_seen(&self) -> u64 {
        self.index
    }

    /// The top-level `metadata` value, once read past it (at the end if it follows
    /// the history). `None` in JSON Lines or when larger than the record limit.
    pub fn metadata(&self) -> Option<&serde_json::Value> {
        self.metadata.as_ref()
    }

    /// The top-level `pattern_statistics` value, as for [`ErrorReader::metadata`].
    pub fn pattern_statistics(&self) -> Option<&serde_json::Value> {
        self.pattern_statistics.as_ref()
    }

    /// The next record's bytes, or `None` at the end. Errors here are fatal.
    pub(crate) fn next_raw(&mut self) -> Result<Option<RawRecord<'_>>, ReadError> {
        let span = self.next_span()?;
        Ok(span.map(|s| self.raw(&s)))
    }

    /// The next record, validated. After an error that names a record
    /// ([`crate::Error::record_index`]) call again for the rest; any other error ends the input.
    pub fn next_record(&mut self) -> crate::Result<Option<ErrorRecord<'_>>> {
        Ok(self.read_record()?)
    }

    /// The next record, validated. Skip a non-fatal error and call again.
    pub(crate) fn read_record(&mut self) -> Result<Option<ErrorRecord<'_>>, ReadError> {
        if let Some(span) = self.flat_span()? {
            let raw = self.raw(&span);
            if let Ok(text) = std::str::from_utf8(raw.bytes)
                && let Some(wire) = flat_wire(text, &self.flat)
            {
                return wire.validate().map(Some).map_err(|p| raw.invalid(p));
            }
            let result = raw.parse();
            if let Err(e) = &result
                && e.is_fatal()
            {
                self.failed.set(true);
            }
            return result.map(Some);
        }
        let Some(span) = self.next_span()? else {
            return Ok(None);
        };
        let result = self.raw(&span).parse();
        if let Err(e) = &result
            && e.is_fatal()
        {
            self.failed.set(true);
        }
        result.map(Some)
    }

    /// The common case in one pass: the next array element is a flat object
    /// wholly in the buffer. `None` sends the caller to the general path.
    fn flat_span(&mut self) -> Result<Option<Span>, ReadError> {
        if self.failed.get() {
            return Ok(None);
        }
        if self.state == State::AfterElem {
            match self.peek() {
                Ok(Some(b',')) => {
                    self.pos += 1;
                    self.state = State::Elem { first: false };
                }
                Ok(_) => return Ok(None),
                Err(e) => {
                    self.failed.set(true);
                    return Err(e);
                }
            }
        }
        if !matches!(self.state, State::Elem { .. }) {
            return Ok(None);
        }
        match self.peek() {
            Ok(Some(b'{')) => {}
            Ok(_) => return Ok(None),
            Err(e) => {
                self.failed.set(true);
                return Err(e);
            }
        }
        let obj = &mut self.flat;
        if !flat_object(&self.buf[self.pos..self.end], obj) {
            return Ok(None);
        }
        let (len, newlines, last_newline) = (obj.len, obj.newlines, obj.last_newline);
        let end = self.pos + len;
        let span = self.span_here(Shape::Document, end);
        if newlines > 0 {
            self.line += newlines;
            self.line_start = span.at.offset + last_newline as u64 + 1;
        }
        self.counted = span.at.offset + len as u64;
        self.pos = end;
        self.state = State::AfterElem;
        Ok(Some(span))
    }

    fn raw(&self, span: &Span) -> RawRecord<'_> {
        RawRecord {
            index: span.index,
            at: span.at,
            shape: span.shape,
            bytes: &self.buf[span.start..span.end],
        }
    }

    fn next_span(&mut self) -> Result<Option<Span>, ReadError> {
        if self.failed.get() {
            return Ok(None);
        }
        let result = self.step();
        if result.is_err() {
            self.failed.set(true);
        }
        result
    }

    fn step(&mut self) -> Result<Option<Span>, ReadError> {
        loop {
            match self.state {
                State::Start => {
                    self.skip_bom()?;
                    match self.peek()? {
                        // As `import` does: an empty input is almost always a mistake
                        // (a failed redirect), not a history without errors.
                        None => return Err(ReadError::Empty),
                        Some(b'{') => {
                            self.probe = Some(Probe {
                                start: Some(self.offset()),
                                saw_document_key: false,
                            });
                            self.pos += 1;
                            self.state = State::TopKey { first: true };
                        }
                        Some(b'[') => {
                            self.shape = Some(Shape::Document);
                            self.seen_history = true;
                            self.top_array = true;
                            self.pos += 1;
                            self.state = State::Elem { first: true };
                        }
                        Some(_) => {
                            return Err(self.malformed_here("expected '{' or '[' at the start"));
                        }
                    }
                }
                State::TopKey { first } => match self.peek()? {
                    Some(b'}') if first => {
                        self.pos += 1;
                        self.object_closed()?;
                    }
                    Some(b'"') => self.top_member()?,
                    Some(_) => return Err(self.malformed_here("expected '\"' to start a key")),
                    None => return Err(self.unexpected_end()),
                },
                State::Elem { first } => match self.peek()? {
                    Some(b']') if first => {
                        self.pos += 1;
                        self.state = State::AfterArray;
                    }
                    Some(b']') => return Err(self.malformed_here("expected a record after ','")),
                    Some(_) => {
                        let span = self.element(Shape::Document)?;
                        self.state = State::AfterElem;
                        return Ok(Some(span));
                    }
                    None => return Err(self.unexpected_end()),
                },
                State::AfterElem => match self.peek()? {
                    Some(b',') => {
                        self.pos += 1;
                        self.state = State::Elem { first: false };
                    }
                    Some(b']') => {
                        self.pos += 1;
                        self.state = State::AfterArray;
                    }
                    Some(_) => return Err(self.malformed_here("expected ',' or ']'")),
                    None => return Err(self.unexpected_end()),
                },
                State::AfterArray => {
                    self.state = if self.top_array {
                        State::End
                    } else {
                        State::AfterTopValue
                    };
                }
                State::AfterTopValue => match self.peek()? {
                    Some(b',') => {
                        self.pos += 1;
                        self.state = State::TopKey { first: false };
                    }
                    Some(b'}') => {
                        self.pos += 1;
                        self.object_closed()?;
                    }
                    Some(_) => return Err(self.malformed_here("expected ',' or '}'")),
                    None => return Err(self.unexpected_end()),
                },
                State::End => match self.peek()? {
                    None => self.state = State::Done,
                    Some(_) => {
                        return Err(
                            self.malformed_here("unexpected data after the end of the document")
                        );
                    }
                },
                State::Lines => return self.line(),
                State::Done => return Ok(None),
            }
        }
    }
}

/// Where one record is in the buffer.
#[derive(Clone, Copy, Debug)]
struct Span {
    index: u64,
    at: Position,
    shape: Shape,
    start: usize,
    end: usize,
}

/// Where a scanned value ends in the buffer, and whether its start is still there.
enum Scanned {
    Kept(usize),
    /// Too large to keep: its head was dropped while scanning.
    Discarded(usize),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum TopKey {
    History,
    Metadata,
    PatternStatistics,
    Other,
}

impl<R: Read> ErrorReader<R> {
    fn top_member(&mut self) -> Result<(), ReadError> {
        let key_at = self.offset();
        let Scanned::Kept(key_end) = self.scan_value(false)? else {
            return Err(self.malformed_here("key too long"));
        };
        let key_bytes = &self.buf[self.pos..key_end];
        let inner = &key_bytes[1..key_bytes.len() - 1];
        let key = if memchr(b'\\', inner).is_none() {
            top_key(inner)
        } else {
            match serde_json::from_slice::<String>(key_bytes) {
                Ok(k) => top_key(k.as_bytes()),
                Err(e) => return Err(self.json_error(self.pos, key_bytes, &e)),
            }
        };
        self.pos = key_end;
        match self.peek()? {
            Some(b':') => self.pos += 1,
            Some(_) => return Err(self.malformed_here("expected ':' after a key")),
            None => return Err(self.unexpected_end()),
        }
        match self.peek()? {
            Some(_) => {}
            None => return Err(self.unexpected_end()),
        }
        if key == TopKey::History {
            if self.seen_history {
                let at = self.pos_of(key_at);
                return Err(ReadError::malformed(at, "duplicate \"error_history\" key"));
            }
            if self.buf[self.pos] != b'[' {
                return Err(self.malformed_here("\"error_history\" must be an array"));
            }
            self.pos += 1;
            self.seen_history = true;
            self.shape = Some(Shape::Document);
            self.probe = None;
            self.state = State::Elem { first: true };
            return Ok(());
        }
        if let Some(probe) = &mut self.probe
            && key != TopKey::Other
        {
            probe.saw_document_key = true;
        }
        match self.scan_value(true)? {
            Scanned::Kept(end) => {
                let text = &self.buf[self.pos..end];
                // Values not kept are still validated, so a broken document is
                // reported where it breaks, not at some later point.
                let checked = match key {
                    TopKey::Metadata | TopKey::PatternStatistics => {
                        serde_json::from_slice::<serde_json::Value>(text).map(Some)
                    }
                    _ => serde_json::from_slice::<serde::de::IgnoredAny>(text).map(|_| None),
                };
                match checked {
                    Ok(Some(value)) if key == TopKey::Metadata => self.metadata = Some(value),
                    Ok(Some(value)) => self.pattern_statistics = Some(value),
                    Ok(None) => {}
                    Err(e) => return Err(self.json_error(self.pos, text, &e)),
                }
                self.pos = end;
            }
            Scanned::Discarded(end) => self.pos = end,
        }
        self.state = State::AfterTopValue;
        Ok(())
    }

    /// The top-level object closed.
    fn object_closed(&mut self) -> Result<(), ReadError> {
        match self.probe.take() {
            // It had no "error_history": it was the first record of JSON Lines.
            Some(Probe {
                start: Some(start),
                saw_document_key: false,
            }) => {
                self.pos = (start - self.base) as usize;
                self.shape = Some(Shape::Lines);
                self.state = State::Lines;
                Ok(())
            }
            Some(_) => Err(ReadError::NoHistory),
            None if self.seen_history => {
                self.state = State::End;
                Ok(())
            }
            None => Err(ReadError::NoHistory),
        }
    }

    fn element(&mut self, shape: Shape) -> Result<Span, ReadError> {
        let Scanned::Kept(end) = self.scan_value(false)? else {
            return Err(self.malformed_here("record too long"));
        };
        let span = self.span_here(shape, end);
        self.pos = end;
        Ok(span)
    }

    fn span_here(&mut self, shape: Shape, end: usize) -> Span {
        let abs = self.offset();
        self.advance_cursor(abs);
        let span = Span {
            index: self.index,
            at: Position {
                offset: abs,
                line: self.line,
                column: abs - self.line_start + 1,
            },
            shape,
            start: self.pos,
            end,
        };
        self.index += 1;
        span
    }

    /// The next non-blank line of JSON Lines.
    fn line(&mut self) -> Result<Option<Span>, ReadError> {
        if self.peek()?.is_none() {
            self.state = State::Done;
            return Ok(None);
        }
        let mut searched = 0;
        let line_end = loop {
            if let Some(k) = memchr(b'\n', &self.buf[self.pos + searched..self.end]) {
                break self.pos + searched + k;
            }
            searched = self.end - self.pos;
            if !self.more()? {
                break self.end;
            }
        };
        let mut end = line_end;
        while end > self.pos && is_ws(self.buf[end - 1]) {
            end -= 1;
        }
        let span = self.span_here(Shape::Lines, end);
        self.pos = line_end;
        Ok(Some(span))
    }

    fn scan_value(&mut self, may_discard: bool) -> Result<Scanned, ReadError> {
        self.scan.reset();
        let mut discarded = false;
        loop {
            match self.scan.advance(&self.buf[self.pos..self.end], self.eof) {
                Step::Done(n) => {
                    let end = self.pos + n;
                    return Ok(if discarded {
                        Scanned::Discarded(end)
                    } else {
                        Scanned::Kept(end)
                    });
                }
                Step::Mismatch(k) => {
                    let at = self.pos_of(self.offset() + k as u64);
                    let found = self.buf[self.pos + k] as char;
                    return Err(ReadError::malformed(at, format!("unexpected '{found}'")));
                }
                Step::More => {
                    if self.eof {
                        return Err(self.unexpected_end());
                    }
                    if may_discard && self.end - self.pos >= self.chunk / 2 {
                        let d = self.scan.i;
                        self.advance_cursor(self.offset() + d as u64);
                        self.pos += d;
                        self.scan.rebase(d);
                        discarded = true;
                    }
                    self.more()?;
                }
            }
        }
    }

    fn skip_bom(&mut self) -> Result<(), ReadError> {
        while self.end - self.pos < 3 && self.more()? {}
        if self.buf[self.pos..self.end].starts_with(b"\xEF\xBB\xBF") {
            self.pos += 3;
        }
        Ok(())
    }

    /// Skips whitespace; the next byte, or `None` at the end of input.
    fn peek(&mut self) -> Result<Option<u8>, ReadError> {
        loop {
            while self.pos < self.end {
                let b = self.buf[self.pos];
                if !is_ws(b) {
                    return Ok(Some(b));
                }
                self.pos += 1;
            }
            if !self.more()? {
                return Ok(None);
            }
        }
    }

    /// Reads more input after `end`, first dropping what is no longer needed.
    /// Returns false at the end of input.
    fn more(&mut self) -> Result<bool, ReadError> {
        if self.eof {
            return Ok(false);
        }
        let mut keep = self.pos;
        if let Some(Probe {
            start: Some(start), ..
        }) = self.probe
        {
            keep = keep.min((start - self.base) as usize);
        }
        if keep > 0 {
            let abs = self.base + keep as u64;
            self.advance_cursor(abs);
            self.buf.copy_within(keep..self.end, 0);
            self.end -= keep;
            self.pos -= keep;
            self.base = abs;
        }
        if self.end == self.buf.len() {
            if self.end >= self.max_record {
                if let Some(probe) = &mut self.probe
                    && probe.start.is_some()
                {
                    probe.start = None;
                    return self.more();
                }
                return Err(ReadError::TooLarge {
                    at: self.pos_of(self.offset()),
                    limit: self.max_record,
                });
            }
            let grown = (self.buf.len() * 2).min(self.max_record);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.src.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ReadError::Io {
                        offset: self.base + self.end as u64,
                        source,
                    });
                }
            }
        }
    }

    /// The position of input offset `abs`, which must be in the buffer.
    fn pos_of(&self, abs: u64) -> Position {
        let cursor = Position {
            offset: self.counted,
            line: self.line,
            column: self.counted - self.line_start + 1,
        };
        if abs <= self.counted {
            return Position {
                offset: abs,
                column: (abs.max(self.line_start) - self.line_start) + 1,
                ..cursor
            };
        }
        let from = (self.counted - self.base) as usize;
        let to = ((abs - self.base) as usize).min(self.end);
        cursor.within(&self.buf[from..to], to - from)
    }

    fn advance_cursor(&mut self, abs: u64) {
        if abs <= self.counted {
            return;
        }
        let p = self.pos_of(abs);
        self.counted = p.offset;
        self.line = p.line;
        self.line_start = p.offset + 1 - p.column;
    }

    fn malformed_here(&self, reason: &str) -> ReadError {
        ReadError::malformed(self.pos_of(self.offset()), reason)
    }

    fn unexpected_end(&self) -> ReadError {
        ReadError::malformed(
            self.pos_of(self.base + self.end as u64),
            "unexpected end of input",
        )
    }

    /// A serde_json syntax error in `text`, which starts at buffer index `start`.
    fn json_error(&self, start: usize, text: &[u8], e: &serde_json::Error) -> ReadError {
        let at = self.pos_of(self.base + start as u64);
        let (rel, reason) = json_error_parts(text, e);
        ReadError::malformed(at.within(text, rel), reason)
    }
}

fn top_key(key: &[u8]) -> TopKey {
    match key {
        b"error_history" => TopKey::History,
        b"metadata" => TopKey::Metadata,
        b"pattern_statistics" => TopKey::PatternStatistics,
        _ => TopKey::Other,
    }
}

impl<R: Read> Iterator for ErrorReader<R> {
    type Item = crate::Result<ErrorRecord<'static>>;

    /// Owned records; after a fatal error the iterator ends.
    fn next(&mut self) -> Option<Self::Item> {
        self.read_record()
            .map(|r| r.map(ErrorRecord::into_owned))
            .map_err(crate::Error::from)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{IncidentId, Timestamp};

    const REC_A: &str = r#"{"timestamp": "2025-07-09T13:20:00.123456+00:00", "error_type": "ConnectionRefusedError", "file": "libs/rabbitmq_client.py", "error_message": "Connection refused to 10.0.0.3:5672", "pattern_id": "PATTERN_001", "fix_applied": "systemctl restart rabbitmq-server", "success": true}"#;
    const REC_B: &str = r#"{"timestamp": "2025-07-09T14:00:00+09:00", "error_type": "ModuleNotFoundError", "file": "workers/pm_worker.py", "error_message": "No module named 'pika'", "pattern_id": "PATTERN_002", "fix_applied": "pending", "success": false, "incident_id": "INC-20250709-0001"}"#;

    /// All records (owned) and the first fatal error, skipping invalid ones.
    fn read_all(
        input: &[u8],
        chunk: usize,
    ) -> (Vec<ErrorRecord<'static>>, Vec<String>, Option<String>) {
        let mut reader = ErrorReader::with_limits(input, chunk, 1 << 20);
        let (mut ok, mut invalid) = (Vec::new(), Vec::new());
        loop {
            match reader.read_record() {
                Ok(Some(r)) => ok.push(r.into_owned()),
                Ok(None) => return (ok, invalid, None),
                Err(e) if !e.is_fatal() => invalid.push(e.to_string()),
                Err(e) => return (ok, invalid, Some(e.to_string())),
            }
        }
    }

    fn doc(records: &[&str]) -> String {
        format!(
            "{{\"metadata\": {{\"total_errors\": {n}, \"resolved_errors\": 1}},\n \"error_history\": [\n{}\n],\n \"pattern_statistics\": {{\"PATTERN_001\": {{\"count\": 10, \"resolution_rate\": 80.0}}}}}}\n",
            records.join(",\n"),
            n = records.len()
        )
    }

    fn only_error(input: &str) -> String {
        let (_, invalid, fatal) = read_all(input.as_bytes(), 1 << 16);
        fatal
            .or_else(|| invalid.into_iter().next())
            .expect("an error")
    }

    #[test]
    fn reads_the_document_shape() {
        let text = doc(&[REC_A, REC_B]);
        let mut reader = ErrorReader::new(text.as_bytes());
        let a = reader.read_record().unwrap().unwrap().into_owned();
        assert_eq!(reader.shape(), Some(Shape::Document));
        let b = reader.read_record().unwrap().unwrap().into_owned();
        assert!(reader.read_record().unwrap().is_none());
        assert!(reader.read_record().unwrap().is_none());
        assert_eq!(
            a.timestamp,
            Timestamp::parse("2025-07-09T13:20:00.123456Z").unwrap()
        );
        assert_eq!(a.error_type, "ConnectionRefusedError");
        assert_eq!(a.pattern_id.as_deref(), Some("PATTERN_001"));
        assert!(a.success && a.incident_id.is_none() && a.resolved_at.is_none());
        assert_eq!(
            b.timestamp,
            Timestamp::parse("2025-07-09T05:00:00Z").unwrap()
        );
        assert_eq!(
            b.incident_id,
            Some("INC-20250709-0001".parse::<IncidentId>().unwrap())
        );
        assert!(!b.success);
        assert_eq!(reader.metadata().unwrap()["total_errors"], 2);
        assert_eq!(
            reader.pattern_statistics().unwrap()["PATTERN_001"]["count"],
            10
        );
    }

    #[test]
    fn keys_in_any_order_and_unknown_fields() {
        let text = format!(
            r#"{{"generated_by": {{"tool": ["x", {{"y": "]}}"}}]}}, "pattern_statistics": {{}}, "error_history": [{REC_A}, {{"success": true, "extra": [1, 2.5e3, null], "file": "f.py", "error_message": "m", "error_type": "E", "timestamp": "2025-01-01T00:00:00Z", "nested": {{"a": {{"b": "}}"}}}}}}], "metadata": {{"total_errors": 2}}, "trailer": -1.5}}"#
        );
        let (ok, invalid, fatal) = read_all(text.as_bytes(), 1 << 16);
        assert_eq!((ok.len(), invalid.len(), fatal), (2, 0, None));
        assert_eq!(ok[1].file, "f.py");
        assert!(ok[1].pattern_id.is_none() && ok[1].fix_applied.is_none());
        let mut reader = ErrorReader::new(text.as_bytes());
        while reader.read_record().unwrap().is_some() {}
        assert_eq!(reader.metadata().unwrap()["total_errors"], 2);
    }

    #[test]
    fn bare_array_and_empty_inputs() {
        let text = format!("\u{feff}[{REC_A},{REC_B}]");
        let (ok, _, fatal) = read_all(text.as_bytes(), 1 << 16);
        assert_eq!((ok.len(), fatal), (2, None));
        for empty in ["[]", "{\"error_history\": []}", "\u{feff}[]"] {
            let (ok, invalid, fatal) = read_all(empty.as_bytes(), 1 << 16);
            assert!(
                ok.is_empty() && invalid.is_empty() && fatal.is_none(),
                "{empty:?}"
            );
        }
        for nothing in ["", "  \n", "\u{feff}", "\u{feff} \n"] {
            let (_, _, fatal) = read_all(nothing.as_bytes(), 1 << 16);
            assert_eq!(
                fatal.as_deref(),
                Some("the input is empty (no JSON at all)"),
                "{nothing:?}"
            );
        }
    }

    #[test]
    fn escapes_and_japanese() {
        let rec = r#"{"timestamp": "2025-07-09T13:20:00Z", "error_type": "Slack\u901a\u77e5Error", "file": "C:\\app\\libs\\slack.py", "error_message": "Slack通知に失敗しました (チャンネル: #ops-alerts, ステータス: 429) \"quoted\"\n\ud83d\ude00", "success": true}"#;
        for text in [doc(&[rec]), format!("{rec}\n")] {
            let (ok, invalid, fatal) = read_all(text.as_bytes(), 1 << 16);
            assert_eq!((invalid.len(), fatal), (0, None));
            assert_eq!(ok[0].error_type, "Slack通知Error");
            assert_eq!(ok[0].file, r"C:\app\libs\slack.py");
            assert_eq!(
                ok[0].error_message,
                "Slack通知に失敗しました (チャンネル: #ops-alerts, ステータス: 429) \"quoted\"\n😀"
            );
        }
    }

    #[test]
    fn json_lines_with_blank_lines_and_crlf() {
        let text = format!("{REC_A}\r\n\r\n  \n{REC_B}\r\n{{\"timestamp\": 5}}\nnot json\n{REC_A}");
        let mut reader = ErrorReader::new(text.as_bytes());
        let first = reader.next_raw().unwrap().unwrap();
        assert_eq!(
            (first.index, first.at.line, first.shape),
            (0, 1, Shape::Lines)
        );
        assert_eq!(first.bytes, REC_A.as_bytes());
        let second = reader.next_raw().unwrap().unwrap();
        assert_eq!((second.index, second.at.line, second.at.column), (1, 4, 1));
        let (ok, invalid, fatal) = read_all(text.as_bytes(), 1 << 16);
        assert_eq!(ok.len(), 3);
        assert_eq!(fatal, None);
        assert_eq!(
            invalid,
            [
                "record 2 (line 5): field \"timestamp\": expected a string, found a number",
                "record 3 (line 6): malformed JSON at column 2: expected ident",
            ]
        );
    }

    #[test]
    fn invalid_records_name_index_offset_and_reason() {
        let cases = [
            (
                r#"{"timestamp": "2025-07-09T13:20:00Z", "file": "a.py", "error_message": "m"}"#,
                r#"missing field "error_type""#,
            ),
            (
                r#"{"timestamp": "2025-07-09T13:20:00Z", "error_type": 3, "file": "a.py", "error_message": "m"}"#,
                r#"field "error_type": expected a string, found a number"#,
            ),
            (
                r#"{"timestamp": "2025-07-09T13:20:00Z", "error_type": "E", "file": "a.py", "error_message": "m", "success": "yes"}"#,
                r#"field "success": expected true or false, found a string"#,
            ),
            (
                r#"{"timestamp": "yesterday", "error_type": "E", "file": "a.py", "error_message": "m"}"#,
                r#"field "timestamp": invalid time "yesterday": expected RFC 3339 such as 2025-07-09T13:20:00+09:00"#,
            ),
            (
                r#"{"timestamp": "2025-07-09T13:20:00Z", "error_type": "E", "file": "a.py", "error_message": "m", "incident_id": "INC-2025-1"}"#,
                r#"field "incident_id": invalid incident id "INC-2025-1": expected INC-YYYYMMDD-NNNN"#,
            ),
            (
                r#"{"timestamp": "2025-07-09T13:20:00Z", "error_type": "E", "file": "a.py", "error_message": "m", "resolved_at": "later"}"#,
                r#"field "resolved_at": invalid time "later": expected RFC 3339 such as 2025-07-09T13:20:00+09:00"#,
            ),
            (
                r#"{"timestamp": "2025-07-09T13:20:00Z", "error_type": "E", "file": null, "error_message": "m"}"#,
                r#"field "file": expected a string, found null"#,
            ),
            (
                r#""just a string""#,
                "expected an error object, found a string",
            ),
            (r#"[1, 2]"#, "expected an error object, found an array"),
        ];
        for (rec, reason) in cases {
            let text = format!("{{\"error_history\": [{REC_A}, {rec}, {REC_B}]}}");
            let offset = 19 + REC_A.len() + 2;
            let (ok, invalid, fatal) = read_all(text.as_bytes(), 1 << 16);
            assert_eq!((ok.len(), fatal), (2, None), "{rec}");
            assert_eq!(invalid, [format!("record 1 (byte {offset}): {reason}")]);
        }
    }

    #[test]
    fn reject_lines_embed_the_record() {
        let rec = "{\n  \"timestamp\": \"x\",\n  \"error_type\": \"E\"\n}";
        let text = format!("{{\"error_history\": [{rec}]}}");
        let mut reader = ErrorReader::new(text.as_bytes());
        let Err(ReadError::Invalid(e)) = reader.read_record() else {
            panic!("expected an invalid record")
        };
        assert_eq!(e.raw, rec.as_bytes());
        assert_eq!(
            e.to_reject_line(),
            r#"{"index":0,"byte":19,"line":1,"reason":"field \"timestamp\": invalid time \"x\": expected RFC 3339 such as 2025-07-09T13:20:00+09:00","record":{"timestamp": "x","error_type": "E"}}"#
        );
        let line = serde_json::from_str::<serde_json::Value>(&e.to_reject_line()).unwrap();
        assert_eq!(line["record"]["error_type"], "E");
    }

    #[test]
    fn malformed_documents_are_fatal_with_position() {
        let cases = [
            (
                "{\"error_history\": [\n{\"a\": 1} {\"b\": 2}]}",
                "malformed JSON at byte 29 (line 2, column 10): expected ',' or ']'",
            ),
            (
                "{\"error_history\": [\n  {\"timestamp\": \"x\" \"y\"}]}",
                "malformed JSON at byte 40 (line 2, column 21): expected ',' or '}'",
            ),
            (
                "{\"error_history\": [{\"a\": [1}]}",
                "malformed JSON at byte 27 (line 1, column 28): unexpected '}'",
            ),
            (
                "{\"error_history\": [{\"a\": 1},]}",
                "malformed JSON at byte 28 (line 1, column 29): expected a record after ','",
            ),
            (
                "{\"error_history\": [{\"a\": tru}]}",
                "malformed JSON at byte 28 (line 1, column 29): expected ident",
            ),
            (
                "{\"error_history\": [{\"a\": 1}",
                "malformed JSON at byte 27 (line 1, column 28): unexpected end of input",
            ),
            (
                "{\"error_history\": [{\"a\": \"unterminated}]}",
                "malformed JSON at byte 41 (line 1, column 42): unexpected end of input",
            ),
            (
                "{\"metadata\": {\"x\": 1,}, \"error_history\": []}",
                "malformed JSON at byte 21 (line 1, column 22): trailing comma",
            ),
            (
                "{\"error_history\": {}}",
                "malformed JSON at byte 18 (line 1, column 19): \"error_history\" must be an array",
            ),
            (
                "{\"error_history\": [], \"error_history\": []}",
                "malformed JSON at byte 22 (line 1, column 23): duplicate \"error_history\" key",
            ),
            (
                "{\"error_history\": []} {}",
                "malformed JSON at byte 22 (line 1, column 23): unexpected data after the end of the document",
            ),
            (
                "{\"metadata\": {}}",
                "the top-level object has no \"error_history\" array",
            ),
            (
                "42",
                "malformed JSON at byte 0 (line 1, column 1): expected '{' or '[' at the start",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(only_error(text), expected, "{text}");
        }
    }

    #[test]
    fn records_before_a_fatal_error_are_returned() {
        let text = format!("{{\"error_history\": [{REC_A}, {REC_B}, {{\"a\": ]}}");
        let (ok, _, fatal) = read_all(text.as_bytes(), 1 << 16);
        assert_eq!(ok.len(), 2);
        assert!(fatal.unwrap().starts_with("malformed JSON at byte"));
    }

    #[test]
    fn too_large_records_are_refused() {
        let big = format!(
            "{{\"error_history\": [{{\"error_message\": \"{}\"}}]}}",
            "x".repeat(5000)
        );
        let mut reader = ErrorReader::with_limits(big.as_bytes(), 64, 1024);
        let err = reader.read_record().unwrap_err();
        assert_eq!(
            err.to_string(),
            "value at byte 19 (line 1, column 20) is larger than the 1024-byte limit"
        );
        // A large value that is not kept is skipped within the same limit.
        let skipped = format!(
            "{{\"blob\": [\"{}\"], \"error_history\": [{REC_A}]}}",
            "y".repeat(5000)
        );
        let mut reader = ErrorReader::with_limits(skipped.as_bytes(), 64, 1024);
        assert!(reader.read_record().unwrap().is_some());
    }

    /// Every chunk size gives the same records, errors and positions as one big buffer.
    #[test]
    fn chunk_boundaries_do_not_matter() {
        let mut generated = Vec::new();
        crate::import::error_history::generate(40, 5, 0.1, &mut generated).unwrap();
        let bad = r#"{"timestamp": "2025-07-09T13:20:00Z", "error_type": "E\"\\\u65e5", "file": "日本.py", "error_message": "x"}"#;
        let inputs = [
            String::from_utf8(generated).unwrap(),
            doc(&[REC_A, bad, REC_B, r#"{"timestamp": "no"}"#, REC_A]),
            format!("{REC_A}\r\n\n{bad}\n{{\"x\": }}\n{REC_B}\n"),
            format!("{{\"error_history\": [{REC_A}, {REC_B}, {{\"a\": ]}}"),
        ];
        for input in &inputs {
            let want = read_all(input.as_bytes(), 1 << 20);
            for chunk in [1, 2, 3, 7, 13, 64, 301] {
                assert_eq!(read_all(input.as_bytes(), chunk), want, "chunk {chunk}");
                let mut a = ErrorReader::with_limits(input.as_bytes(), chunk, 1 << 20);
                let mut b = ErrorReader::new(input.as_bytes());
                loop {
                    match (a.next_raw(), b.next_raw()) {
                        (Ok(Some(x)), Ok(Some(y))) => {
                            assert_eq!((x.index, x.at, x.bytes), (y.index, y.at, y.bytes))
                        }
                        (Ok(None), Ok(None)) => break,
                        (Err(x), Err(y)) => {
                            assert_eq!(x.to_string(), y.to_string());
                            break;
                        }
                        (x, y) => panic!(
                            "chunk {chunk}: {:?} vs {:?}",
                            x.map(|r| r.map(|r| r.index)),
                            y.map(|r| r.map(|r| r.index))
                        ),
                    }
                }
            }
        }
    }

    #[test]
    fn raw_records_carry_index_and_position() {
        let text = doc(&[REC_A, REC_B, REC_A]);
        let mut reader = ErrorReader::new(text.as_bytes());
        let mut items = Vec::new();
        while let Some(r) = reader.next_raw().unwrap() {
            items.push((
                r.index,
                r.at,
                r.bytes.to_vec(),
                r.parse().map(|p| p.into_owned()),
            ));
        }
        assert_eq!(items.iter().map(|r| r.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(items[1].1.line, 4);
        assert_eq!(items[1].2, REC_B.as_bytes());
        let parsed = items[2].3.as_ref().unwrap();
        assert_eq!(parsed.error_type, "ConnectionRefusedError");
    }
}
