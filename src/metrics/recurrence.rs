//! Recurrence groups: the title normaliser and the per-group state.
//!
//! An incident's membership is recorded as it arrives; whether it recurred is decided in
//! [`RecurrenceAcc::finish`], once the earliest resolution of every group is known, so
//! arrival order does not matter.

use serde::Serialize;

use super::FxMap;

/// What a recurrence group is keyed on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum GroupKind {
    /// A known pattern id.
    Pattern,
    /// A normalised title on one (primary) component.
    Title,
}

/// Placeholder for a number, or a hex id, in a normalised title.
const NUM: &str = "<n>";
/// Placeholder for a quoted part in a normalised title.
const QUOTED: &str = "<q>";

/// Normalises a title for grouping, into `out` (cleared first):
///
/// 1. full-width ASCII forms (`Ｄｂ０１`) become ASCII, then everything is lowercased;
/// 2. a quoted part — `"…"`, `` `…` ``, `「…」`, `『…』`, or `'…'` opened at the start of
///    a word — becomes `<q>` (an unmatched quote is kept as it is);
/// 3. each ASCII word (a run of `[0-9a-z]`) that contains a digit, or is 8 or more hex
///    digits, becomes `<n>`: `db-03` → `db-<n>`, `0x1f` → `<n>`, `deadbeef` → `<n>`;
/// 4. runs of whitespace become one space, and the ends are trimmed.
pub(crate) fn normalize_title(title: &str, out: &mut String, chars: &mut Vec<char>) {
    out.clear();
    chars.clear();
    for c in title.chars() {
        match c {
            'A'..='Z' => chars.push(c.to_ascii_lowercase()),
            '\0'..='\x7f' => chars.push(c),
            '\u{FF01}'..='\u{FF5E}' => {
                let ascii = char::from_u32(c as u32 - 0xFEE0).unwrap_or(c);
                chars.push(ascii.to_ascii_lowercase());
            }
            '\u{3000}' => chars.push(' '),
            // CJK and everything after it has no case.
            '\u{80}'..='\u{2FFF}' => chars.extend(c.to_lowercase()),
            _ => chars.push(c),
        }
    }
    let chars = &chars[..];
    let mut i = 0;
    let mut pending_space = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            pending_space = !out.is_empty();
            i += 1;
            continue;
        }
        if pending_space {
            out.push(' ');
            pending_space = false;
        }
        let close = match c {
            '"' => Some('"'),
            '`' => Some('`'),
            '「' => Some('」'),
            '『' => Some('』'),
            '\'' if i == 0 || !chars[i - 1].is_alphanumeric() => Some('\''),
            _ => None,
        };
        if let Some(close) = close
            && let Some(len) = chars[i + 1..].iter().position(|&x| x == close)
        {
            out.push_str(QUOTED);
            i += len + 2;
            continue;
        }
        if c.is_ascii_alphanumeric() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_alphanumeric() {
                i += 1;
            }
            let word = &chars[start..i];
            let has_digit = word.iter().any(char::is_ascii_digit);
            let long_hex = word.len() >= 8 && word.iter().all(char::is_ascii_hexdigit);
            if has_digit || long_hex {
                out.push_str(NUM);
            } else {
                out.extend(word);
            }
            continue;
        }
        out.push(c);
        i += 1;
    }
}

/// Key separator; a control character, so it does not occur in real names.
const SEP: char = '\u{1f}';

/// Groups are stored without a heap allocation each: keys live in one arena string and
/// the hash index maps a 64-bit key hash to the newest group with that hash, older ones
/// being chained through `next_same_hash` (collisions are compared by key).
struct GroupState {
    /// Earliest known resolution of any incident in the group, µs; `i64::MAX` for none.
    earliest_resolution: i64,
    key_start: u32,
    key_len: u32,
    next_same_hash: u32,
}

const NO_GROUP: u32 = u32::MAX;

/// An in-window incident: its group and how many component indices follow it in
/// `RecurrenceAcc::member_components`.
struct Member {
    created: i64,
    group: u32,
    components: u32,
}

#[derive(Default)]
pub(crate) struct RecurrenceAcc {
    index: FxMap<u64, u32>,
    arena: String,
    groups: Vec<GroupState>,
    /// First pattern name seen per pattern group (from `Incident::matched_pattern`).
    pattern_names: FxMap<u32, Box<str>>,
    members: Vec<Member>,
    member_components: Vec<u32>,
    key_buf: String,
    title_buf: String,
    char_buf: Vec<char>,
}

/// One group's result, before names from the caller are attached.
pub(crate) struct GroupResult {
    pub(crate) kind: GroupKind,
    pub(crate) key: String,
    pub(crate) component: Option<String>,
    /// For a pattern group: the component index most of its in-window incidents list.
    pub(crate) top_component: Option<u32>,
    pub(crate) pattern_name: Option<String>,
    pub(crate) incidents: u64,
    pub(crate) recurrent: u64,
}

pub(crate) struct RecurrenceResult {
    pub(crate) incidents: u64,
    pub(crate) recurrent: u64,
    /// Groups with at least one in-window incident.
    pub(crate) groups_total: u64,
    /// Groups with at least one recurrent incident.
    pub(crate) recurring_total: u64,
    /// The top recurring groups: most recurrent first, then most incidents, then by key.
    pub(crate) top: Vec<GroupResult>,
    /// Recurrent in-window incidents per component index.
    pub(crate) recurrent_by_component: Vec<u64>,
}

impl RecurrenceAcc {
    fn key(&self, g: &GroupState) -> &str {
        let start = g.key_start as usize;
        self.arena
            .get(start..start + g.key_len as usize)
            .unwrap_or("")
    }

    /// The group of an incident: its pattern id, or else its normalised title on its
    /// first component. The name is remembered for pattern groups.
    fn group(
        &mut self,
        pattern: Option<(&str, Option<&str>)>,
        title: &str,
        component: Option<&str>,
    ) -> u32 {
        self.key_buf.clear();
        match pattern {
            Some((id, _)) => {
                self.key_buf.push('p');
                self.key_buf.push(SEP);
                self.key_buf.push_str(id);
            }
            None => {
                normalize_title(title, &mut self.title_buf, &mut self.char_buf);
                self.key_buf.push('t');
                self.key_buf.push(SEP);
                self.key_buf.push_str(component.unwrap_or(""));
                self.key_buf.push(SEP);
                self.key_buf.push_str(&self.title_buf);
            }
        }
        let hash = {
            use std::hash::BuildHasher;
            rustc_hash::FxBuildHasher.hash_one(self.key_buf.as_str())
        };
        let head = self.index.get(&hash).copied().unwrap_or(NO_GROUP);
        let mut cur = head;
        while let Some(g) = self.groups.get(cur as usize) {
            if self.key(g) == self.key_buf {
                break;
            }
            cur = g.next_same_hash;
        }
        if cur == NO_GROUP {
            cur = self.groups.len() as u32;
            self.groups.push(GroupState {
                earliest_resolution: i64::MAX,
                key_start: self.arena.len() as u32,
                key_len: self.key_buf.len() as u32,
                next_same_hash: head,
            });
            self.arena.push_str(&self.key_buf);
            self.index.insert(hash, cur);
        }
        if let Some((_, Some(name))) = pattern
            && !name.is_empty()
        {
            self.pattern_names.entry(cur).or_insert_with(|| name.into());
        }
        cur
    }

    /// Records an incident. `member` (its component indices) is `None` for incidents
    /// outside the window, which only matter through their resolution; `resolution` is
    /// their earliest valid one.
    pub(crate) fn add(
        &mut self,
        pattern: Option<(&str, Option<&str>)>,
        title: &str,
        primary_component: Option<&str>,
        created: i64,
        resolution: Option<i64>,
        member: Option<&[u32]>,
    ) {
        if member.is_none() && resolution.is_none() {
            return;
        }
        let g = self.group(pattern, title, primary_component);
        if let Some(r) = resolution
            && let Some(state) = self.groups.get_mut(g as usize)
        {
            state.earliest_resolution = state.earliest_resolution.min(r);
        }
        if let Some(components) = member {
            self.members.push(Member {
                created,
                group: g,
                components: components.len() as u32,
            });
            self.member_components.extend_from_slice(components);
        }
    }

    /// For each of `groups`, the component index its in-window incidents list most often
    /// (ties: the one seen first).
    fn top_components(&self, groups: &[u32]) -> FxMap<u32, u32> {
        let mut counts: FxMap<u32, Vec<(u32, u32)>> =
            groups.iter().map(|&g| (g, Vec::new())).collect();
        let mut offset = 0usize;
        for m in &self.members {
            let end = offset + m.components as usize;
            if let Some(seen) = counts.get_mut(&m.group) {
                for &c in self.member_components.get(offset..end).unwrap_or_default() {
                    match seen.iter_mut().find(|(comp, _)| *comp == c) {
                        Some((_, n)) => *n += 1,
                        None => seen.push((c, 1)),
                    }
                }
            }
            offset = end;
        }
        counts
            .into_iter()
            .filter_map(|(g, seen)| {
                // max_by_key keeps the last of equals: reversed, the first seen wins.
                let top = seen.iter().rev().max_by_key(|(_, n)| *n)?;
                Some((g, top.0))
            })
            .collect()
    }

    pub(crate) fn finish(mut self, component_count: usize, top_n: usize) -> RecurrenceResult {
        let mut per_group = vec![(0u32, 0u32); self.groups.len()];
        let mut recurrent_by_component = vec![0u64; component_count];
        let (mut incidents, mut recurrent) = (0, 0);
        let mut offset = 0usize;
        for m in &self.members {
            let end = offset + m.components as usize;
            // The incident's own resolution is never before its creation (invalid ones are
            // not recorded), so it cannot make the incident recurrent by itself.
            let earliest = self
                .groups
                .get(m.group as usize)
                .map_or(i64::MAX, |g| g.earliest_resolution);
            let is_recurrent = earliest < m.created;
            incidents += 1;
            if let Some(slot) = per_group.get_mut(m.group as usize) {
                slot.0 += 1;
                slot.1 += u32::from(is_recurrent);
            }
            if is_recurrent {
                recurrent += 1;
                for &c in self.member_components.get(offset..end).unwrap_or_default() {
                    if let Some(n) = recurrent_by_component.get_mut(c as usize) {
                        *n += 1;
                    }
                }
            }
            offset = end;
        }
        let groups_total = per_group.iter().filter(|(n, _)| *n > 0).count() as u64;
        let mut recurring: Vec<u32> = (0..per_group.len() as u32)
            .filter(|&g| per_group[g as usize].1 > 0)
            .collect();
        let recurring_total = recurring.len() as u64;
        let rank = |&g: &u32| {
            let (n, r) = per_group[g as usize];
            (std::cmp::Reverse(r), std::cmp::Reverse(n))
        };
        let by_rank = |a: &u32, b: &u32| {
            rank(a).cmp(&rank(b)).then_with(|| {
                let key = |g: &u32| self.key(&self.groups[*g as usize]);
                key(a).cmp(key(b))
            })
        };
        if recurring.len() > top_n && top_n > 0 {
            recurring.select_nth_unstable_by(top_n - 1, by_rank);
        }
        recurring.truncate(top_n);
        recurring.sort_by(by_rank);
        let top_components = self.top_components(&recurring);
        let top = recurring
            .into_iter()
            .map(|g| {
                let (n, r) = per_group[g as usize];
                let mut parts = self.key(&self.groups[g as usize]).split(SEP);
                let tag = parts.next().unwrap_or("");
                let (kind, component, key) = if tag == "p" {
                    (GroupKind::Pattern, None, parts.next().unwrap_or(""))
                } else {
                    let component = parts.next().filter(|c| !c.is_empty());
                    (GroupKind::Title, component, parts.next().unwrap_or(""))
                };
                GroupResult {
                    top_component: match kind {
                        GroupKind::Pattern => top_components.get(&g).copied(),
                        GroupKind::Title => None,
                    },
                    kind,
                    key: key.to_string(),
                    component: component.map(str::to_string),
                    pattern_name: self.pattern_names.remove(&g).map(String::from),
                    incidents: u64::from(n),
                    recurrent: u64::from(r),
                }
            })
            .collect();
        RecurrenceResult {
            incidents,
            recurrent,
            groups_total,
            recurring_total,
            top,
            recurrent_by_component,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        let mut out = String::new();
        normalize_title(s, &mut out, &mut Vec::new());
        out
    }

    #[test]
    fn normaliser_replaces_numbers_hex_and_quotes() {
        assert_eq!(
            norm("  Disk  FULL on db-03 (95%) "),
            "disk full on db-<n> (<n>%)"
        );
        assert_eq!(norm("Error 0x1F3A in deadbeef"), "error <n> in <n>");
        assert_eq!(
            norm("can't open 'config.yml' or \"x y\""),
            "can't open <q> or <q>"
        );
        assert_eq!(norm("unmatched \"quote"), "unmatched \"quote");
        assert_eq!(
            norm("サーバー０１でエラー「ログ」"),
            "サーバー<n>でエラー<q>"
        );
        assert_eq!(norm("Cafe feed"), "cafe feed");
    }

    #[test]
    fn top_groups_are_ranked_and_capped() {
        let mut acc = RecurrenceAcc::default();
        // Group "a": 1 recurrence of 2; "b": 2 of 3; "c": 1 of 3; "d": 1 of 2.
        for (title, n) in [("a", 2), ("b", 3), ("c", 3), ("d", 2)] {
            acc.add(None, title, None, 0, Some(1), Some(&[]));
            for k in 1..n {
                let created = if title == "b" || k == 1 { 10 } else { 0 };
                acc.add(None, title, None, created, None, Some(&[]));
            }
        }
        let r = acc.finish(0, 3);
        let keys: Vec<&str> = r.top.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["b", "c", "a"]);
        assert_eq!(r.recurring_total, 4);
    }

    #[test]
    fn recurrence_does_not_depend_on_arrival_order() {
        let hour = 3_600_000_000i64;
        let mut acc = RecurrenceAcc::default();
        // Arrives first but was created last: recurrent, because B was resolved before.
        acc.add(None, "DB down 1", Some("db"), 10 * hour, None, Some(&[0]));
        acc.add(None, "DB down 2", Some("db"), 0, Some(2 * hour), Some(&[0]));
        // Same title elsewhere: another group.
        acc.add(None, "DB down 3", Some("web"), 11 * hour, None, Some(&[1]));
        // Created while B was still open: not recurrent.
        acc.add(None, "db down 4", Some("db"), hour, None, Some(&[0]));
        let r = acc.finish(2, 10);
        assert_eq!((r.incidents, r.recurrent), (4, 1));
        assert_eq!(r.recurrent_by_component, vec![1, 0]);
        assert_eq!((r.groups_total, r.recurring_total), (2, 1));
        assert_eq!(r.top[0].key, "db down <n>");
        assert_eq!(r.top[0].component.as_deref(), Some("db"));
        assert_eq!((r.top[0].incidents, r.top[0].recurrent), (3, 1));
    }
}
