//! Create-time lookup: the stored template that best fits a new message.

use super::cluster::{Interner, Seq, VAR, glob, glob_free_text};
use super::mask::Masker;

/// Stored templates prepared for matching; see [`TemplateMatcher::best_match`].
pub struct TemplateMatcher {
    interner: Interner,
    templates: Vec<Vec<u32>>,
    min_similarity: f64,
}

/// The template chosen for a message.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TemplateMatch {
    /// Position of the template in the list given to [`TemplateMatcher::new`].
    pub index: usize,
    /// 1.0 when the template matches the message exactly (each `<*>` standing for one or
    /// more tokens); otherwise the token-level edit similarity, in `[0, 1)`.
    pub score: f64,
}

/// A token symbol whose equality lets a variable match any token, for edit distance.
#[derive(Clone, Copy)]
struct Sym(u32);

impl PartialEq for Sym {
    fn eq(&self, other: &Sym) -> bool {
        self.0 == other.0 || self.0 == VAR || other.0 == VAR
    }
}

/// A template or message as edit-distance elements, without copying.
struct Syms<'a>(&'a [u32]);

impl<'a> IntoIterator for &Syms<'a> {
    type Item = Sym;
    type IntoIter = std::iter::Map<std::iter::Copied<std::slice::Iter<'a, u32>>, fn(u32) -> Sym>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter().copied().map(Sym as fn(u32) -> Sym)
    }
}

impl TemplateMatcher {
    /// Prepares `templates` (strings as produced by [`super::Miner`], e.g. read from the
    /// store). Messages that match none exactly fall back to the most similar template
    /// with a similarity of at least 0.7.
    pub fn new<I, S>(templates: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut masker = Masker::default();
        let mut interner = Interner::default();
        let templates = templates
            .into_iter()
            .map(|t| Seq::parse(&mut masker, &mut interner, t.as_ref()).syms)
            .collect();
        TemplateMatcher {
            interner,
            templates,
            min_similarity: 0.7,
        }
    }

    /// Sets the least similarity for a fallback match; 1.0 allows exact matches only.
    pub fn with_min_similarity(mut self, min: f64) -> Self {
        self.min_similarity = min;
        self
    }

    pub fn len(&self) -> usize {
        self.templates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.templates.is_empty()
    }

    /// The best template for `msg`: among exact matches the one with most constant tokens
    /// (the most specific), else the most similar one above the threshold. Ties go to the
    /// earlier template.
    pub fn best_match(&self, msg: &str) -> Option<TemplateMatch> {
        let seq = Seq::lookup(&mut Masker::default(), &self.interner, msg);
        let mut exact: Option<(usize, usize)> = None;
        for (i, t) in self.templates.iter().enumerate() {
            if t.len() > seq.len() || exact.is_some_and(|(_, c)| t.len() <= c) {
                continue;
            }
            // `glob` is the cheap test; the stricter one keeps a variable from swallowing
            // other variables along with constants.
            if glob(t, &seq) && glob_free_text(t, &seq) {
                let consts = t.iter().filter(|&&s| s != VAR).count();
                if exact.is_none_or(|(_, c)| consts > c) {
                    exact = Some((i, consts));
                }
            }
        }
        if let Some((index, _)) = exact {
            return Some(TemplateMatch { index, score: 1.0 });
        }
        let mut best: Option<TemplateMatch> = None;
        for (i, t) in self.templates.iter().enumerate() {
            let longest = t.len().max(seq.len());
            if longest == 0 {
                continue;
            }
            // The edit distance is at least the difference in length.
            let bound = 1.0 - t.len().abs_diff(seq.len()) as f64 / longest as f64;
            let floor = best.map_or(self.min_similarity, |b| b.score.max(self.min_similarity));
            if bound < floor || (bound == floor && best.is_some()) {
                continue;
            }
            let d = strsim::generic_levenshtein(&Syms(t), &Syms(&seq));
            let score = (1.0 - d as f64 / longest as f64).min(0.999);
            if score >= floor && best.is_none_or(|b| score > b.score) {
                best = Some(TemplateMatch { index: i, score });
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matcher() -> TemplateMatcher {
        TemplateMatcher::new([
            "Invalid user <*> from <*>",
            "Failed password for <*> from <*> port <*>",
            "Failed password for invalid user <*> from <*> port <*>",
            "RabbitMQ接続エラー: <*> への接続が<*>秒でタイムアウトしました",
        ])
    }

    #[test]
    fn exact_match_prefers_the_most_specific() {
        let m = matcher();
        let hit = m.best_match("Failed password for invalid user bob from 1.2.3.4 port 22");
        assert_eq!(
            hit,
            Some(TemplateMatch {
                index: 2,
                score: 1.0
            })
        );
        let hit = m.best_match("Failed password for root from 1.2.3.4 port 22");
        assert_eq!(
            hit,
            Some(TemplateMatch {
                index: 1,
                score: 1.0
            })
        );
        let hit =
            m.best_match("RabbitMQ接続エラー: 10.0.0.9:5672 への接続が10秒でタイムアウトしました");
        assert_eq!(hit.map(|h| h.index), Some(3));
    }

    #[test]
    fn variable_spans_several_words() {
        let m = TemplateMatcher::new(["Resolved <*> to <*>"]);
        assert_eq!(
            m.best_match("Resolved my host to /rack").map(|h| h.index),
            Some(0)
        );
    }

    #[test]
    fn similar_message_falls_back_below_one() {
        let m = matcher();
        let hit = m
            .best_match("Invalid user bob from 1.2.3.4 via ssh")
            .expect("similar");
        assert_eq!(hit.index, 0);
        assert!(hit.score < 1.0 && hit.score >= 0.7, "{hit:?}");
        assert_eq!(
            m.clone_strict()
                .best_match("Invalid user bob from 1.2.3.4 via ssh"),
            None
        );
    }

    #[test]
    fn unrelated_message_has_no_match() {
        assert_eq!(matcher().best_match("disk full on /var"), None);
        assert_eq!(
            TemplateMatcher::new(Vec::<String>::new()).best_match("x"),
            None
        );
    }

    #[test]
    fn thousands_of_templates_are_fast() {
        let name = |mut i: usize| {
            let mut s = String::new();
            loop {
                s.push(char::from(b'a' + (i % 26) as u8));
                i /= 26;
                if i == 0 {
                    return s;
                }
            }
        };
        let templates: Vec<String> = (0..5000)
            .map(|i| {
                format!(
                    "service {} event {} failed on <*> after <*> retries",
                    name(i % 97),
                    name(i)
                )
            })
            .collect();
        let m = TemplateMatcher::new(&templates);
        let start = std::time::Instant::now();
        let msg = format!(
            "service {} event {} failed on db-1 after 3 retries",
            name(4950 % 97),
            name(4950)
        );
        let hit = m.best_match(&msg);
        assert_eq!(hit.map(|h| h.index), Some(4950));
        let miss = m.best_match("something else entirely happened here today");
        assert!(miss.is_none());
        // Generous bound for debug builds on a shared machine; release is far below 5 ms.
        assert!(start.elapsed() < std::time::Duration::from_millis(500));
    }

    impl TemplateMatcher {
        fn clone_strict(&self) -> TemplateMatcher {
            let texts: Vec<String> = self
                .templates
                .iter()
                .map(|t| {
                    t.iter()
                        .map(|&s| self.interner.text(s))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            TemplateMatcher::new(texts).with_min_similarity(1.0)
        }
    }
}
