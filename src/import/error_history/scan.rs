//! Byte-level JSON structure scanning: where a value ends, without building it.
//!
//! The scanner tracks strings, escapes and bracket nesting only. Everything else
//! (numbers, literals, separators, UTF-8) is left to serde_json when the value's
//! bytes are parsed, so a value the scanner accepts may still be malformed.

use memchr::memchr2;

pub(crate) fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn ends_scalar(b: u8) -> bool {
    is_ws(b) || matches!(b, b',' | b']' | b'}' | b'[' | b'{' | b'"' | b':')
}

/// What one call to [`ValueScan::advance`] found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// The value ends just before this offset.
    Done(usize),
    /// The bytes ran out inside the value.
    More,
    /// A closing bracket that does not match, at this offset.
    Mismatch(usize),
}

/// Resumable scan of one JSON value.
///
/// Offsets are relative to the slice passed to `advance`, whose first byte is the
/// value's first byte on the first call. A caller may drop the first `i` bytes
/// between calls (see [`ValueScan::rebase`]) to scan a value larger than memory.
#[derive(Debug, Default)]
pub(crate) struct ValueScan {
    /// Next byte to examine; never inside an escape sequence.
    pub(crate) i: usize,
    started: bool,
    in_str: bool,
    scalar: bool,
    /// Open brackets, innermost last.
    stack: Vec<u8>,
}

impl ValueScan {
    pub(crate) fn reset(&mut self) {
        self.i = 0;
        self.started = false;
        self.in_str = false;
        self.scalar = false;
        self.stack.clear();
    }

    /// Forget the first `n` bytes (at most `self.i`) of the slice.
    pub(crate) fn rebase(&mut self, n: usize) {
        debug_assert!(n <= self.i);
        self.i -= n;
    }

    /// Continues scanning `s`. `eof` says no bytes will follow `s`, which ends a
    /// bare scalar; an unterminated string or container still reports `More`.
    pub(crate) fn advance(&mut self, s: &[u8], eof: bool) -> Step {
        if !self.started {
            let Some(&first) = s.first() else {
                return Step::More;
            };
            self.started = true;
            match first {
                b'{' | b'[' => self.stack.push(first),
                b'"' => self.in_str = true,
                _ => self.scalar = true,
            }
            self.i = if self.scalar { 0 } else { 1 };
        }
        if self.scalar {
            return match s[self.i..].iter().position(|&b| ends_scalar(b)) {
                // A scalar is at least one byte, even if that byte is a delimiter:
                // serde_json then reports what is wrong with it.
                Some(k) => Step::Done((self.i + k).max(1)),
                None if eof => Step::Done(s.len()),
                None => {
                    self.i = s.len();
                    Step::More
                }
            };
        }
        let mut i = self.i;
        loop {
            if self.in_str {
                match memchr2(b'"', b'\\', &s[i..]) {
                    None => {
                        self.i = s.len();
                        return Step::More;
                    }
                    Some(k) => {
                        let p = i + k;
                        if s[p] == b'"' {
                            self.in_str = false;
                            i = p + 1;
                            if self.stack.is_empty() {
                                return Step::Done(i);
                            }
                        } else if p + 1 < s.len() {
                            i = p + 2;
                        } else {
                            self.i = p;
                            return Step::More;
                        }
                    }
                }
            } else {
                loop {
                    let Some(&b) = s.get(i) else {
                        self.i = i;
                        return Step::More;
                    };
                    i += 1;
                    match b {
                        b'"' => {
                            self.in_str = true;
                            break;
                        }
                        b'{' | b'[' => self.stack.push(b),
                        b'}' | b']' => {
                            let open = if b == b'}' { b'{' } else { b'[' };
                            if self.stack.pop() != Some(open) {
                                return Step::Mismatch(i - 1);
                            }
                            if self.stack.is_empty() {
                                return Step::Done(i);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
    }
}

/// The end of the complete value at the start of `s`, if `s` holds all of it.
pub(crate) fn value_end(s: &[u8], scan: &mut ValueScan) -> Option<usize> {
    scan.reset();
    match scan.advance(s, true) {
        Step::Done(n) => Some(n),
        Step::More | Step::Mismatch(_) => None,
    }
}

/// One `"key": value` member of an object, as byte ranges of the object's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) key: (usize, usize),
    pub(crate) value: (usize, usize),
}

/// The top-level members of the object in `s` (which must start with `{`), or
/// `None` if `s` is not one well-nested object.
pub(crate) fn members(s: &[u8], out: &mut Vec<Member>) -> Option<()> {
    out.clear();
    let mut scan = ValueScan::default();
    let skip = |mut i: usize| {
        while s.get(i).is_some_and(|&b| is_ws(b)) {
            i += 1;
        }
        i
    };
    if s.first() != Some(&b'{') {
        return None;
    }
    let mut i = skip(1);
    if s.get(i) == Some(&b'}') {
        return Some(());
    }
    loop {
        if s.get(i) != Some(&b'"') {
            return None;
        }
        let key_end = i + value_end(&s[i..], &mut scan)?;
        let key = (i, key_end);
        i = skip(key_end);
        if s.get(i) != Some(&b':') {
            return None;
        }
        i = skip(i + 1);
        if i >= s.len() {
            return None;
        }
        let value_end = i + value_end(&s[i..], &mut scan)?;
        out.push(Member {
            key,
            value: (i, value_end),
        });
        i = skip(value_end);
        match s.get(i) {
            Some(b',') => i = skip(i + 1),
            Some(b'}') => return Some(()),
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end(s: &str) -> Option<usize> {
        value_end(s.as_bytes(), &mut ValueScan::default())
    }

    #[test]
    fn finds_value_ends() {
        assert_eq!(
            end(r#"{"a": "}\"\\", "b": [1, {"c": "]"}]} tail"#),
            Some(36)
        );
        assert_eq!(end(r#""x\"y" ,"#), Some(6));
        assert_eq!(end("12.5e3, 4"), Some(6));
        assert_eq!(end("true]"), Some(4));
        assert_eq!(end("{\"a\": [1}"), None);
        assert_eq!(end("{\"a\": \"unterminated}"), None);
    }

    #[test]
    fn resumes_across_any_split() {
        let text = br#"{"k": "a\\\"b\u65e5", "n": [1, [2, {"x": "}"}]], "t": true}"#;
        for split in 0..text.len() {
            let mut scan = ValueScan::default();
            let (head, _) = text.split_at(split);
            let first = scan.advance(head, false);
            let got = match first {
                Step::Done(n) => n,
                Step::More => match scan.advance(text, true) {
                    Step::Done(n) => n,
                    other => panic!("split {split}: {other:?}"),
                },
                Step::Mismatch(at) => panic!("split {split}: mismatch at {at}"),
            };
            assert_eq!(got, text.len(), "split {split}");
        }
    }

    #[test]
    fn lists_members() {
        let s = br#"{ "a" : 1, "b":{"c":[2]} ,"d":"x"}"#;
        let mut out = Vec::new();
        members(s, &mut out).unwrap();
        let keys: Vec<&[u8]> = out.iter().map(|m| &s[m.key.0..m.key.1]).collect();
        let values: Vec<&[u8]> = out.iter().map(|m| &s[m.value.0..m.value.1]).collect();
        assert_eq!(keys, [&b"\"a\""[..], b"\"b\"", b"\"d\""]);
        assert_eq!(values, [&b"1"[..], b"{\"c\":[2]}", b"\"x\""]);
        members(b"{}", &mut out).unwrap();
        assert!(out.is_empty());
        assert!(members(b"[1]", &mut out).is_none());
        assert!(members(b"{\"a\" 1}", &mut out).is_none());
    }
}
