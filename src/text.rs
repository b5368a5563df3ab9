//! Text for people: the scripts that write words without spaces (one definition for the
//! miner, pattern titles and KB matching), display width in terminal columns (CJK
//! characters count two), cutting and padding by width, and making stored text safe to
//! print.

use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// A script whose words are not separated by spaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Script {
    /// Kanji, with the iteration marks 々 and 〆.
    Han,
    Hiragana,
    /// Full- and half-width katakana, without the middle dot ・ (punctuation).
    Katakana,
    Hangul,
}

/// The CJK script of `c`, if it has one.
pub(crate) fn cjk_script(c: char) -> Option<Script> {
    match c as u32 {
        0x3005
        | 0x3006
        | 0x4E00..=0x9FFF
        | 0x3400..=0x4DBF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2FFFF => Some(Script::Han),
        0x3041..=0x309F => Some(Script::Hiragana),
        0x30A0..=0x30FA | 0x30FC..=0x30FF | 0x31F0..=0x31FF | 0xFF66..=0xFF9F => {
            Some(Script::Katakana)
        }
        0xAC00..=0xD7AF | 0x1100..=0x11FF | 0x3130..=0x318F => Some(Script::Hangul),
        _ => None,
    }
}

/// Whether `c` is written in a CJK script.
pub(crate) fn is_cjk(c: char) -> bool {
    cjk_script(c).is_some()
}

/// Display width of `s` in terminal columns (CJK characters count two).
pub fn display_width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// `s` with control characters (newlines, tabs, ESC, CR, BEL) as spaces, so that text
/// from an incident stays on its line and cannot drive the terminal.
pub(crate) fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A writer for text meant for a terminal: every control character except newline and
/// tab (ESC, CR, BEL, backspace, DEL, and the C1 controls U+0080-U+009F) becomes a space,
/// so text stored in an incident can never move the cursor, recolour, retitle or ring
/// the terminal. Every text renderer's output goes through it (the binary wraps stdout);
/// within one line, [`sanitize`] also turns newlines and tabs into spaces.
pub struct Sanitized<W: std::io::Write> {
    inner: W,
    /// A 0xC2 byte held back: with a following 0x80-0x9F it is a C1 control.
    pending: bool,
    buf: Vec<u8>,
}

impl<W: std::io::Write> Sanitized<W> {
    pub fn new(inner: W) -> Self {
        Sanitized {
            inner,
            pending: false,
            buf: Vec::new(),
        }
    }
}

impl<W: std::io::Write> std::io::Write for Sanitized<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.clear();
        for &b in data {
            if std::mem::take(&mut self.pending) {
                if (0x80..=0x9f).contains(&b) {
                    self.buf.push(b' ');
                    continue;
                }
                self.buf.push(0xc2);
            }
            match b {
                b'\n' | b'\t' => self.buf.push(b),
                0x00..=0x1f | 0x7f => self.buf.push(b' '),
                0xc2 => self.pending = true,
                _ => self.buf.push(b),
            }
        }
        self.inner.write_all(&self.buf)?;
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<W: std::io::Write> Drop for Sanitized<W> {
    fn drop(&mut self) {
        if self.pending {
            // Not followed by anything: not a C1 control, so it is passed on.
            let _ = self.inner.write_all(&[0xc2]);
            let _ = self.inner.flush();
        }
    }
}

/// JSON text as serde wrote it, with DEL and the C1 controls escaped too (serde escapes
/// only C0): the same data, and nothing in it a terminal acts on.
pub fn json_terminal_safe(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        if ('\u{7f}'..='\u{9f}').contains(&c) {
            s.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            s.push(c);
        }
    }
    s
}

/// Cuts `s` to at most `max` columns, ending in `…` when cut. Control characters
/// become spaces (see [`sanitize`]).
pub fn truncate_to_width(s: &str, max: usize) -> String {
    let clean = sanitize(s);
    if display_width(&clean) <= max {
        return clean;
    }
    let mut out = String::new();
    let mut w = 0;
    for c in clean.chars() {
        let cw = c.width().unwrap_or(0);
        if w + cw + 1 > max {
            break;
        }
        out.push(c);
        w += cw;
    }
    out.push('…');
    out
}

/// Pads `s` with spaces to `width` columns.
pub fn pad_to_width(s: &str, width: usize) -> String {
    let w = display_width(s);
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', width.saturating_sub(w)));
    out
}

/// An error's message with its causes, as the CLI prints it: each cause said once (a
/// cause the message already holds is not repeated).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let text = c.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        cur = c.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_of_japanese_and_korean() {
        let of = |s: &str| s.chars().map(cjk_script).collect::<Vec<_>>();
        use Script::*;
        assert_eq!(of("接続々〆"), [Some(Han); 4]);
        assert_eq!(of("ぁを"), [Some(Hiragana); 2]);
        assert_eq!(of("データｶﾀ"), [Some(Katakana); 5]);
        assert_eq!(of("한글"), [Some(Hangul); 2]);
        assert_eq!(of("\u{20B9F}"), [Some(Han)]);
        assert_eq!(of("・、。 aＡ1"), [None; 7]);
    }

    #[test]
    fn japanese_is_two_columns_wide() {
        assert_eq!(display_width("接続エラー"), 10);
        assert_eq!(display_width("abc"), 3);
        assert_eq!(pad_to_width("接続", 6), "接続  ");
        let t = truncate_to_width("RabbitMQ接続エラーが発生しました", 14);
        assert!(display_width(&t) <= 14, "{t}");
        assert!(t.ends_with('…'));
    }
}
