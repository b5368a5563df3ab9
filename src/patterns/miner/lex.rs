//! Splitting a message into lexemes: words, punctuation, and runs of one script.
//!
//! One pass over the bytes; no allocation besides the caller's output vector.

use crate::text::{Script, cjk_script};

/// Character classes that end a lexeme when they change.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Class {
    /// Latin and other alphabetic scripts, digits, and joiners such as `_-./@`.
    Word,
    Han,
    Hiragana,
    Katakana,
    Hangul,
    /// A single punctuation character that is a lexeme of its own.
    Punct,
    Space,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Lexeme {
    pub(crate) start: u32,
    pub(crate) end: u32,
    pub(crate) class: Class,
    /// Whitespace precedes this lexeme (false for the first one).
    pub(crate) space_before: bool,
}

impl Lexeme {
    pub(crate) fn text<'a>(&self, msg: &'a str) -> &'a str {
        &msg[self.start as usize..self.end as usize]
    }
}

#[inline]
fn ascii_class(b: u8) -> Class {
    match b {
        b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c => Class::Space,
        b'=' | b':' | b',' | b';' | b'(' | b')' | b'[' | b']' | b'{' | b'}' | b'<' | b'>'
        | b'"' | b'\'' | b'|' => Class::Punct,
        _ => Class::Word,
    }
}

fn char_class(c: char) -> Class {
    if c.is_ascii() {
        return ascii_class(c as u8);
    }
    match cjk_script(c) {
        Some(Script::Han) => return Class::Han,
        Some(Script::Hiragana) => return Class::Hiragana,
        Some(Script::Katakana) => return Class::Katakana,
        Some(Script::Hangul) => return Class::Hangul,
        None => {}
    }
    match c as u32 {
        // Full-width digits and Latin letters join ASCII words.
        0xFF10..=0xFF19 | 0xFF21..=0xFF3A | 0xFF41..=0xFF5A => Class::Word,
        0x3000 | 0x00A0 | 0x2000..=0x200B | 0x202F | 0x205F | 0xFEFF => Class::Space,
        0x3001..=0x3004
        | 0x3007..=0x303F
        | 0x30FB
        | 0xFF01..=0xFF0F
        | 0xFF1A..=0xFF20
        | 0xFF3B..=0xFF40
        | 0xFF5B..=0xFF65
        | 0x2010..=0x2027
        | 0x2030..=0x205E => Class::Punct,
        _ if c.is_whitespace() => Class::Space,
        _ if c.is_alphanumeric() => Class::Word,
        _ => Class::Punct,
    }
}

/// Appends the lexemes of `msg` to `out`.
pub(crate) fn lex(msg: &str, out: &mut Vec<Lexeme>) {
    let bytes = msg.as_bytes();
    let mut i = 0usize;
    let mut space = false;
    let mut cur: Option<(usize, Class)> = None;
    let mut cur_space = false;
    let flush = |out: &mut Vec<Lexeme>, cur: &mut Option<(usize, Class)>, end: usize, sp: bool| {
        if let Some((s, c)) = cur.take() {
            out.push(Lexeme {
                start: s as u32,
                end: end as u32,
                class: c,
                space_before: sp,
            });
        }
    };
    while i < bytes.len() {
        let b = bytes[i];
        // A run of dots ("......") is a lexeme of its own: `caused by dcbf.....0`; `../`
        // stays in its path.
        let dots = if b == b'.' && bytes.get(i + 1) == Some(&b'.') {
            bytes[i..].iter().take_while(|&&c| c == b'.').count()
        } else {
            0
        };
        if dots >= 2 && !matches!(bytes.get(i + dots), Some(b'/' | b'\\')) {
            let e = i + dots;
            flush(out, &mut cur, i, cur_space);
            out.push(Lexeme {
                start: i as u32,
                end: e as u32,
                class: Class::Word,
                space_before: space && !out.is_empty(),
            });
            space = false;
            i = e;
            continue;
        }
        let (class, len) = if b < 0x80 {
            let mut c = ascii_class(b);
            // An apostrophe between two letters is part of the word ("don't").
            if b == b'\''
                && i > 0
                && bytes[i - 1].is_ascii_alphabetic()
                && bytes.get(i + 1).is_some_and(|n| n.is_ascii_alphabetic())
            {
                c = Class::Word;
            }
            (c, 1)
        } else {
            // `msg` is valid UTF-8 and `i` is at a char boundary.
            let ch = msg[i..].chars().next().unwrap_or(' ');
            (char_class(ch), ch.len_utf8())
        };
        match class {
            Class::Space => {
                flush(out, &mut cur, i, cur_space);
                space = true;
            }
            Class::Punct => {
                flush(out, &mut cur, i, cur_space);
                out.push(Lexeme {
                    start: i as u32,
                    end: (i + len) as u32,
                    class,
                    space_before: space && !out.is_empty(),
                });
                space = false;
            }
            _ => match cur {
                Some((_, c)) if c == class => {}
                _ => {
                    flush(out, &mut cur, i, cur_space);
                    cur = Some((i, class));
                    cur_space = space && !out.is_empty();
                    space = false;
                }
            },
        }
        i += len;
    }
    flush(out, &mut cur, bytes.len(), cur_space);
}

/// Splits `msg` into tokens: at whitespace, around punctuation such as `=:,()[]{}"`, and
/// at boundaries between scripts (Latin words and digits, kanji, hiragana, katakana, hangul).
///
/// ```
/// # use incident::patterns::miner::tokenize;
/// assert_eq!(tokenize("接続が30秒で"), ["接続", "が", "30", "秒", "で"]);
/// ```
pub fn tokenize(msg: &str) -> Vec<&str> {
    let mut lx = Vec::new();
    lex(msg, &mut lx);
    lx.iter().map(|l| l.text(msg)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn japanese_splits_at_script_boundaries() {
        let t = tokenize("RabbitMQ接続エラー: 10.0.0.3:5672 への接続が30秒でタイムアウトしました");
        assert_eq!(
            t,
            [
                "RabbitMQ",
                "接続",
                "エラー",
                ":",
                "10.0.0.3",
                ":",
                "5672",
                "への",
                "接続",
                "が",
                "30",
                "秒",
                "で",
                "タイムアウト",
                "しました"
            ]
        );
    }

    #[test]
    fn japanese_punctuation_and_fullwidth() {
        assert_eq!(
            tokenize("ディスク使用率が９５％を超えました。（/var）"),
            [
                "ディスク",
                "使用率",
                "が",
                "９５",
                "％",
                "を",
                "超",
                "えました",
                "。",
                "（",
                "/var",
                "）"
            ]
        );
    }

    #[test]
    fn ascii_punctuation_and_spaces() {
        assert_eq!(
            tokenize("acquire lock=233570404, flags=0x1, tag=\"View Lock\""),
            [
                "acquire",
                "lock",
                "=",
                "233570404",
                ",",
                "flags",
                "=",
                "0x1",
                ",",
                "tag",
                "=",
                "\"",
                "View",
                "Lock",
                "\""
            ]
        );
        assert_eq!(tokenize("don't stop"), ["don't", "stop"]);
        assert_eq!(tokenize("  "), Vec::<&str>::new());
    }

    #[test]
    fn space_before_is_recorded() {
        let mut lx = Vec::new();
        lex(" a b(c)", &mut lx);
        let sp: Vec<bool> = lx.iter().map(|l| l.space_before).collect();
        assert_eq!(sp, [false, true, false, false, false]);
    }
}
