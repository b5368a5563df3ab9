//! Grouping the distinct masked messages into templates.

use super::mask::{Masker, PLACEHOLDER};
use super::{FastMap, FastSet, MinedCluster, MinerConfig, mask, template_id};

/// Token symbol of a variable.
pub(crate) const VAR: u32 = 0;

/// Token texts to small integers; symbol 0 is the placeholder.
pub(crate) struct Interner {
    map: FastMap<Box<str>, u32>,
    texts: Vec<Box<str>>,
    /// The token has a letter or digit (not bare punctuation).
    word: Vec<bool>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut i = Interner {
            map: FastMap::default(),
            texts: Vec::new(),
            word: Vec::new(),
        };
        i.intern(PLACEHOLDER);
        i
    }
}

impl Interner {
    pub(crate) fn intern(&mut self, s: &str) -> u32 {
        if let Some(&k) = self.map.get(s) {
            return k;
        }
        let k = self.texts.len() as u32;
        self.map.insert(s.into(), k);
        self.texts.push(s.into());
        self.word.push(s.chars().any(char::is_alphanumeric));
        k
    }

    pub(crate) fn is_word(&self, k: u32) -> bool {
        self.word[k as usize]
    }

    pub(crate) fn get(&self, s: &str) -> Option<u32> {
        self.map.get(s).copied()
    }

    pub(crate) fn text(&self, k: u32) -> &str {
        &self.texts[k as usize]
    }
}

/// A masked message as symbols, with the whitespace before each token.
pub(crate) struct Seq {
    pub(crate) syms: Vec<u32>,
    pub(crate) spaces: Vec<bool>,
}

impl Seq {
    pub(crate) fn parse(masker: &mut Masker, interner: &mut Interner, text: &str) -> Seq {
        masker.run(text);
        let mut syms = Vec::with_capacity(masker.toks.len());
        let mut spaces = Vec::with_capacity(masker.toks.len());
        for t in &masker.toks {
            syms.push(if t.var {
                VAR
            } else {
                interner.intern(t.text(text))
            });
            spaces.push(t.space_before);
        }
        Seq { syms, spaces }
    }

    /// Like [`Seq::parse`] but unknown tokens get `u32::MAX` (they match no template).
    pub(crate) fn lookup(masker: &mut Masker, interner: &Interner, text: &str) -> Vec<u32> {
        masker.run(text);
        masker
            .toks
            .iter()
            .map(|t| {
                if t.var {
                    VAR
                } else {
                    interner.get(t.text(text)).unwrap_or(u32::MAX)
                }
            })
            .collect()
    }
}

/// Share of positions where both have the same constant, among positions where either has
/// a constant.
fn similarity(tpl: &[u32], seq: &[u32]) -> f64 {
    let mut eq = 0;
    let mut n = 0;
    for (t, s) in tpl.iter().zip(seq) {
        if *t == VAR && *s == VAR {
            continue;
        }
        n += 1;
        eq += usize::from(t == s);
    }
    if n == 0 { 1.0 } else { eq as f64 / n as f64 }
}

/// Whether `pat` matches `seq` when every variable of `pat` may stand for one or more
/// tokens of `seq`. Variables of `seq` are matched only by variables of `pat`.
pub(crate) fn glob(pat: &[u32], seq: &[u32]) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    // Backtrack point: pattern index after the last variable, and the next seq index it
    // could resume from.
    let mut back: Option<(usize, usize)> = None;
    while s < seq.len() {
        if p < pat.len() && pat[p] == VAR {
            s += 1;
            p += 1;
            back = Some((p, s));
        } else if p < pat.len() && pat[p] == seq[s] && seq[s] != VAR {
            p += 1;
            s += 1;
        } else if let Some((bp, bs)) = back {
            p = bp;
            s = bs + 1;
            back = Some((bp, bs + 1));
        } else {
            return false;
        }
    }
    p == pat.len()
}

struct Group {
    tpl: Vec<u32>,
    spaces: Vec<bool>,
    count: usize,
}

/// Disjoint sets of groups. Every root holds the template and count of its whole set.
struct Groups {
    groups: Vec<Group>,
    parent: Vec<usize>,
}

impl Groups {
    fn find(&mut self, mut x: usize) -> usize {
        while self.parent[x] != x {
            self.parent[x] = self.parent[self.parent[x]];
            x = self.parent[x];
        }
        x
    }

    /// Joins the set of `gone` into the set of `keep`; `keep`'s root names the union.
    fn union(&mut self, keep: usize, gone: usize) {
        let (k, g) = (self.find(keep), self.find(gone));
        if k == g {
            return;
        }
        self.parent[g] = k;
        let gone_count = self.groups[g].count;
        let (a, b) = if k < g {
            let (l, r) = self.groups.split_at_mut(g);
            (&mut l[k], &r[0])
        } else {
            let (l, r) = self.groups.split_at_mut(k);
            (&mut r[0], &l[g])
        };
        a.count += gone_count;
        if a.tpl.len() == b.tpl.len() {
            for (t, s) in a.tpl.iter_mut().zip(&b.tpl) {
                if t != s {
                    *t = VAR;
                }
            }
        }
    }

    fn roots(&mut self) -> Vec<usize> {
        (0..self.groups.len())
            .filter(|&g| self.find(g) == g)
            .collect()
    }
}

/// Most templates a template is compared with in the variable-length pass.
const MAX_CANDIDATES: usize = 64;

const P: u64 = 0x9E37_79B9_7F4A_7C15;

/// Powers of `P` for polynomial hashes of templates up to `len` tokens.
fn powers(len: usize) -> Vec<u64> {
    let mut pow = Vec::with_capacity(len);
    let mut p = 1u64;
    for _ in 0..len {
        pow.push(p);
        p = p.wrapping_mul(P);
    }
    pow
}

fn seq_hash(pow: &[u64], tpl: &[u32]) -> u64 {
    tpl.iter().zip(pow).fold(0u64, |h, (&t, &p)| {
        h.wrapping_add(u64::from(t).wrapping_add(1).wrapping_mul(p))
    })
}

/// Hash of `tpl` with position `i` made variable, from the full hash.
fn hash_without(h: u64, pow: &[u64], tpl: &[u32], i: usize) -> u64 {
    h.wrapping_sub(u64::from(tpl[i]).wrapping_add(1).wrapping_mul(pow[i]))
        .wrapping_add(pow[i])
}

/// Constant words a template must keep besides a slot for [`distinct_values`] to make the
/// slot variable: with fewer, the slot names the event (`cupsd startup succeeded`,
/// `registered new driver usbhid`) rather than holding a value.
const MIN_CONTEXT: usize = 3;

/// An upper-case word or constant name (`LOOKING`, `FAIL_TASK_CLEANUP`).
fn is_upper_word(s: &str) -> bool {
    s.len() >= 2
        && s.as_bytes()[0].is_ascii_uppercase()
        && s.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
}

fn is_word_sym(interner: &Interner, t: u32) -> bool {
    t != VAR && interner.is_word(t)
}

/// Returns the clusters (sorted by count, then template) and the cluster of every key.
pub(crate) fn cluster(
    cfg: &MinerConfig,
    keys: &[Box<str>],
    counts: &[usize],
) -> (Vec<MinedCluster>, Vec<usize>) {
    // Canonical order: the result does not depend on the order of the input lines.
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by(|&a, &b| {
        counts[b]
            .cmp(&counts[a])
            .then_with(|| keys[a].cmp(&keys[b]))
    });

    let mut masker = Masker::default();
    let mut interner = Interner::default();
    let mut groups = Vec::with_capacity(keys.len());
    for &k in &order {
        let seq = Seq::parse(&mut masker, &mut interner, &keys[k]);
        groups.push(Group {
            tpl: seq.syms,
            spaces: seq.spaces,
            count: counts[k],
        });
    }
    let mut gs = Groups {
        parent: (0..groups.len()).collect(),
        groups,
    };

    // A slot made variable can let another slot agree everywhere else (a table and the
    // user who locked it), and a constant where a template now has a variable is a value
    // too; a few rounds reach the fixed point in practice.
    let mut known = FastSet::default();
    if cfg.common_pattern {
        common_pattern(&mut gs, &interner, cfg, &mut known);
    }
    for _ in 0..3 {
        let mut changed = false;
        if cfg.subsume {
            changed |= subsume(&mut gs, &interner);
        }
        if cfg.distinct_values {
            changed |= distinct_values(&mut gs, &interner, cfg, &mut known);
        }
        if !changed {
            break;
        }
    }
    if cfg.similarity < 1.0 {
        drain(&mut gs, cfg.depth, cfg.similarity);
    }
    if cfg.merge_variable_length {
        merge_variable_length(&mut gs, &interner);
    }

    // Render, then join sets whose templates read the same.
    let roots = gs.roots();
    let mut rendered: FastMap<usize, String> = FastMap::default();
    let mut by_template: FastMap<String, usize> = FastMap::default();
    for &r in &roots {
        let g = &gs.groups[r];
        let mut s = String::new();
        for (i, (&t, &sp)) in g.tpl.iter().zip(&g.spaces).enumerate() {
            if i > 0 && sp {
                s.push(' ');
            }
            s.push_str(interner.text(t));
        }
        let s = mask(&s);
        match by_template.get(&s) {
            Some(&other) => gs.union(other, r),
            None => {
                by_template.insert(s.clone(), r);
                rendered.insert(r, s);
            }
        }
    }
    let mut roots = gs.roots();
    roots.sort_by(|&a, &b| {
        gs.groups[b]
            .count
            .cmp(&gs.groups[a].count)
            .then_with(|| rendered[&a].cmp(&rendered[&b]))
    });
    let mut final_index = vec![usize::MAX; gs.groups.len()];
    let mut clusters = Vec::with_capacity(roots.len());
    for (i, &r) in roots.iter().enumerate() {
        final_index[r] = i;
        let template = rendered[&r].clone();
        clusters.push(MinedCluster {
            id: template_id(&template),
            template,
            count: gs.groups[r].count,
        });
    }
    let mut key_cluster = vec![0usize; keys.len()];
    for (g, &k) in order.iter().enumerate() {
        key_cluster[k] = final_index[gs.find(g)];
    }
    (clusters, key_cluster)
}

/// Joins a group into a group of the same length that equals it except that one or two of
/// its constants are variables there: a constant seen where other messages have a variable
/// is a value too (`chdir(pwd)` next to `chdir(<*>)`).
fn subsume(gs: &mut Groups, interner: &Interner) -> bool {
    let mut changed = false;
    let pow = powers(gs.groups.iter().map(|g| g.tpl.len()).max().unwrap_or(0));
    let hashes: Vec<u64> = gs.groups.iter().map(|g| seq_hash(&pow, &g.tpl)).collect();
    // Groups sorted by (length, hash), and where each (length, hash) run starts.
    let mut by_hash: Vec<(u32, u64, u32)> = (0..gs.groups.len())
        .map(|g| (gs.groups[g].tpl.len() as u32, hashes[g], g as u32))
        .collect();
    by_hash.sort_unstable();
    let mut run_start: FastMap<(u32, u64), usize> = FastMap::default();
    for (pos, e) in by_hash.iter().enumerate().rev() {
        run_start.insert((e.0, e.1), pos);
    }
    for (g, h) in hashes.iter().enumerate() {
        let tpl = &gs.groups[g].tpl;
        let pow = &pow;
        let words = tpl.iter().filter(|&&t| is_word_sym(interner, t)).count();
        let mut best: Option<usize> = None;
        let consider = |hh: u64, best: &mut Option<usize>, ok: &dyn Fn(&[u32]) -> bool| {
            let key = (tpl.len() as u32, hh);
            let Some(&from) = run_start.get(&key) else {
                return;
            };
            for t in by_hash[from..]
                .iter()
                .take_while(|e| (e.0, e.1) == key)
                .map(|e| e.2 as usize)
            {
                if t != g && best.is_none_or(|b| t < b) && ok(&gs.groups[t].tpl) {
                    *best = Some(t);
                }
            }
        };
        for i in 0..tpl.len() {
            let wi = usize::from(is_word_sym(interner, tpl[i]));
            if tpl[i] == VAR || words - wi < 2 {
                continue;
            }
            let hi = hash_without(*h, pow, tpl, i);
            consider(hi, &mut best, &|o: &[u32]| {
                o.iter()
                    .zip(tpl)
                    .enumerate()
                    .all(|(k, (a, b))| if k == i { *a == VAR } else { a == b })
            });
            // Pairs only for short messages: the cost grows with the square of the length.
            if tpl.len() > 16 {
                continue;
            }
            for j in i + 1..tpl.len() {
                if tpl[j] == VAR || words - wi - usize::from(is_word_sym(interner, tpl[j])) < 2 {
                    continue;
                }
                let hij = hash_without(hi, pow, tpl, j);
                consider(hij, &mut best, &|o: &[u32]| {
                    o.iter().zip(tpl).enumerate().all(|(k, (a, b))| {
                        if k == i || k == j { *a == VAR } else { a == b }
                    })
                });
            }
        }
        if let Some(t) = best {
            changed |= gs.find(t) != gs.find(g);
            gs.union(t, g);
        }
    }
    changed
}

/// Makes a position variable when templates that are equal everywhere else (and keep at
/// least [`MIN_CONTEXT`] constant words there) show values that [`slot_is_variable`]
/// calls parameters. A few capitalised or upper-case words (`GET`, `POST`, `LOOKING`) and
/// any two values not known as values are kept apart as constants.
///
/// Values of a slot made variable are remembered in `known`: a slot that shows two or
/// more values that are all known values is variable too, even in a text with too little
/// context for the rule above (`eth0: link down` beside `eth1: link down`, once `eth0` and
/// `eth1` were seen as values where the context was clear).
fn distinct_values(
    gs: &mut Groups,
    interner: &Interner,
    cfg: &MinerConfig,
    known: &mut FastSet<u32>,
) -> bool {
    let mut changed = false;
    let min_context = if cfg.known_values { 1 } else { MIN_CONTEXT };
    let roots = gs.roots();
    let pow = powers(
        roots
            .iter()
            .map(|&r| gs.groups[r].tpl.len())
            .max()
            .unwrap_or(0),
    );
    // (length, hash without slot i, i, root), sorted: runs are candidate sets. A flat
    // vector instead of a map of vectors keeps this pass cheap for many distinct messages.
    let mut slots: Vec<(u32, u64, u32, u32)> = Vec::new();
    for &r in &roots {
        let tpl = &gs.groups[r].tpl;
        let words = tpl.iter().filter(|&&t| is_word_sym(interner, t)).count();
        let h = seq_hash(&pow, tpl);
        for i in 0..tpl.len() {
            if tpl[i] == VAR || words - usize::from(is_word_sym(interner, tpl[i])) < min_context {
                continue;
            }
            slots.push((
                tpl.len() as u32,
                hash_without(h, &pow, tpl, i),
                i as u32,
                r as u32,
            ));
        }
    }
    slots.sort_unstable();
    let mut start = 0;
    while start < slots.len() {
        let (len, h, i, _) = slots[start];
        let end = start + slots[start..].partition_point(|s| (s.0, s.1, s.2) == (len, h, i));
        let run = &slots[start..end];
        start = end;
        if run.len() < 2 {
            continue;
        }
        let i = i as usize;
        let first = run[0].3 as usize;
        let short = {
            let tpl = &gs.groups[first].tpl;
            let words = tpl.iter().filter(|&&t| is_word_sym(interner, t)).count();
            words - usize::from(is_word_sym(interner, tpl[i])) < MIN_CONTEXT
        };
        let same = |o: &[u32]| {
            o.iter()
                .zip(&gs.groups[first].tpl)
                .enumerate()
                .all(|(p, (a, b))| p == i || a == b)
        };
        let members: Vec<usize> = run
            .iter()
            .map(|s| s.3 as usize)
            .filter(|&m| same(&gs.groups[m].tpl))
            .collect();
        let values: Vec<(u32, usize)> = members
            .iter()
            .map(|&m| (gs.groups[m].tpl[i], gs.groups[m].count))
            .collect();
        let variable = (values.len() >= 2 && known_values(interner, known, &values))
            || (!short && slot_is_variable(interner, cfg, &values));
        if variable {
            changed = true;
            if cfg.known_values {
                known.extend(values.iter().map(|v| v.0));
            }
            for &m in &members[1..] {
                gs.union(first, m);
            }
            let r = gs.find(first);
            if gs.groups[r].tpl.len() > i {
                gs.groups[r].tpl[i] = VAR;
            }
        }
    }
    changed
}

/// Whether all `values` are known values, or known values fused to one and the same
/// constant suffix (`sshd.service`, `ftpd.service` once `sshd` and `ftpd` are known).
fn known_values(interner: &Interner, known: &FastSet<u32>, values: &[(u32, usize)]) -> bool {
    if values.iter().all(|v| known.contains(&v.0)) {
        return true;
    }
    let split = |t: u32| {
        let text = interner.text(t);
        let at = text.find(['.', '-', '_', '@', ':'])?;
        let stem = interner.get(&text[..at])?;
        known.contains(&stem).then(|| &text[at..])
    };
    let Some(suffix) = split(values[0].0) else {
        return false;
    };
    values.iter().all(|v| split(v.0) == Some(suffix))
}

/// Whether the values seen in one slot of templates that share everything else are
/// parameters rather than the words that tell events apart. `values` holds each distinct
/// value with its number of messages.
fn slot_is_variable(interner: &Interner, cfg: &MinerConfig, values: &[(u32, usize)]) -> bool {
    let k = values.len();
    if k >= cfg.many_values {
        return true;
    }
    if k < cfg.min_values.max(2) {
        return false;
    }
    // A few upper-case words are states or modes (`LOOKING`, `FOLLOWING`), not values.
    if values.iter().all(|&(t, _)| is_upper_word(interner.text(t))) {
        return false;
    }
    // A long tail (one value rare): the slot holds parameters. Without one, lower-case
    // names are parameters too (user, service, table and channel names), while capitalised
    // words are the program's own vocabulary (`VM Paused`, `VM Resumed`).
    values.iter().any(|&(_, c)| c <= cfg.rare_count)
        || (cfg.lower_case_values
            && values
                .iter()
                .all(|&(t, _)| !interner.text(t).starts_with(|ch: char| ch.is_uppercase())))
}

/// Brain's longest common pattern, over templates of one length: the tokens of a template
/// that are at least as frequent (messages with that token at that position) as most of
/// its tokens are its pattern; less frequent ones are candidates for values. Templates with
/// the same pattern form a set, and a candidate slot with at least `cfg.many_values`
/// values there becomes a variable, while the set splits by the values of the other
/// candidate slots. Unlike [`distinct_values`], several slots may vary at once (`user
/// alice logged in from office north`, each name one of many). Upper-case names are
/// states, whose changes are events (`from NEW to SCHEDULED`); they are left to
/// [`distinct_values`]. The values of slots made variable go to `known`.
fn common_pattern(
    gs: &mut Groups,
    interner: &Interner,
    cfg: &MinerConfig,
    known: &mut FastSet<u32>,
) {
    const CAND: u32 = u32::MAX;
    let roots = gs.roots();
    let mut freq: FastMap<(u32, u32, u32), usize> = FastMap::default();
    for &r in &roots {
        let g = &gs.groups[r];
        let len = g.tpl.len() as u32;
        for (p, &t) in g.tpl.iter().enumerate() {
            *freq.entry((len, p as u32, t)).or_default() += g.count;
        }
    }
    let mut sets: FastMap<Vec<u32>, Vec<usize>> = FastMap::default();
    let mut fs: Vec<usize> = Vec::new();
    for &r in &roots {
        let tpl = &gs.groups[r].tpl;
        let len = tpl.len() as u32;
        fs.clear();
        fs.extend(
            tpl.iter()
                .enumerate()
                .map(|(p, &t)| freq.get(&(len, p as u32, t)).copied().unwrap_or(0)),
        );
        let mut sorted = fs.clone();
        sorted.sort_unstable();
        // The mode of the frequencies, ties to the larger.
        let (mut mode, mut best, mut i) = (0, 0, 0);
        while i < sorted.len() {
            let j = i + sorted[i..].partition_point(|&f| f == sorted[i]);
            if j - i >= best {
                (mode, best) = (sorted[i], j - i);
            }
            i = j;
        }
        let key: Vec<u32> = tpl
            .iter()
            .zip(&fs)
            .map(|(&t, &f)| {
                if t == VAR || f >= mode || !is_word_sym(interner, t) {
                    t
                } else {
                    CAND
                }
            })
            .collect();
        let words = key
            .iter()
            .filter(|&&t| t != CAND && is_word_sym(interner, t))
            .count();
        if key.contains(&CAND) && words >= MIN_CONTEXT {
            sets.entry(key).or_default().push(r);
        }
    }
    let mut sets: Vec<(Vec<u32>, Vec<usize>)> = sets
        .into_iter()
        .filter(|(_, m)| m.len() >= cfg.many_values)
        .collect();
    sets.sort_unstable_by_key(|(_, m)| m[0]);
    let mut values: FastSet<u32> = FastSet::default();
    for (key, members) in sets {
        let mut var_slots = Vec::new();
        let mut split_slots = Vec::new();
        for (p, _) in key.iter().enumerate().filter(|&(_, &t)| t == CAND) {
            values.clear();
            values.extend(members.iter().map(|&m| gs.groups[m].tpl[p]));
            let upper = values.iter().all(|&t| is_upper_word(interner.text(t)));
            if values.len() >= cfg.many_values && !upper {
                var_slots.push(p);
                if cfg.known_values {
                    known.extend(values.iter().copied());
                }
            } else {
                split_slots.push(p);
            }
        }
        if var_slots.is_empty() {
            continue;
        }
        let mut parts: FastMap<Vec<u32>, usize> = FastMap::default();
        for &m in &members {
            let part: Vec<u32> = split_slots.iter().map(|&p| gs.groups[m].tpl[p]).collect();
            let first = *parts.entry(part).or_insert(m);
            gs.union(first, m);
        }
        for first in parts.into_values() {
            let r = gs.find(first);
            for &p in &var_slots {
                gs.groups[r].tpl[p] = VAR;
            }
        }
    }
}

/// Drain: templates of equal length and equal leading tokens join when the share of
/// equal constants reaches `sim`.
fn drain(gs: &mut Groups, depth: usize, sim: f64) {
    let roots = gs.roots();
    let mut leaves: FastMap<Vec<u32>, Vec<usize>> = FastMap::default();
    for r in roots {
        let tpl = &gs.groups[r].tpl;
        let mut key = vec![tpl.len() as u32];
        key.extend(tpl.iter().take(depth));
        let leaf = leaves.entry(key).or_default();
        let mut best: Option<(f64, usize)> = None;
        for &c in leaf.iter() {
            let s = similarity(&gs.groups[c].tpl, tpl);
            if best.is_none_or(|(b, _)| s > b) {
                best = Some((s, c));
            }
        }
        match best {
            Some((s, c)) if s >= sim => gs.union(c, r),
            _ => leaf.push(r),
        }
    }
}

/// Like [`glob`], but a variable of `pat` that spans several tokens of `seq` may not span a
/// variable of `seq`: a run of constants stands for a multi-word value, while constants
/// between variables are structure (`( <*> **** <*> )` is not `( <*> )`).
pub(crate) fn glob_free_text(pat: &[u32], seq: &[u32]) -> bool {
    let m = seq.len();
    // ok[j]: pat[..i] matches seq[..j].
    let mut ok = vec![false; m + 1];
    ok[0] = true;
    for &p in pat {
        let mut next = vec![false; m + 1];
        if p == VAR {
            for start in 0..m {
                if !ok[start] {
                    continue;
                }
                next[start + 1] = true;
                for end in start + 1..m {
                    if seq[end] == VAR || seq[start] == VAR {
                        break;
                    }
                    next[end + 1] = true;
                }
            }
        } else {
            for j in 0..m {
                if ok[j] && seq[j] == p {
                    next[j + 1] = true;
                }
            }
        }
        ok = next;
    }
    ok[m]
}

/// Joins a template into a shorter one that matches it with variables spanning several
/// tokens (`Resolved <*> to <*>` and `Resolved a b to c`).
fn merge_variable_length(gs: &mut Groups, interner: &Interner) {
    let roots = gs.roots();
    let words = |t: &[u32]| t.iter().filter(|&&s| is_word_sym(interner, s)).count();
    let mut by_first: FastMap<u32, Vec<usize>> = FastMap::default();
    for &r in &roots {
        let t = &gs.groups[r].tpl;
        if t.contains(&VAR) && words(t) >= 2 {
            by_first.entry(t[0]).or_default().push(r);
        }
    }
    for &b in &roots {
        let tb = gs.groups[b].tpl.clone();
        let Some(&first) = tb.first() else { continue };
        let mut target = None;
        let buckets = [
            by_first.get(&first),
            if first == VAR {
                None
            } else {
                by_first.get(&VAR)
            },
        ];
        // Candidates are in canonical order (most frequent first); the cap keeps the pass
        // linear when many templates share a first token.
        for &a in buckets.into_iter().flatten().flatten().take(MAX_CANDIDATES) {
            let ta = &gs.groups[a].tpl;
            if a == b || ta.len() >= tb.len() || words(ta) < words(&tb).div_ceil(2) {
                continue;
            }
            if glob_free_text(ta, &tb) && target.is_none_or(|t| a < t) {
                target = Some(a);
            }
        }
        if let Some(a) = target {
            gs.union(a, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: u32 = 1;
    const B: u32 = 2;
    const C: u32 = 3;

    #[test]
    fn glob_variables_span_one_or_more_tokens() {
        assert!(glob(&[A, VAR, C], &[A, B, C]));
        assert!(glob(&[A, VAR, C], &[A, B, B, VAR, C]));
        assert!(!glob(&[A, VAR, C], &[A, C]));
        assert!(!glob(&[A, B], &[A, VAR]));
        assert!(glob(&[], &[]));
    }

    #[test]
    fn free_text_variables_do_not_swallow_variables() {
        assert!(glob_free_text(&[A, VAR, C], &[A, B, B, C]));
        assert!(glob_free_text(&[A, VAR, C], &[A, VAR, C]));
        assert!(!glob_free_text(&[A, VAR, C], &[A, VAR, B, VAR, C]));
        assert!(!glob_free_text(&[A, VAR, C], &[A, B, VAR, C]));
    }

    #[test]
    fn similarity_ignores_shared_variables() {
        assert_eq!(similarity(&[A, VAR, C], &[A, VAR, C]), 1.0);
        assert_eq!(similarity(&[A, VAR, C], &[A, B, C]), 2.0 / 3.0);
        assert_eq!(similarity(&[VAR], &[VAR]), 1.0);
    }
}
