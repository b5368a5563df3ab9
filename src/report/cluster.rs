//! Text renderings of a [`Mined`] result for the CLI.

use std::io::{self, Write};

use serde::Serialize;

use crate::patterns::miner::Mined;

#[derive(Serialize)]
struct JsonLine<'a> {
    line: usize,
    cluster: &'a str,
    template: &'a str,
}

/// One JSON object per added message, in input order, lines numbered from 1:
/// `{"line":1,"cluster":"P1a2b3c4d5e6f7a8b","template":"..."}`.
pub fn render_jsonl(mined: &Mined, w: &mut impl Write) -> io::Result<()> {
    // The rest of each line after its number is the same for every line of a cluster:
    // render it once per cluster, exactly as serde_json renders the whole object.
    let mut tails = Vec::with_capacity(mined.clusters.len());
    for c in &mined.clusters {
        let full = serde_json::to_vec(&JsonLine {
            line: 0,
            cluster: &c.id,
            template: &c.template,
        })?;
        let text = String::from_utf8_lossy(&full[r#"{"line":0"#.len()..]);
        let mut tail = crate::text::json_terminal_safe(&text).into_bytes();
        tail.push(b'\n');
        tails.push(tail);
    }
    let mut num = [0u8; 20];
    for (i, &c) in mined.assignments.iter().enumerate() {
        w.write_all(br#"{"line":"#)?;
        w.write_all(format_usize(i + 1, &mut num))?;
        w.write_all(&tails[c])?;
    }
    Ok(())
}

/// Decimal digits of `n`, written into the end of `buf`.
fn format_usize(mut n: usize, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

/// One line per cluster, most frequent first (ties by template): count, id, template.
pub fn render_summary(mined: &Mined, w: &mut impl Write) -> io::Result<()> {
    let width = mined
        .clusters
        .first()
        .map_or(1, |c| c.count.to_string().len())
        .max(5);
    writeln!(w, "{:>width$}  {:<17}  TEMPLATE", "COUNT", "ID")?;
    for c in &mined.clusters {
        writeln!(w, "{:>width$}  {:<17}  {}", c.count, c.id, c.template)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::miner::Miner;

    fn mined() -> Mined {
        let mut m = Miner::default();
        for l in ["took 5 ms", "done", "took 7 ms", "接続が30秒で"] {
            m.add(l);
        }
        m.finish()
    }

    #[test]
    fn jsonl_has_one_object_per_line_in_input_order() {
        let mut out = Vec::new();
        render_jsonl(&mined(), &mut out).expect("write to vec");
        let text = String::from_utf8(out).expect("utf-8");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0]["line"], 1);
        assert_eq!(lines[2]["line"], 3);
        assert_eq!(lines[0]["template"], "took <*> ms");
        assert_eq!(lines[0]["cluster"], lines[2]["cluster"]);
        assert_eq!(lines[1]["template"], "done");
        assert_eq!(lines[3]["template"], "接続が<*>秒で");
    }

    #[test]
    fn jsonl_is_what_serde_writes() {
        let mined = mined();
        let mut out = Vec::new();
        render_jsonl(&mined, &mut out).expect("write to vec");
        let mut expected = Vec::new();
        for (i, &c) in mined.assignments.iter().enumerate() {
            let c = &mined.clusters[c];
            let line = JsonLine {
                line: i + 1,
                cluster: &c.id,
                template: &c.template,
            };
            serde_json::to_writer(&mut expected, &line).expect("json");
            expected.push(b'\n');
        }
        assert_eq!(String::from_utf8(out), String::from_utf8(expected));
        let mut buf = [0u8; 20];
        assert_eq!(format_usize(0, &mut buf), b"0");
        assert_eq!(
            format_usize(usize::MAX, &mut buf),
            usize::MAX.to_string().as_bytes()
        );
    }

    /// JSON Lines go to a terminal unfiltered: no control character may be left raw.
    #[test]
    fn jsonl_escapes_every_control_character() {
        let mut miner =
            crate::patterns::miner::Miner::new(crate::patterns::miner::MinerConfig::default());
        miner.add("title \u{1b}]0;owned\u{7} next \u{85} line \u{9b}2J");
        let mut out = Vec::new();
        render_jsonl(&miner.finish(), &mut out).expect("write to vec");
        let text = String::from_utf8(out).expect("utf-8");
        assert!(
            !text.chars().any(|c| c.is_control() && c != '\n'),
            "{text:?}"
        );
        assert!(
            text.contains("\\u001b") && text.contains("\\u009b"),
            "{text}"
        );
        let back: serde_json::Value = serde_json::from_str(text.trim_end()).expect("json");
        assert!(back["template"].as_str().expect("str").contains('\u{9b}'));
    }

    #[test]
    fn summary_is_by_count_then_template() {
        let mut out = Vec::new();
        render_summary(&mined(), &mut out).expect("write to vec");
        let text = String::from_utf8(out).expect("utf-8");
        let rows: Vec<&str> = text.lines().collect();
        assert!(rows[0].contains("COUNT") && rows[0].contains("TEMPLATE"));
        assert!(rows[1].trim_start().starts_with('2') && rows[1].ends_with("took <*> ms"));
        assert!(rows[2].ends_with("done"));
        assert!(rows[3].ends_with("接続が<*>秒で"));
    }
}
