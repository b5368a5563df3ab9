//! Bounded corruption fuzzing: random byte damage to copies of a real database file, then
//! every command on each copy. A damaged file must give exit code 0, 1 (with an `error:`
//! line) or, for `check`, 3 — never a panic (101); and where `check` finds no problem,
//! the export must equal the undamaged one (no silent corruption). The seed is printed; set
//! `INCIDENT_FUZZ_SEED` to replay a run and `INCIDENT_FUZZ_COPIES` to change its size.

#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::Env;

/// xorshift64*: enough randomness for damage, and replayable from a printed seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// Writes a copy of `src` to `dst` with a few bytes flipped, or a short run overwritten.
fn damage(src: &[u8], dst: &Path, rng: &mut Rng) {
    let mut bytes = src.to_vec();
    let len = bytes.len() as u64;
    if rng.below(4) == 0 {
        let at = rng.below(len) as usize;
        let n = (1 + rng.below(64) as usize).min(bytes.len() - at);
        for b in &mut bytes[at..at + n] {
            *b = rng.next() as u8;
        }
    } else {
        for _ in 0..1 + rng.below(8) {
            let at = rng.below(len) as usize;
            bytes[at] ^= 1 << rng.below(8);
        }
    }
    std::fs::write(dst, bytes).unwrap();
}

const COMMANDS: &[&[&str]] = &[
    &["check"],
    &["list", "--all", "--format", "json"],
    &["show", "INC-20250101-0003"],
    &["export", "--format", "jsonl"],
    &["report", "--format", "json"],
    &["stats"],
    &["check", "--repair"],
];

#[test]
fn damaged_files_never_panic() {
    let seed = std::env::var("INCIDENT_FUZZ_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
                | 1
        });
    let copies: usize = std::env::var("INCIDENT_FUZZ_COPIES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    eprintln!("corruption fuzz: seed {seed} (INCIDENT_FUZZ_SEED={seed} replays), {copies} copies");
    let mut rng = Rng(seed);

    let env = Env::redb();
    let h = env.write("h.json", &common::history_json(40, 300));
    env.ok(&["import", h.to_str().unwrap()]);
    env.ok(&[
        "resolve",
        "INC-20250101-0002",
        "--actions",
        "restart",
        "--root-cause",
        "x",
    ]);
    let pristine = std::fs::read(env.db()).unwrap();
    let pristine_export = env.ok(&["export", "--format", "jsonl"]);
    let original_db = env.db();
    let start = Instant::now();
    let mut failures = Vec::new();
    let mut samples = Vec::new();
    let mut outcomes = std::collections::BTreeMap::<String, u32>::new();
    for copy in 0..copies {
        if start.elapsed() > Duration::from_secs(45) {
            eprintln!("corruption fuzz: time budget reached after {copy} copies");
            break;
        }
        let db = env.path(&format!("damaged-{copy}.redb"));
        damage(&pristine, &db, &mut rng);
        let mut check_clean = false;
        for args in COMMANDS {
            let out = env
                .cmd()
                .env("INCIDENT_DB", &db)
                .env("INCIDENT_BUSY_TIMEOUT_MS", "0")
                .args(*args)
                .output()
                .unwrap();
            let code = out.status.code();
            let stderr = String::from_utf8_lossy(&out.stderr);
            let allowed = match code {
                Some(0) => true,
                Some(1) => stderr.lines().any(|l| l.starts_with("error: ")),
                Some(3) => args[0] == "check",
                _ => false,
            };
            let panicked = stderr.contains("panicked");
            *outcomes
                .entry(format!("{} -> {:?}", args.join(" "), code))
                .or_default() += 1;
            if code == Some(1) && samples.len() < 12 {
                let first = stderr.lines().next().unwrap_or_default().to_string();
                let first = first.replace(db.to_str().unwrap(), "DB");
                if !samples
                    .iter()
                    .any(|s: &String| s[..s.len().min(40)] == first[..first.len().min(40)])
                {
                    samples.push(first);
                }
            }
            if *args == ["check"] {
                check_clean = code == Some(0);
            }
            // What check calls clean must read back exactly as it was written.
            if check_clean
                && args[0] == "export"
                && code == Some(0)
                && out.stdout != pristine_export.as_bytes()
            {
                failures.push(format!(
                    "copy {copy}: check found no problem but the export differs"
                ));
            }
            if !allowed || panicked {
                failures.push(format!(
                    "copy {copy}: incident {args:?} exited {code:?}: {}",
                    stderr.lines().take(3).collect::<Vec<_>>().join(" | ")
                ));
            }
        }
        let _ = std::fs::remove_file(&db);
    }
    drop(original_db);
    for (k, n) in &outcomes {
        eprintln!("  {k}: {n}");
    }
    for s in &samples {
        eprintln!("  sample: {s}");
    }
    assert!(
        failures.is_empty(),
        "seed {seed}: {} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
