//! Log pattern mining: mask the variable parts of messages, group them into templates,
//! and match new messages against stored templates.
//!
//! [`Miner::add`] masks a message in one hand-rolled pass (see [`mask`]) and interns the
//! masked text, so a stream costs one scan and one hash lookup per message. [`Miner::finish`]
//! then works on the distinct masked texts only, visited in a canonical order (count, then
//! text), so the result is the same for any order of the same lines:
//!
//! One principle decides what is a constant: a slot is a variable when the data shows it
//! varies where the rest of the message agrees.
//!
//! 1. Brain's longest common pattern: texts of one length are grouped by their tokens that
//!    are as frequent as most of their tokens, and a less frequent slot with at least
//!    [`MinerConfig::many_values`] values becomes a variable, however many other slots
//!    vary with it (`user <*> mounted share <*>`);
//! 2. a text joins a text of the same length that has a variable where it has one or two
//!    constants (`chdir(pwd)` joins `chdir(<*>)`);
//! 3. a slot where texts that agree everywhere else show many constants (at least
//!    [`MinerConfig::many_values`], or [`MinerConfig::min_values`] with a rare one or with
//!    only lower-case names) becomes a variable (user, table and channel names), while a
//!    few capitalised or upper-case words (`GET`, `POST`, `Paused`, `LOOKING`) and any two
//!    values stay apart, and so does the slot of a text with fewer than three other
//!    constant words (`cupsd startup succeeded`), unless all its values were made
//!    variables elsewhere (`eth0: link down`, `client web` beside `client mobile`), alone
//!    or fused to one suffix (`sshd.service`). Steps 2
//!    and 3 repeat to a fixed point (at most three rounds), so several few-valued slots of
//!    one message all become variables;
//! 4. optionally, Drain's similarity pass over a prefix tree of length and leading tokens
//!    ([`MinerConfig::similarity`], off by default);
//! 5. a template joins a shorter one whose variable spans a run of its constants
//!    (multi-word values);
//! 6. sets whose rendered templates read the same are joined.

mod cluster;
mod lex;
mod mask;
mod matcher;

use std::hash::Hasher;

use serde::Serialize;

pub use lex::tokenize;
pub use mask::mask;
pub use matcher::{TemplateMatch, TemplateMatcher};

use mask::Masker;

/// Tuning of [`Miner`]. The default is meant for any log; there are no per-system settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[non_exhaustive]
pub struct MinerConfig {
    /// A slot where templates that agree everywhere else show at least this many distinct
    /// constants, one of them rare or all of them lower-case names, becomes a variable.
    pub min_values: usize,
    /// A constant seen in at most this many messages counts as rare for `min_values`.
    pub rare_count: usize,
    /// A slot with at least `min_values` lower-case names is variable even when none of
    /// them is rare (user, table and channel names); capitalised words need a rare one.
    pub lower_case_values: bool,
    /// A slot is variable when all its values (two or more) were made variable elsewhere,
    /// even in a text with too little context for `min_values`.
    pub known_values: bool,
    /// A slot with at least this many distinct constants becomes a variable whatever their
    /// counts.
    pub many_values: usize,
    /// Join a template into one with a variable where it has one or two constants.
    pub subsume: bool,
    /// Brain's longest common pattern: group templates of one length by their frequent
    /// tokens, and make a less frequent slot with at least `many_values` values variable,
    /// however many other slots vary with it.
    pub common_pattern: bool,
    /// Make a slot variable where templates that agree everywhere else show parameter-like
    /// values.
    pub distinct_values: bool,
    /// Merge templates that differ only in how many tokens a free-text variable spans.
    pub merge_variable_length: bool,
    /// Drain's similarity threshold: templates of the same length and leading tokens join
    /// when at least this share of their constant positions agree. 1.0 turns the pass off,
    /// which is the default: after masking, every threshold tried (0.7 to 0.9) joined
    /// distinct events (`"GET ..."` and `"POST ..."`) more often than it helped.
    pub similarity: f64,
    /// Leading tokens that must agree for the similarity pass to compare two templates.
    pub depth: usize,
}

impl Default for MinerConfig {
    fn default() -> Self {
        MinerConfig {
            min_values: 3,
            rare_count: 3,
            many_values: 6,
            lower_case_values: true,
            known_values: true,
            subsume: true,
            common_pattern: true,
            distinct_values: true,
            merge_variable_length: true,
            similarity: 1.0,
            depth: 2,
        }
    }
}

/// One group of messages.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MinedCluster {
    /// [`template_id`] of the template.
    pub id: String,
    /// The message with its variable parts replaced by `<*>`.
    pub template: String,
    /// Number of added messages in the group.
    pub count: usize,
}

/// Result of [`Miner::finish`].
#[derive(Clone, Debug, Default, Serialize)]
pub struct Mined {
    /// Clusters by descending count, ties by template text.
    pub clusters: Vec<MinedCluster>,
    /// Index into `clusters` for every added message, in the order they were added.
    pub assignments: Vec<usize>,
}

impl Mined {
    /// Cluster of the `i`-th added message (0-based).
    pub fn cluster_of(&self, i: usize) -> Option<&MinedCluster> {
        self.assignments.get(i).and_then(|&c| self.clusters.get(c))
    }
}

/// FNV-1a, 64 bit: a fixed, specified hash, identical on every platform, run and Rust
/// version, so stored pattern ids never change. (Maps use rustc-hash instead.)
#[derive(Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

pub(crate) type FastMap<K, V> = rustc_hash::FxHashMap<K, V>;
pub(crate) type FastSet<K> = rustc_hash::FxHashSet<K>;

/// Short stable id of a template: `P` and the 16 hex digits of its FNV-1a 64 hash (64 bits:
/// with 32, ten thousand templates would collide about once in a hundred analyses).
///
/// ```
/// # use incident::patterns::miner::template_id;
/// assert_eq!(template_id("disk <*> full"), template_id("disk <*> full"));
/// assert_eq!(template_id("").len(), 17);
/// ```
pub fn template_id(template: &str) -> String {
    let mut h = Fnv::default();
    h.write(template.as_bytes());
    format!("P{:016x}", h.finish())
}

/// Online template miner; see the module documentation.
pub struct Miner {
    cfg: MinerConfig,
    masker: Masker,
    buf: String,
    index: FastMap<Box<str>, u32>,
    keys: Vec<Box<str>>,
    counts: Vec<usize>,
    assignments: Vec<u32>,
}

impl Miner {
    pub fn new(cfg: MinerConfig) -> Self {
        Miner {
            cfg,
            masker: Masker::default(),
            buf: String::new(),
            index: FastMap::default(),
            keys: Vec::new(),
            counts: Vec::new(),
            assignments: Vec::new(),
        }
    }

    /// Adds one message and returns its provisional group: the index of its masked form
    /// among the distinct masked forms seen so far. [`Miner::finish`] may merge groups.
    pub fn add(&mut self, msg: &str) -> usize {
        self.masker.run(msg);
        self.buf.clear();
        self.masker.render(msg, &mut self.buf);
        let k = match self.index.get(self.buf.as_str()) {
            Some(&k) => k,
            None => {
                let k = self.keys.len() as u32;
                let key: Box<str> = self.buf.as_str().into();
                self.index.insert(key.clone(), k);
                self.keys.push(key);
                self.counts.push(0);
                k
            }
        };
        self.counts[k as usize] += 1;
        self.assignments.push(k);
        k as usize
    }

    /// Number of messages added so far.
    pub fn len(&self) -> usize {
        self.assignments.len()
    }

    pub fn is_empty(&self) -> bool {
        self.assignments.is_empty()
    }

    /// Groups the distinct masked messages and assigns every added message its cluster.
    pub fn finish(self) -> Mined {
        let Miner {
            cfg,
            index,
            keys,
            counts,
            assignments,
            ..
        } = self;
        // The lookup table is not needed any more; free it before clustering.
        drop(index);
        let (clusters, key_cluster) = cluster::cluster(&cfg, &keys, &counts);
        let assignments = assignments
            .iter()
            .map(|&k| key_cluster[k as usize])
            .collect();
        Mined {
            clusters,
            assignments,
        }
    }
}

impl Default for Miner {
    fn default() -> Self {
        Miner::new(MinerConfig::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mine(lines: &[&str]) -> Mined {
        let mut m = Miner::default();
        for l in lines {
            m.add(l);
        }
        m.finish()
    }

    /// Template of every line, so that results can be compared across input orders.
    fn by_line(lines: &[&str], mined: &Mined) -> std::collections::BTreeMap<String, String> {
        lines
            .iter()
            .enumerate()
            .map(|(i, l)| {
                (
                    l.to_string(),
                    mined.clusters[mined.assignments[i]].template.clone(),
                )
            })
            .collect()
    }

    const LOG: &[&str] = &[
        "PacketResponder 1 for block blk_38865049064139660 terminating",
        "PacketResponder 0 for block blk_-6952295868487656571 terminating",
        "Invalid user admin from 10.0.0.1",
        "Invalid user oracle from 10.0.0.2",
        "Invalid user test from 10.0.0.3",
        "10.11.10.1 \"GET /v2/54fa/servers/detail HTTP/1.1\" status: 200 len: 1893 time: 0.24",
        "10.11.10.1 \"GET /v2/54fa/servers/detail HTTP/1.1\" status: 200 len: 1893 time: 0.25",
        "10.11.10.1 \"POST /v2/e974/os-server-external-events HTTP/1.1\" status: 200 len: 380 time: 0.09",
        "Link error",
        "Link ok",
        "normal",
        "warning",
        "ciod: LOGIN chdir(/p/gb2/glosli) failed: No such file or directory",
        "ciod: LOGIN chdir(pwd) failed: No such file or directory",
        "RabbitMQ接続エラー: 10.0.0.3:5672 への接続が30秒でタイムアウトしました",
        "RabbitMQ接続エラー: 10.0.0.4:5672 への接続が5秒でタイムアウトしました",
    ];

    #[test]
    fn groups_a_small_log() {
        let mined = mine(LOG);
        let t = by_line(LOG, &mined);
        assert_eq!(t[LOG[0]], "PacketResponder <*> for block <*> terminating");
        assert_eq!(t[LOG[0]], t[LOG[1]]);
        assert_eq!(t[LOG[2]], "Invalid user <*> from <*>");
        assert_eq!(t[LOG[2]], t[LOG[4]]);
        assert_ne!(t[LOG[5]], t[LOG[7]], "GET and POST are different events");
        assert_eq!(t[LOG[5]], t[LOG[6]]);
        assert_ne!(t[LOG[8]], t[LOG[9]]);
        assert_ne!(t[LOG[10]], t[LOG[11]]);
        assert_eq!(
            t[LOG[12]],
            "ciod: LOGIN chdir(<*>) failed: No such file or directory"
        );
        assert_eq!(t[LOG[12]], t[LOG[13]]);
        assert_eq!(
            t[LOG[14]],
            "RabbitMQ接続エラー: <*> への接続が<*>秒でタイムアウトしました"
        );
        assert_eq!(t[LOG[14]], t[LOG[15]]);
        assert_eq!(
            mined.clusters.iter().map(|c| c.count).sum::<usize>(),
            LOG.len()
        );
    }

    #[test]
    fn same_input_same_output() {
        let a = mine(LOG);
        let b = mine(LOG);
        assert_eq!(a.clusters, b.clusters);
        assert_eq!(a.assignments, b.assignments);
    }

    #[test]
    fn input_order_does_not_matter() {
        let forward = mine(LOG);
        let reversed: Vec<&str> = LOG.iter().rev().copied().collect();
        let backward = mine(&reversed);
        let mut rotated: Vec<&str> = LOG.to_vec();
        rotated.rotate_left(5);
        let rotated_mined = mine(&rotated);
        assert_eq!(forward.clusters, backward.clusters);
        assert_eq!(forward.clusters, rotated_mined.clusters);
        assert_eq!(by_line(LOG, &forward), by_line(&reversed, &backward));
        assert_eq!(by_line(LOG, &forward), by_line(&rotated, &rotated_mined));
    }

    #[test]
    fn clusters_are_sorted_and_ids_unique() {
        let mined = mine(LOG);
        for w in mined.clusters.windows(2) {
            assert!(
                (w[0].count, &w[1].template) > (w[1].count, &w[0].template),
                "{w:?} out of order"
            );
        }
        let ids: std::collections::BTreeSet<&str> =
            mined.clusters.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(ids.len(), mined.clusters.len());
        for c in &mined.clusters {
            assert_eq!(c.id, template_id(&c.template));
        }
    }

    #[test]
    fn provisional_ids_follow_masked_text() {
        let mut m = Miner::default();
        assert_eq!(m.add("took 5 ms"), 0);
        assert_eq!(m.add("took 7 ms"), 0);
        assert_eq!(m.add("done"), 1);
        assert_eq!(m.len(), 3);
        let mined = m.finish();
        assert_eq!(
            mined.cluster_of(1).map(|c| c.template.as_str()),
            Some("took <*> ms")
        );
        assert_eq!(mined.cluster_of(3), None);
    }

    #[test]
    fn empty_input_and_empty_lines() {
        let mined = Miner::default().finish();
        assert!(mined.clusters.is_empty() && mined.assignments.is_empty());
        let mined = mine(&["", "   ", "x"]);
        assert_eq!(mined.assignments.len(), 3);
        assert_eq!(mined.assignments[0], mined.assignments[1]);
    }

    #[test]
    fn many_values_in_one_slot_become_a_variable() {
        let lines: Vec<String> = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta"]
            .iter()
            .flat_map(|u| std::iter::repeat_n(format!("session opened for user {u} by cron"), 10))
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        let mined = mine(&refs);
        assert_eq!(mined.clusters.len(), 1);
        assert_eq!(
            mined.clusters[0].template,
            "session opened for user <*> by cron"
        );
    }

    fn templates(lines: &[String]) -> Vec<String> {
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        mine(&refs)
            .clusters
            .into_iter()
            .map(|c| c.template)
            .collect()
    }

    #[test]
    fn a_few_frequent_lower_case_names_are_a_variable() {
        let lines: Vec<String> = [("cyrus", 40), ("news", 25), ("test", 10)]
            .iter()
            .flat_map(|&(u, n)| {
                std::iter::repeat_n(format!("session opened for user {u} by cron"), n)
            })
            .collect();
        assert_eq!(templates(&lines), ["session opened for user <*> by cron"]);
    }

    #[test]
    fn two_few_valued_slots_both_become_variables() {
        let mut lines = Vec::new();
        for (t, table) in ["orders", "users", "invoices"].iter().enumerate() {
            for (u, user) in ["app", "etl", "readonly"].iter().enumerate() {
                for _ in 0..(5 + t * 3 + u) {
                    lines.push(format!("deadlock detected on table {table} as {user}"));
                }
            }
        }
        assert_eq!(templates(&lines), ["deadlock detected on table <*> as <*>"]);
    }

    #[test]
    fn values_seen_elsewhere_are_values_in_short_messages() {
        let mut lines = Vec::new();
        for (i, iface) in ["eth0", "eth1", "wlan0"].iter().enumerate() {
            for _ in 0..5 + i {
                lines.push(format!("dropped packets from a bad peer on {iface}"));
                lines.push(format!("{iface}: link down"));
                lines.push(format!("unit {iface}.service started"));
            }
        }
        let mut t = templates(&lines);
        t.sort();
        assert_eq!(
            t,
            [
                "<*>: link down",
                "dropped packets from a bad peer on <*>",
                "unit <*> started"
            ]
        );
        // Two values in a long message join once both were values elsewhere.
        let mut lines = Vec::new();
        for c in ["web", "mobile", "batch"] {
            lines.push(format!("worker {c} ran out of memory in the image pool"));
        }
        for c in ["web", "mobile"] {
            lines.push(format!("token for client {c} expired long ago"));
            lines.push(format!("\"GET /\" from client {c} took too long"));
            lines.push(format!("\"POST /\" from client {c} took too long"));
        }
        let mut t = templates(&lines);
        t.sort();
        assert_eq!(
            t,
            [
                "\"GET /\" from client <*> took too long",
                "\"POST /\" from client <*> took too long",
                "token for client <*> expired long ago",
                "worker <*> ran out of memory in the image pool"
            ]
        );
        // Never seen as values: the word names the event.
        let lines: Vec<String> = ["cupsd", "hcid", "klogd"]
            .iter()
            .map(|d| format!("{d}: link down"))
            .collect();
        assert_eq!(templates(&lines).len(), 3);
    }

    #[test]
    fn many_names_in_two_slots_at_once_are_variables() {
        let names = [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
        ];
        let mut lines = Vec::new();
        for (i, a) in names.iter().enumerate() {
            let b = names[(i * 3 + 1) % names.len()];
            lines.push(format!(
                "user {a} mounted share {b} from the office network"
            ));
            lines.push(format!(
                "user {a} unmounted share {b} from the office network"
            ));
        }
        let mut t = templates(&lines);
        t.sort();
        assert_eq!(
            t,
            [
                "user <*> mounted share <*> from the office network",
                "user <*> unmounted share <*> from the office network"
            ]
        );
    }

    #[test]
    fn capitalised_states_stay_apart() {
        let lines: Vec<String> = [("Paused", 22), ("Resumed", 44), ("Started", 22)]
            .iter()
            .flat_map(|&(s, n)| {
                std::iter::repeat_n(format!("[instance: 42] VM {s} (Lifecycle Event)"), n)
            })
            .collect();
        assert_eq!(templates(&lines).len(), 3);
    }

    /// Regression: an error raised from ten files was ten patterns.
    #[test]
    fn an_error_from_several_files_is_one_problem() {
        let mut lines = Vec::new();
        for f in "abcdefghij".chars() {
            lines.push(format!(
                "KeyError in workers/{f}.py — 'key_{f}'が見つかりません"
            ));
            lines.push(format!(
                "KeyError in workers/{f}.py — 'user_id' が見つかりません"
            ));
            lines.push(format!(
                "ConnectionError in workers/{f}.py — Connection refused"
            ));
            lines.push(format!(
                "psycopg2.OperationalError in libs/{f}.py — could not connect"
            ));
        }
        let mut t = templates(&lines);
        t.sort();
        assert_eq!(
            t,
            [
                "ConnectionError in <*> — Connection refused",
                "KeyError in <*> — '<*>' が見つかりません",
                "KeyError in <*> — '<*>'が見つかりません",
                "psycopg2.OperationalError in <*> — could not connect",
            ]
        );
    }

    #[test]
    fn short_messages_keep_their_subject() {
        // With two constant words left, the varying word names the event.
        let lines = [
            "cupsd startup succeeded",
            "hcid startup succeeded",
            "klogd startup succeeded",
            "sdpd startup succeeded",
        ];
        assert_eq!(mine(&lines).clusters.len(), 4);
        let users = [
            "session closed for user alice",
            "session closed for user bob",
            "session closed for user carol",
        ];
        assert_eq!(mine(&users).clusters.len(), 1);
    }

    #[test]
    fn a_few_upper_case_states_stay_apart() {
        let lines: Vec<String> = ["FOLLOWING", "LEADING", "LOOKING"]
            .iter()
            .map(|s| format!("Notification: 1 (n.leader), LOOKING (n.state), {s} (my state)"))
            .collect();
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        assert_eq!(mine(&refs).clusters.len(), 3);
        let names: Vec<String> = ["alpha", "beta", "gamma"]
            .iter()
            .map(|s| format!("Notification: 1 (n.leader), LOOKING (n.state), {s} (my state)"))
            .collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        assert_eq!(mine(&refs).clusters.len(), 1);
    }

    #[test]
    fn free_text_variable_of_any_length() {
        let mined = mine(&[
            "Lost connection to node-1 (reason: timeout)",
            "Lost connection to node-2 (reason: timeout)",
            "Lost connection to backup server primary (reason: timeout)",
        ]);
        assert_eq!(mined.clusters.len(), 1, "{:?}", mined.clusters);
    }

    #[test]
    fn similarity_pass_joins_near_identical_templates() {
        let lines = [
            "worker started alpha job now",
            "worker started beta job now",
        ];
        assert_eq!(
            mine(&lines).clusters.len(),
            2,
            "two values stay apart by default"
        );
        let cfg = MinerConfig {
            similarity: 0.6,
            ..MinerConfig::default()
        };
        let mut m = Miner::new(cfg);
        for l in lines {
            m.add(l);
        }
        let mined = m.finish();
        assert_eq!(mined.clusters.len(), 1, "{:?}", mined.clusters);
        assert_eq!(mined.clusters[0].template, "worker started <*> job now");
    }

    #[test]
    fn template_id_is_fixed() {
        // FNV-1a 64 of the bytes; a change here changes every stored id.
        assert_eq!(template_id(""), "Pcbf29ce484222325");
        assert_eq!(template_id("a"), "Paf63dc4c8601ec8c");
        assert_eq!(template_id("disk <*> full"), template_id("disk <*> full"));
        assert_ne!(template_id("disk <*> full"), template_id("disk <*> empty"));
        assert_eq!(template_id("a").len(), 17);
    }
}
