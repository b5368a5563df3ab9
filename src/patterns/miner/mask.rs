//! Finding the variable parts of a message: a hand-rolled pass over the lexemes.
//!
//! A token is variable when it holds a digit (numbers, hex, UUIDs, IPv4, dates, times,
//! incident ids, `blk_-123`), is a path, URL, e-mail address, IPv6 or MAC address,
//! `host:port`, a single-quoted string, a value after `=` (quoted or not), a boolean or
//! null literal, a month or weekday name next to another variable, a unit of size after a
//! number (`17.7 GB`), or a bound glued to a number with its unit (`<1 sec`). Adjacent
//! variables, separated only by whitespace or punctuation other than quotes and brackets,
//! collapse into one, so a list of numbers or an address with a port is one `<*>` whatever
//! its length; a variable restated in brackets after a variable (`1190 bytes (1.16 KB)`)
//! folds into it.

use super::lex::{Class, Lexeme, lex};

pub(crate) const PLACEHOLDER: &str = "<*>";

#[derive(Clone, Copy, Debug)]
pub(crate) struct Tok {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) var: bool,
    pub(crate) punct: bool,
    /// A quote or bracket: variables do not collapse across it.
    pub(crate) barrier: bool,
    pub(crate) space_before: bool,
}

impl Tok {
    pub(crate) fn text<'a>(&self, msg: &'a str) -> &'a str {
        if self.var {
            PLACEHOLDER
        } else {
            &msg[self.start as usize..self.end as usize]
        }
    }
}

/// Reusable buffers for masking many messages without allocating per message.
#[derive(Default)]
pub(crate) struct Masker {
    lexemes: Vec<Lexeme>,
    pub(crate) toks: Vec<Tok>,
}

fn is_word(l: &Lexeme) -> bool {
    !matches!(l.class, Class::Punct | Class::Space)
}

/// Chinese, Japanese or Korean text, which does not separate words with spaces.
fn is_cjk(l: &Lexeme) -> bool {
    matches!(
        l.class,
        Class::Han | Class::Hiragana | Class::Katakana | Class::Hangul
    )
}

fn is_punct(l: &Lexeme, msg: &str, c: u8) -> bool {
    l.class == Class::Punct && l.end - l.start == 1 && msg.as_bytes()[l.start as usize] == c
}

fn has_digit(s: &str) -> bool {
    s.bytes().any(|b| b.is_ascii_digit()) || s.chars().any(|c| ('０'..='９').contains(&c))
}

/// Punctuation that a collapsed variable does not swallow.
fn is_barrier(b: u8) -> bool {
    matches!(b, b'\'' | b'"' | b'(' | b')' | b'[' | b']' | b'{' | b'}')
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// A segment of a word (between `.`, `-`, `_`, ...) that holds digits but reads as a name.
/// Numbers in names are versions or indexes of one digit or bit widths (powers of two):
/// letters then such a number (`psycopg2`, `ipv6`, `sha256`, `utf8`, `eth0`), or such
/// numbers inside a capitalised compound (`HTTP2ProtocolError`, `S3UploadFailedError`,
/// `Base64DecodeError`). Other numbers (`bglio617`, `node148`), a digit first, a single
/// letter before a number (`R02`, `u0`) or lower case after one (`df0798e`) make a value.
fn is_name_segment(seg: &[u8]) -> bool {
    let mut i = 0;
    let mut first_letters = 0;
    while i < seg.len() && seg[i].is_ascii_alphabetic() {
        i += 1;
        first_letters += 1;
    }
    if first_letters == 0 {
        return false;
    }
    while i < seg.len() {
        let start = i;
        while i < seg.len() && seg[i].is_ascii_digit() {
            i += 1;
        }
        if !is_name_number(&seg[start..i]) {
            return false;
        }
        if i == seg.len() {
            return first_letters >= 2;
        }
        // After a number: a capitalised word (`2Protocol`), which must follow one.
        let camel =
            i + 1 < seg.len() && seg[i].is_ascii_uppercase() && seg[i + 1].is_ascii_lowercase();
        if i > start && !camel {
            return false;
        }
        while i < seg.len() && seg[i].is_ascii_alphabetic() {
            i += 1;
        }
    }
    true
}

fn is_name_number(d: &[u8]) -> bool {
    match d.len() {
        0 | 1 => true,
        2..=4 if d[0] != b'0' => {
            let n = d.iter().fold(0u32, |n, &b| n * 10 + u32::from(b - b'0'));
            n.is_power_of_two()
        }
        _ => false,
    }
}

/// `s` holds a number that is a value, not part of a name (see [`is_name_segment`]).
fn has_value_digits(s: &str) -> bool {
    let b = s.as_bytes();
    if !b.iter().any(u8::is_ascii_digit) {
        return !b.is_ascii() && has_digit(s);
    }
    if !b.is_ascii() {
        return true;
    }
    b.split(|c| !c.is_ascii_alphanumeric())
        .any(|seg| seg.iter().any(u8::is_ascii_digit) && !is_name_segment(seg))
}

/// A relative path to a file: `dir/name.ext` (`libs/db.py`, `workers/a.py`).
fn is_file_path(s: &str) -> bool {
    let Some((dir, file)) = s.rsplit_once('/') else {
        return false;
    };
    let Some((stem, ext)) = file.rsplit_once('.') else {
        return false;
    };
    !dir.is_empty()
        && !stem.is_empty()
        && (1..=5).contains(&ext.len())
        && ext.bytes().all(|b| b.is_ascii_alphanumeric())
        && !s.contains("//")
}

fn word_is_var(s: &str) -> bool {
    let b = s.as_bytes();
    if has_value_digits(s) {
        return true;
    }
    let slashes = b.iter().filter(|&&c| c == b'/').count();
    if slashes == 1 && is_file_path(s) {
        return true;
    }
    if b.len() > 1
        && (b[0] == b'/'
            || b[0] == b'\\'
            || s.starts_with("~/")
            || s.starts_with("./")
            || s.starts_with("../"))
    {
        return true;
    }
    if slashes >= 2 && !s.contains("//") {
        return true;
    }
    if b.len() >= 16 && is_hex(s) {
        return true;
    }
    if let Some(at) = s.find('@')
        && at > 0
        && s[at + 1..].contains('.')
        && !s.ends_with('.')
    {
        return true;
    }
    (3..=5).contains(&s.len())
        && ["true", "false", "null", "nil", "none"]
            .iter()
            .any(|w| s.eq_ignore_ascii_case(w))
}

/// A unit of size, which belongs to the number before it: sizes are printed scaled
/// (`93.0 B`, `17.7 GB`), so the unit varies with the value.
fn is_size_unit(s: &str) -> bool {
    const UNITS: [&str; 12] = [
        "b", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "tib", "byte", "bytes",
    ];
    s.len() <= 5 && UNITS.iter().any(|u| u.eq_ignore_ascii_case(s))
}

/// A unit of time; it joins the number before it only after a bound (`<1 sec`), since a
/// plain duration keeps its unit in the template (`took <*> ms`).
fn is_time_unit(s: &str) -> bool {
    const UNITS: [&str; 13] = [
        "ns", "us", "ms", "msec", "s", "sec", "secs", "second", "seconds", "min", "mins", "minute",
        "minutes",
    ];
    s.len() <= 7 && UNITS.iter().any(|u| u.eq_ignore_ascii_case(s))
}

/// A DNS name such as `db-1.example.com`, `MININT-7.corp.example.com` or `localhost` (with
/// a lower-case top-level label, so that dotted identifiers like `state.clipTopAmount` are
/// not taken for hosts).
fn is_host(s: &str) -> bool {
    if s == "localhost" {
        return true;
    }
    let tld = s.rsplit('.').next().unwrap_or("");
    s.contains('.')
        && tld.len() >= 2
        && tld.bytes().all(|b| b.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
}

fn is_date_word(s: &str) -> bool {
    const NAMES: [&str; 19] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
        "mon", "tue", "wed", "thu", "fri", "sat",
    ];
    let l = s.trim_end_matches([',', '.']);
    // Checked on every word: compare without allocating.
    if !(2..=4).contains(&l.len()) {
        return false;
    }
    let is = |w: &str| l.eq_ignore_ascii_case(w);
    (l.len() >= 3 && (NAMES.iter().any(|n| is(n)) || is("sun")))
        || ["am", "pm", "utc", "gmt"].iter().any(|n| is(n))
}

impl Masker {
    /// Masks `msg` into `self.toks`.
    pub(crate) fn run(&mut self, msg: &str) {
        let mut lexemes = std::mem::take(&mut self.lexemes);
        lexemes.clear();
        self.toks.clear();
        lex(msg, &mut lexemes);
        self.mask_lexemes(msg, &lexemes);
        self.lexemes = lexemes;
        self.date_words(msg);
    }

    fn mask_lexemes(&mut self, msg: &str, lx: &[Lexeme]) {
        let n = lx.len();
        let adj = |k: usize| k < n && !lx[k].space_before;
        let mut j = 0;
        while j < n {
            let l = lx[j];
            let text = l.text(msg);
            // `<*>` from an earlier mask or a stored template.
            if is_punct(&l, msg, b'<')
                && adj(j + 1)
                && lx[j + 1].text(msg) == "*"
                && adj(j + 2)
                && is_punct(&lx[j + 2], msg, b'>')
            {
                self.push_var(l.start, lx[j + 2].end, l.space_before);
                j += 3;
                continue;
            }
            if is_punct(&l, msg, b':')
                && adj(j + 1)
                && is_punct(&lx[j + 1], msg, b':')
                && let Some(end) = special_run(lx, msg, j)
            {
                self.push_var(l.start, lx[end].end, l.space_before);
                j = end + 1;
                continue;
            }
            if is_word(&l) {
                if let Some(end) = special_run(lx, msg, j) {
                    self.push_var(l.start, lx[end].end, l.space_before);
                    j = end + 1;
                    continue;
                }
                let var = word_is_var(text);
                if var && text.starts_with('/') && text.contains('?') {
                    // A URL path with a query: its `=` and `&` belong to it.
                    let mut k = j;
                    while k + 1 < n && !lx[k + 1].space_before {
                        k += 1;
                    }
                    self.push_var(l.start, lx[k].end, l.space_before);
                    j = k + 1;
                    continue;
                }
                let unit = !var
                    && (is_size_unit(text) || is_time_unit(text) && after_bound(msg, lx, j))
                    && self.after_number(msg, lx, j);
                self.push(msg, l, var || unit);
                j += 1;
                continue;
            }
            // Punctuation.
            // `<1 sec`, `>100`: a bound belongs to its number.
            if (is_punct(&l, msg, b'<') || is_punct(&l, msg, b'>'))
                && (j == 0 || l.space_before)
                && adj(j + 1)
                && is_word(&lx[j + 1])
                && lx[j + 1].text(msg).as_bytes()[0].is_ascii_digit()
            {
                self.push_var(l.start, lx[j + 1].end, l.space_before);
                j += 2;
                continue;
            }
            if is_punct(&l, msg, b')') && self.fold_restatement(msg, l.end) {
                j += 1;
                continue;
            }
            let quote = is_punct(&l, msg, b'\'') || is_punct(&l, msg, b'"');
            let after_eq = j > 0 && is_punct(&lx[j - 1], msg, b'=');
            if quote
                && (is_punct(&l, msg, b'\'') || after_eq)
                && (j == 0
                    || l.space_before
                    || lx[j - 1].class == Class::Punct
                    || is_cjk(&lx[j - 1]))
                && let Some(close) = closing_quote(lx, msg, j)
            {
                self.push(msg, l, false);
                if close > j + 1 {
                    self.push_var(lx[j + 1].start, lx[close - 1].end, lx[j + 1].space_before);
                } else {
                    // `''` is the empty value of the slot, as `key=` is.
                    self.push_var(l.end, l.end, false);
                }
                self.push(msg, lx[close], false);
                j = close + 1;
                continue;
            }
            self.push(msg, l, false);
            // `key=` with nothing after it: the value is empty, not absent
            // (`ruser= rhost=...` is the event of `ruser=alice rhost=...`).
            if is_punct(&l, msg, b'=')
                && !l.space_before
                && j > 0
                && is_word(&lx[j - 1])
                && (j + 1 == n || lx[j + 1].space_before)
            {
                self.push_var(l.end, l.end, false);
                j += 1;
                continue;
            }
            if is_punct(&l, msg, b'=')
                && !(j > 0 && is_punct(&lx[j - 1], msg, b'='))
                && j + 1 < n
                && is_word(&lx[j + 1])
            {
                // Value of `key=value`: adjacent words and colons, unless it names a
                // constructor such as `Rect(`.
                let mut k = j + 1;
                while k + 1 < n
                    && adj(k + 1)
                    && (is_word(&lx[k + 1]) || is_punct(&lx[k + 1], msg, b':'))
                {
                    k += 1;
                }
                let opens = k + 1 < n
                    && adj(k + 1)
                    && [b'(', b'[', b'{']
                        .iter()
                        .any(|&c| is_punct(&lx[k + 1], msg, c));
                let next_key = k + 1 < n && is_punct(&lx[k + 1], msg, b'=');
                if !opens && !next_key {
                    self.push_var(lx[j + 1].start, lx[k].end, lx[j + 1].space_before);
                    j = k + 1;
                    continue;
                }
            }
            j += 1;
        }
    }

    /// The previous token is a variable that ends with lexeme `j - 1` and reads as a number.
    fn after_number(&self, msg: &str, lx: &[Lexeme], j: usize) -> bool {
        let Some(last) = self.toks.last() else {
            return false;
        };
        let prev = &msg[last.start as usize..last.end as usize];
        j > 0
            && last.var
            && last.end == lx[j - 1].end
            && (prev.ends_with(|c: char| c.is_ascii_digit()) || prev.ends_with(PLACEHOLDER))
    }

    /// Folds `<*> (<*>)` into one variable: a value restated in other units or forms
    /// (`1190 bytes (1.16 KB)`, `10.0.0.1 (host.example.com)`), which some messages of an
    /// event carry and others do not. Whether it folds depends only on the token shape,
    /// never on the values, so all messages of an event fold alike. `end` is the end of the
    /// closing bracket.
    fn fold_restatement(&mut self, msg: &str, end: u32) -> bool {
        let n = self.toks.len();
        if n < 2 {
            return false;
        }
        // An empty restatement (`10.0.0.1 ()`) is a missing one.
        let (a, open) = (self.toks[n - 2], self.toks[n - 1]);
        if a.var
            && !open.var
            && open.space_before
            && msg.as_bytes()[open.start as usize] == b'('
            && open.end + 1 == end
        {
            self.toks.truncate(n - 1);
            self.toks[n - 2].end = end;
            return true;
        }
        if n < 3 {
            return false;
        }
        let (a, open, b) = (self.toks[n - 3], self.toks[n - 2], self.toks[n - 1]);
        let fold = a.var
            && b.var
            && !open.var
            && open.space_before
            && msg.as_bytes()[open.start as usize] == b'('
            && open.end == b.start;
        if fold {
            self.toks.truncate(n - 2);
            self.toks[n - 3].end = end;
        }
        fold
    }

    fn push(&mut self, msg: &str, l: Lexeme, var: bool) {
        if var {
            self.push_var(l.start, l.end, l.space_before);
        } else {
            self.toks.push(Tok {
                start: l.start,
                end: l.end,
                var: false,
                punct: l.class == Class::Punct,
                barrier: l.class == Class::Punct && is_barrier(msg.as_bytes()[l.start as usize]),
                space_before: l.space_before,
            });
        }
    }

    fn push_var(&mut self, start: u32, end: u32, space_before: bool) {
        // Collapse with the previous variable across whitespace and punctuation other than
        // quotes and brackets.
        let mut k = self.toks.len();
        while k > 0 && self.toks[k - 1].punct && !self.toks[k - 1].var {
            k -= 1;
        }
        if k > 0 && self.toks[k - 1].var && self.toks[k..].iter().all(|t| !t.barrier) {
            self.toks.truncate(k);
            self.toks[k - 1].end = end;
            return;
        }
        self.toks.push(Tok {
            start,
            end,
            var: true,
            punct: false,
            barrier: false,
            space_before,
        });
    }

    fn date_words(&mut self, msg: &str) {
        let n = self.toks.len();
        let mut changed = false;
        // Two sweeps, so that `Sun Dec 04` reaches `Sun` through `Dec`.
        for sweep in 0..2 {
            for step in 0..n {
                let i = if sweep == 0 { n - 1 - step } else { step };
                let t = self.toks[i];
                if t.var || t.punct || !is_date_word(t.text(msg)) {
                    continue;
                }
                if (i > 0 && self.toks[i - 1].var) || (i + 1 < n && self.toks[i + 1].var) {
                    self.toks[i].var = true;
                    changed = true;
                }
            }
        }
        if changed {
            let old = std::mem::take(&mut self.toks);
            for t in old {
                if t.var {
                    self.push_var(t.start, t.end, t.space_before);
                } else {
                    self.toks.push(t);
                }
            }
        }
    }

    /// Appends the masked message to `out`: tokens joined by single spaces where the
    /// message had whitespace.
    pub(crate) fn render(&self, msg: &str, out: &mut String) {
        for (i, t) in self.toks.iter().enumerate() {
            if i > 0 && t.space_before {
                out.push(' ');
            }
            out.push_str(t.text(msg));
        }
    }
}

/// Lexeme `j` follows a number glued to a bound, as in `<1 sec`.
fn after_bound(msg: &str, lx: &[Lexeme], j: usize) -> bool {
    j >= 2
        && !lx[j - 1].space_before
        && (is_punct(&lx[j - 2], msg, b'<') || is_punct(&lx[j - 2], msg, b'>'))
}

/// Multi-lexeme variables starting at word `j`: URLs, drive paths, IPv6/MAC, host:port.
/// Returns the index of the last lexeme.
fn special_run(lx: &[Lexeme], msg: &str, j: usize) -> Option<usize> {
    let n = lx.len();
    let adj = |k: usize| k < n && !lx[k].space_before;
    let colon = |k: usize| adj(k) && is_punct(&lx[k], msg, b':');
    let text = lx[j].text(msg);
    if !colon(j + 1) || !adj(j + 2) {
        return None;
    }
    let starts_ipv6 = text == ":";
    let next = lx[j + 2].text(msg);
    let to_space = |from: usize| {
        let mut k = from;
        while adj(k + 1) {
            k += 1;
        }
        k
    };
    // scheme://... and C:\...
    if (next.starts_with("//")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)))
        || (next.starts_with('\\') && text.len() == 1 && text.as_bytes()[0].is_ascii_alphabetic())
    {
        return Some(to_space(j + 2));
    }
    // IPv6 and MAC: hex groups joined by colons.
    let mut k = j;
    let mut colons = 0;
    let mut digit = false;
    let mut last = j;
    while k < n && (k == j || adj(k)) {
        let t = lx[k].text(msg);
        if is_punct(&lx[k], msg, b':') {
            colons += 1;
        } else if is_word(&lx[k]) && t.len() <= 4 && is_hex(t) {
            digit |= has_digit(t);
            last = k;
        } else {
            break;
        }
        k += 1;
    }
    if colons >= 2 && digit && (last > j || starts_ipv6 && last > j + 1) {
        return Some(last);
    }
    // host:port
    if !starts_ipv6 && is_host(text) && next.bytes().all(|b| b.is_ascii_digit()) {
        return Some(j + 2);
    }
    None
}

fn closing_quote(lx: &[Lexeme], msg: &str, j: usize) -> Option<usize> {
    let q = msg.as_bytes()[lx[j].start as usize];
    let limit = (j + 64).min(lx.len());
    (j + 1..limit).find(|&k| {
        is_punct(&lx[k], msg, q)
            && (k + 1 == lx.len()
                || lx[k + 1].space_before
                || !is_word(&lx[k + 1])
                || is_cjk(&lx[k + 1]))
    })
}

/// Replaces the variable parts of `msg` with `<*>` and normalises whitespace to single
/// spaces.
///
/// ```
/// # use incident::patterns::miner::mask;
/// assert_eq!(mask("connect to 10.0.0.3:5672 failed after 30s"), "connect to <*> failed after <*>");
/// ```
pub fn mask(msg: &str) -> String {
    let mut m = Masker::default();
    m.run(msg);
    let mut out = String::with_capacity(msg.len());
    m.render(msg, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn numbers_and_ids() {
        assert_eq!(
            mask("took 30 ms, retry 3 of 5"),
            "took <*> ms, retry <*> of <*>"
        );
        assert_eq!(
            mask("block blk_-6952295868487656571 done"),
            "block <*> done"
        );
        assert_eq!(
            mask("incident INC-20250104-0001 opened"),
            "incident <*> opened"
        );
        assert_eq!(mask("generating core.2275"), "generating <*>");
    }

    #[test]
    fn hex_and_uuid() {
        assert_eq!(mask("flags=0x1 at 0xdeadbeef"), "flags=<*> at <*>");
        assert_eq!(mask("sha deadbeefcafebabedeadbeef ok"), "sha <*> ok");
        assert_eq!(
            mask("request 550e8400-e29b-41d4-a716-446655440000 failed"),
            "request <*> failed"
        );
    }

    #[test]
    fn addresses() {
        assert_eq!(mask("from 10.0.0.1 port 22"), "from <*> port <*>");
        assert_eq!(mask("peer fe80::1ff:fe23:4567:890a down"), "peer <*> down");
        assert_eq!(mask("listening on [::1]:8080"), "listening on [<*>]:<*>");
        assert_eq!(mask("mac 00:1a:2b:3c:4d:5e"), "mac <*>");
        assert_eq!(
            mask("connect db.example.com:5432 failed"),
            "connect <*> failed"
        );
        assert_eq!(mask("connect localhost:80"), "connect <*>");
        assert_eq!(mask("proxy MININT-7.corp.example.com:5488"), "proxy <*>");
        // A dotted identifier with a count is not a host.
        assert_eq!(mask("state.clipTopAmount:180"), "state.clipTopAmount:<*>");
    }

    #[test]
    fn paths_urls_and_mail() {
        assert_eq!(mask("open /etc/nginx/nginx.conf failed"), "open <*> failed");
        assert_eq!(mask("see C:\\Windows\\logs\\cbs.log"), "see <*>");
        assert_eq!(mask("run ./bin/app or ~/x"), "run <*> or <*>");
        assert_eq!(
            mask("GET https://example.com/api/items?id=7&x=y 503"),
            "GET <*>"
        );
        assert_eq!(
            mask("GET /v2/servers/detail?all=True&since=1 200"),
            "GET <*>"
        );
        assert_eq!(
            mask("mail to alice@example.com bounced"),
            "mail to <*> bounced"
        );
    }

    #[test]
    fn quoted_strings_and_values() {
        assert_eq!(mask("user 'bob' not found"), "user '<*>' not found");
        assert_eq!(mask("tag=\"View Lock\", ws=null"), "tag=\"<*>\", ws=<*>");
        // A double-quoted request line keeps its method.
        assert_eq!(mask("\"GET /index.html HTTP/1.1\" 200"), "\"GET <*>\" <*>");
        assert_eq!(
            mask("mode=fast, bounds=Rect(0, 0 - 10, 20)"),
            "mode=<*>, bounds=Rect(<*> - <*>)"
        );
        // An empty value is a value.
        assert_eq!(
            mask("logname= uid=0 euid=0"),
            "logname=<*> uid=<*> euid=<*>"
        );
        assert_eq!(mask("ruser= rhost=x"), mask("ruser=bob rhost=x"));
        assert_eq!(
            mask("invalid literal for int() with base 10: ''"),
            mask("invalid literal for int() with base 10: 'abc'")
        );
        assert_eq!(mask("if a == b"), "if a == b");
        assert_eq!(mask("don't stop"), "don't stop");
        assert_eq!(mask("enabled: true"), "enabled: <*>");
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(mask("at 2025-01-04T10:00:00Z done"), "at <*> done");
        assert_eq!(
            mask("Sun Dec 04 04:47:44 2005 worker started"),
            "<*> worker started"
        );
        assert_eq!(mask("Jan  4 10:00:01 host sshd"), "<*> host sshd");
        assert_eq!(mask("in March we sat"), "in March we sat");
    }

    #[test]
    fn runs_of_variables_collapse() {
        assert_eq!(
            mask("Fan speeds ( 3552 3534 3375 **** 3515 )"),
            "Fan speeds ( <*> **** <*> )"
        );
        assert_eq!(
            mask("caused by dcbf.........0"),
            "caused by dcbf.........<*>"
        );
    }

    #[test]
    fn units_and_bounds_belong_to_their_number() {
        assert_eq!(
            mask("stored (estimated size 8.8 KB, free 14.0 KB)"),
            "stored (estimated size <*>, free <*>)"
        );
        assert_eq!(mask("took 5 ms"), "took <*> ms");
        assert_eq!(mask("lifetime <1 sec"), "lifetime <*>");
        assert_eq!(mask("lifetime 00:01"), "lifetime <*>");
        // A unit needs a number before it; `<` glued to a word is not a bound.
        assert_eq!(mask("unit KB"), "unit KB");
        assert_eq!(mask("Switch<0>(0x0) up"), "Switch<<*>>(<*>) up");
    }

    #[test]
    fn restated_values_fold_into_one() {
        assert_eq!(
            mask("close, 1190 bytes (1.16 KB) sent, 0 bytes received"),
            "close, <*> sent, <*> received"
        );
        assert_eq!(
            mask("connection from 10.0.0.1 (host-1.example.net) at 07:07:00"),
            mask("connection from 10.0.0.2 at 07:07:02")
        );
        // Only a variable in brackets right after a variable folds.
        assert_eq!(
            mask("took 2010 ms (54, powerd)"),
            "took <*> ms (<*>, powerd)"
        );
        assert_eq!(mask("Probing bus (bus 0)"), "Probing bus (bus <*>)");
        // An empty restatement is a missing one.
        assert_eq!(
            mask("connection from 10.0.0.1 () at 07:07:00"),
            mask("connection from 10.0.0.2 at 07:07:02")
        );
        assert_eq!(mask("called foo() now"), "called foo() now");
    }

    #[test]
    fn names_with_digits_stay_whole() {
        for name in [
            "psycopg2.OperationalError",
            "psycopg2.errors.DeadlockDetected",
            "HTTP2ProtocolError",
            "S3UploadFailedError",
            "OAuth2TokenExpired",
            "Base64DecodeError",
            "ipv6",
            "sha256",
            "utf8",
            "eth0",
        ] {
            assert_eq!(mask(&format!("{name} raised")), format!("{name} raised"));
        }
        assert_eq!(
            mask("psycopg2.OperationalError in libs/db.py"),
            "psycopg2.OperationalError in <*>"
        );
        // Numbers that are not versions or bit widths are values, even when fused.
        for value in [
            "node148",
            "bglio617",
            "R02-M1-N0",
            "u0",
            "t761",
            "df0798e",
            "sa-12",
        ] {
            assert_eq!(mask(&format!("on {value} now")), "on <*> now", "{value}");
        }
    }

    #[test]
    fn file_paths_are_values() {
        assert_eq!(mask("KeyError in workers/a.py"), "KeyError in <*>");
        assert_eq!(
            mask("content type application/json"),
            "content type application/json"
        );
    }

    #[test]
    fn quotes_next_to_japanese() {
        assert_eq!(
            mask("キー'user_id'が見つかりません"),
            "キー'<*>'が見つかりません"
        );
    }

    #[test]
    fn japanese() {
        assert_eq!(
            mask("RabbitMQ接続エラー: 10.0.0.3:5672 への接続が30秒でタイムアウトしました"),
            "RabbitMQ接続エラー: <*> への接続が<*>秒でタイムアウトしました"
        );
        assert_eq!(
            mask("ディスク使用率が９５％を超えました（/var）"),
            "ディスク使用率が<*>％を超えました（<*>）"
        );
    }

    #[test]
    fn masking_is_idempotent() {
        for m in [
            "a=1 b='x y' c=\"q\" d=/p/q e=host.example.com:1",
            "Fan speeds ( 3552 3534 **** 3515 )",
            "接続が30秒で",
            "1190 bytes (1.16 KB) sent, lifetime <1 sec",
        ] {
            let once = mask(m);
            assert_eq!(mask(&once), once);
        }
    }
}
