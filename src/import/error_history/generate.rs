//! A deterministic generator of realistic error histories, for tests and benchmarks.
//!
//! Output is the document shape the original tool wrote (Python's
//! `json.dump(indent=2, ensure_ascii=False)`): `metadata`, then `error_history`,
//! then `pattern_statistics`, the two summaries consistent with the records.
//! The same `(n, seed, share)` gives the same bytes on every platform: all
//! randomness comes from ChaCha8 and times are written in UTC.
//!
//! [`GenerateOptions::extended`] adds problems that are hard to group: error types with
//! digits raised from several files, and variables with few values (a database user, a
//! table, a bucket). [`generate_with`] can also write each record's ground-truth problem,
//! so a miner can be measured against it.

use std::collections::BTreeMap;
use std::io::{self, Write};

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{IncidentId, Timestamp};

/// 2025-01-06T00:00:00Z, a Monday.
const START_MICROS: i64 = 1_736_121_600_000_000;
/// About six months.
const SPAN_MICROS: i64 = 182 * 86_400 * 1_000_000;

const WORKERS: &[&str] = &[
    "workers/pm_worker.py",
    "workers/notification_worker.py",
    "workers/report_worker.py",
    "workers/sync_worker.py",
    "workers/cleanup_worker.py",
    "workers/metrics_worker.py",
    "workers/ingest_worker.py",
    "workers/retry_worker.py",
    "workers/scheduler.py",
    "workers/email_worker.py",
];

/// The message of a kind; its name is the kind's ground-truth problem id.
#[derive(Clone, Copy, Debug)]
enum Msg {
    RabbitRefused,
    RabbitTimeoutJa,
    Module,
    Import,
    Permission,
    Slack429Ja,
    SlackHttp,
    TooManyConnections,
    Deadlock,
    RedisTimeout,
    Key,
    Type,
    Value,
    Attribute,
    ConfigJa,
    Memory,
    Fatal,
    CrashJa,
    DiskJa,
    PerfJa,
    Auth,
    DbAuth,
    UndefinedTable,
    S3Upload,
}

/// One kind of error: how it reads, where it happens, how it is fixed.
struct Kind {
    error_type: &'static str,
    msg: Msg,
    /// The library file that usually raises it; otherwise a worker does.
    lib: &'static str,
    pattern: Option<u8>,
    fix: Fix,
    weight: u32,
    /// Chance in percent that the fix worked.
    success: u32,
}

#[derive(Clone, Copy)]
enum Fix {
    Text(&'static str),
    Chmod,
    RestartWorker,
    Concurrency,
}

const KINDS: &[Kind] = &[
    Kind {
        error_type: "ConnectionRefusedError",
        msg: Msg::RabbitRefused,
        lib: "libs/rabbitmq_client.py",
        pattern: Some(1),
        fix: Fix::Text("systemctl restart rabbitmq-server"),
        weight: 12,
        success: 85,
    },
    Kind {
        error_type: "ConnectionError",
        msg: Msg::RabbitTimeoutJa,
        lib: "libs/rabbitmq_client.py",
        pattern: Some(1),
        fix: Fix::Text("systemctl restart rabbitmq-server"),
        weight: 8,
        success: 80,
    },
    Kind {
        error_type: "ModuleNotFoundError",
        msg: Msg::Module,
        lib: "libs/config_loader.py",
        pattern: Some(2),
        fix: Fix::Text("pip install -r requirements.txt"),
        weight: 7,
        success: 95,
    },
    Kind {
        error_type: "ImportError",
        msg: Msg::Import,
        lib: "libs/http_client.py",
        pattern: Some(2),
        fix: Fix::Text("pip install -r requirements.txt"),
        weight: 3,
        success: 75,
    },
    Kind {
        error_type: "PermissionError",
        msg: Msg::Permission,
        lib: "libs/file_utils.py",
        pattern: Some(3),
        fix: Fix::Chmod,
        weight: 6,
        success: 90,
    },
    Kind {
        error_type: "SlackNotificationError",
        msg: Msg::Slack429Ja,
        lib: "libs/slack_notifier.py",
        pattern: Some(4),
        fix: Fix::Text("リトライ間隔を60秒に延長 (exponential backoff)"),
        weight: 7,
        success: 70,
    },
    Kind {
        error_type: "requests.exceptions.HTTPError",
        msg: Msg::SlackHttp,
        lib: "libs/slack_notifier.py",
        pattern: Some(4),
        fix: Fix::Text("retry with exponential backoff (max 5 attempts)"),
        weight: 4,
        success: 65,
    },
    Kind {
        error_type: "psycopg2.OperationalError",
        msg: Msg::TooManyConnections,
        lib: "libs/db.py",
        pattern: Some(5),
        fix: Fix::Text("systemctl restart pgbouncer"),
        weight: 5,
        success: 80,
    },
    Kind {
        error_type: "psycopg2.errors.DeadlockDetected",
        msg: Msg::Deadlock,
        lib: "libs/db.py",
        pattern: Some(6),
        fix: Fix::Text("retry transaction with SET lock_timeout = '5s'"),
        weight: 3,
        success: 60,
    },
    Kind {
        error_type: "TimeoutError",
        msg: Msg::RedisTimeout,
        lib: "libs/redis_cache.py",
        pattern: Some(7),
        fix: Fix::Text("systemctl restart redis-server"),
        weight: 6,
        success: 80,
    },
    Kind {
        error_type: "KeyError",
        msg: Msg::Key,
        lib: "libs/metrics.py",
        pattern: Some(8),
        fix: Fix::Text("hotfix: validate payload keys before processing"),
        weight: 6,
        success: 55,
    },
    Kind {
        error_type: "TypeError",
        msg: Msg::Type,
        lib: "libs/metrics.py",
        pattern: Some(8),
        fix: Fix::Text("hotfix: add None check"),
        weight: 5,
        success: 55,
    },
    Kind {
        error_type: "ValueError",
        msg: Msg::Value,
        lib: "libs/config_loader.py",
        pattern: Some(8),
        fix: Fix::Text("hotfix: validate input format"),
        weight: 4,
        success: 55,
    },
    Kind {
        error_type: "AttributeError",
        msg: Msg::Attribute,
        lib: "libs/auth.py",
        pattern: Some(8),
        fix: Fix::Text("hotfix: add None check"),
        weight: 3,
        success: 50,
    },
    Kind {
        error_type: "ConfigLoadError",
        msg: Msg::ConfigJa,
        lib: "libs/config_loader.py",
        pattern: Some(9),
        fix: Fix::Text("git checkout -- config/settings.yaml"),
        weight: 3,
        success: 90,
    },
    Kind {
        error_type: "MemoryError",
        msg: Msg::Memory,
        lib: "libs/metrics.py",
        pattern: Some(10),
        fix: Fix::RestartWorker,
        weight: 2,
        success: 70,
    },
    Kind {
        error_type: "FatalError",
        msg: Msg::Fatal,
        lib: "libs/logging_setup.py",
        pattern: Some(10),
        fix: Fix::RestartWorker,
        weight: 1,
        success: 70,
    },
    Kind {
        error_type: "WorkerCrashError",
        msg: Msg::CrashJa,
        lib: "libs/rabbitmq_client.py",
        pattern: Some(10),
        fix: Fix::RestartWorker,
        weight: 2,
        success: 75,
    },
    Kind {
        error_type: "CriticalDiskError",
        msg: Msg::DiskJa,
        lib: "libs/file_utils.py",
        pattern: None,
        fix: Fix::Text("journalctl --vacuum-size=500M && rm -rf /tmp/app-cache/*"),
        weight: 1,
        success: 60,
    },
    Kind {
        error_type: "PerformanceWarning",
        msg: Msg::PerfJa,
        lib: "libs/metrics.py",
        pattern: Some(11),
        fix: Fix::Concurrency,
        weight: 8,
        success: 60,
    },
    Kind {
        error_type: "AuthenticationError",
        msg: Msg::Auth,
        lib: "libs/auth.py",
        pattern: None,
        fix: Fix::Text("rotate API token in /etc/app/secrets.env"),
        weight: 2,
        success: 60,
    },
];

/// Drawn only with [`GenerateOptions::extended`], so the default output stays as it was.
const EXTRA_KINDS: &[Kind] = &[
    Kind {
        error_type: "psycopg2.OperationalError",
        msg: Msg::DbAuth,
        lib: "libs/db.py",
        pattern: Some(12),
        fix: Fix::Text("DBユーザーのパスワードを再設定"),
        weight: 4,
        success: 85,
    },
    Kind {
        error_type: "psycopg2.errors.UndefinedTable",
        msg: Msg::UndefinedTable,
        lib: "libs/db.py",
        pattern: Some(13),
        fix: Fix::Text("マイグレーションを適用 (alembic upgrade head)"),
        weight: 3,
        success: 90,
    },
    Kind {
        error_type: "boto3.exceptions.S3UploadFailedError",
        msg: Msg::S3Upload,
        lib: "libs/storage.py",
        pattern: Some(14),
        fix: Fix::Text("systemctl restart s3-uploader"),
        weight: 3,
        success: 80,
    },
];

const DB_USERS: &[&str] = &["pm_app", "report_ro", "batch_rw"];
const TABLES: &[&str] = &["tasks", "task_logs", "projects"];
const BUCKETS: &[&str] = &["pm-exports", "pm-archive"];

const MODULES: &[&str] = &[
    "pika",
    "psycopg2",
    "redis",
    "requests",
    "yaml",
    "slack_sdk",
    "pydantic",
    "dateutil",
];
const CHANNELS: &[&str] = &[
    "#ops-alerts",
    "#incident",
    "#pm-notify",
    "#dev-errors",
    "#batch-report",
];
const KEYS: &[&str] = &[
    "user_id",
    "task_id",
    "channel",
    "project_id",
    "retry_count",
    "payload",
    "created_at",
];
const ATTRS: &[&str] = &["get", "items", "strip", "id", "channel_id", "send"];
const LOGS: &[&str] = &["worker", "notification", "report", "sync", "audit"];

/// One record's random choices, drawn in a fixed order so that the summary pass
/// and the writing pass see the same records.
struct Draw {
    micros: i64,
    kind: &'static Kind,
    file: &'static str,
    vars: [u32; 3],
    pattern: Option<u8>,
    success: bool,
    pending: bool,
    resolved_after: Option<i64>,
    incident: Option<IncidentId>,
}

struct Drawer {
    rng: ChaCha8Rng,
    kinds: Vec<&'static Kind>,
    micros: i64,
    mean_gap: i64,
    total_weight: u32,
    migrated_share: f64,
    /// Per-day sequence of ids already assigned: (date, last seq).
    day: (u32, u32),
}

impl Drawer {
    fn new(n: usize, seed: u64, migrated_share: f64, extended: bool) -> Self {
        let extra: &[Kind] = if extended { EXTRA_KINDS } else { &[] };
        let kinds: Vec<&'static Kind> = KINDS.iter().chain(extra).collect();
        Self {
            rng: ChaCha8Rng::seed_from_u64(seed),
            micros: START_MICROS,
            mean_gap: (SPAN_MICROS / (n.max(1) as i64)).max(2),
            total_weight: kinds.iter().map(|k| k.weight).sum(),
            kinds,
            migrated_share: migrated_share.clamp(0.0, 1.0),
            day: (0, 0),
        }
    }

    fn draw(&mut self) -> Draw {
        let rng = &mut self.rng;
        // Strictly increasing times keep every record distinct.
        self.micros += rng.random_range(1..=2 * self.mean_gap as u64) as i64;
        let mut pick = rng.random_range(0..self.total_weight);
        let kind = self
            .kinds
            .iter()
            .copied()
            .find(|k| {
                let hit = pick < k.weight;
                pick = pick.saturating_sub(k.weight);
                hit
            })
            .unwrap_or(&KINDS[0]);
        let file = if rng.random_range(0..100u32) < 60 {
            kind.lib
        } else {
            WORKERS[rng.random_range(0..WORKERS.len() as u32) as usize]
        };
        let vars = [
            rng.random::<u32>(),
            rng.random::<u32>(),
            rng.random::<u32>(),
        ];
        let unmatched = rng.random_range(0..100u32) < 4;
        let pattern = if unmatched { None } else { kind.pattern };
        let chance = if pattern.is_some() {
            kind.success
        } else {
            kind.success / 2
        };
        let success = rng.random_range(0..100u32) < chance;
        let pending = !success && rng.random_range(0..100u32) < 80;
        let resolved_after = (success && rng.random_range(0..100u32) < 20)
            .then(|| rng.random_range(30_000_000..7_200_000_000i64));
        let migrated = rng.random_bool(self.migrated_share);
        let incident = migrated.then(|| {
            let date = IncidentId::date_key(
                Timestamp::from_micros(self.micros)
                    .to_datetime()
                    .date_naive(),
            );
            if self.day.0 != date {
                self.day = (date, 0);
            }
            self.day.1 += 1;
            IncidentId::new(date, self.day.1)
        });
        Draw {
            micros: self.micros,
            kind,
            file,
            vars,
            pattern,
            success,
            pending,
            resolved_after,
            incident,
        }
    }
}

/// What [`generate_with`] writes.
#[derive(Clone, Debug, PartialEq)]
pub struct GenerateOptions {
    /// Number of error records.
    pub n: usize,
    pub seed: u64,
    /// Share (0..1, about 0.02 in practice) of records that already carry an
    /// `incident_id`, numbered per UTC day as the original tool would have.
    pub migrated_share: f64,
    /// Also draw the hard-to-group problems (see the module docs).
    pub extended: bool,
}

/// Writes a history of `n` errors to `out`. `migrated_share` (0..1, about 0.02
/// in practice) of them already carry an `incident_id`, numbered per UTC day as
/// the original tool would have, so all of them are distinct.
pub fn generate<W: Write>(n: usize, seed: u64, migrated_share: f64, out: W) -> io::Result<()> {
    let opts = GenerateOptions {
        n,
        seed,
        migrated_share,
        extended: false,
    };
    generate_with(&opts, out, None::<io::Sink>)
}

/// Writes the history `opts` describes to `out` and, with `truth`, one JSON line per
/// record naming its ground-truth problem:
/// `{"record":0,"problem":"RabbitRefused","error_type":"ConnectionRefusedError","file":"…"}`.
/// Records of one problem share a `problem`, whatever file raised them and whatever
/// values their message holds.
pub fn generate_with<W: Write, T: Write>(
    opts: &GenerateOptions,
    out: W,
    truth: Option<T>,
) -> io::Result<()> {
    let GenerateOptions {
        n,
        seed,
        migrated_share,
        extended,
    } = *opts;
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    let mut truth = truth.map(|t| io::BufWriter::with_capacity(1 << 16, t));
    let mut patterns: BTreeMap<u8, (u64, u64)> = BTreeMap::new();
    let mut resolved = 0u64;
    let mut last = START_MICROS;
    let mut drawer = Drawer::new(n, seed, migrated_share, extended);
    for _ in 0..n {
        let d = drawer.draw();
        resolved += u64::from(d.success);
        last = d.micros;
        if let Some(p) = d.pattern {
            let e = patterns.entry(p).or_default();
            e.0 += 1;
            e.1 += u64::from(d.success);
        }
    }

    let mut buf = Vec::with_capacity(1024);
    buf.extend_from_slice(
        b"{\n  \"metadata\": {\n    \"version\": \"1.0\",\n    \"last_updated\": \"",
    );
    push_time(&mut buf, last);
    buf.extend_from_slice(b"\",\n    \"total_errors\": ");
    push_u64(&mut buf, n as u64);
    buf.extend_from_slice(b",\n    \"resolved_errors\": ");
    push_u64(&mut buf, resolved);
    buf.extend_from_slice(b"\n  },\n  \"error_history\": [");
    out.write_all(&buf)?;

    let mut drawer = Drawer::new(n, seed, migrated_share, extended);
    for i in 0..n {
        buf.clear();
        if i > 0 {
            buf.push(b',');
        }
        let d = drawer.draw();
        write_record(&mut buf, &d);
        out.write_all(&buf)?;
        if let Some(t) = truth.as_mut() {
            let line = serde_json::json!({
                "record": i,
                "problem": format!("{:?}", d.kind.msg),
                "error_type": d.kind.error_type,
                "file": d.file,
            });
            writeln!(t, "{line}")?;
        }
    }
    if let Some(t) = truth.as_mut() {
        t.flush()?;
    }

    buf.clear();
    buf.extend_from_slice(if n > 0 { b"\n  ],\n" } else { b"],\n" });
    buf.extend_from_slice(b"  \"pattern_statistics\": {");
    for (i, (p, (count, ok))) in patterns.iter().enumerate() {
        buf.extend_from_slice(if i > 0 { b",\n    \"" } else { b"\n    \"" });
        buf.extend_from_slice(pattern_name(*p).as_bytes());
        buf.extend_from_slice(b"\": {\n      \"count\": ");
        push_u64(&mut buf, *count);
        let rate = (*ok as f64 * 1000.0 / *count as f64).round() / 10.0;
        buf.extend_from_slice(
            format!(",\n      \"resolution_rate\": {rate:.1}\n    }}").as_bytes(),
        );
    }
    buf.extend_from_slice(if patterns.is_empty() {
        b"}\n}\n"
    } else {
        b"\n  }\n}\n"
    });
    out.write_all(&buf)?;
    out.flush()
}

fn pattern_name(p: u8) -> String {
    format!("PATTERN_{p:03}")
}

fn write_record(buf: &mut Vec<u8>, d: &Draw) {
    let [a, b, c] = d.vars;
    buf.extend_from_slice(b"\n    {\n      \"timestamp\": \"");
    push_time(buf, d.micros);
    buf.extend_from_slice(b"\",\n      \"error_type\": ");
    push_str(buf, d.kind.error_type);
    buf.extend_from_slice(b",\n      \"file\": ");
    push_str(buf, d.file);
    buf.extend_from_slice(b",\n      \"error_message\": ");
    push_str(buf, &message(d.kind.msg, d.file, a, b, c));
    buf.extend_from_slice(b",\n      \"pattern_id\": ");
    match d.pattern {
        Some(p) => push_str(buf, &pattern_name(p)),
        None => buf.extend_from_slice(b"null"),
    }
    buf.extend_from_slice(b",\n      \"fix_applied\": ");
    if d.pending {
        push_str(buf, "pending");
    } else {
        push_str(buf, &fix(d.kind.fix, d.file, a));
    }
    buf.extend_from_slice(b",\n      \"success\": ");
    buf.extend_from_slice(if d.success { b"true" } else { b"false" });
    if let Some(after) = d.resolved_after {
        buf.extend_from_slice(b",\n      \"resolved_at\": \"");
        push_time(buf, d.micros + after);
        buf.push(b'"');
    }
    if let Some(id) = d.incident {
        buf.extend_from_slice(b",\n      \"incident_id\": ");
        push_str(buf, &id.to_string());
    }
    buf.extend_from_slice(b"\n    }");
}

fn pick<'a>(list: &[&'a str], v: u32) -> &'a str {
    list[v as usize % list.len()]
}

fn worker_name(file: &str) -> &str {
    file.rsplit('/')
        .next()
        .and_then(|f| f.strip_suffix(".py"))
        .unwrap_or("pm_worker")
}

fn message(msg: Msg, file: &str, a: u32, b: u32, c: u32) -> String {
    let host = 2 + a % 8;
    match msg {
        Msg::RabbitRefused => format!("[Errno 111] Connection refused to 10.0.0.{host}:5672"),
        Msg::RabbitTimeoutJa => format!(
            "RabbitMQ接続エラー: 10.0.0.{host}:5672 への接続が{}秒でタイムアウトしました",
            [10, 30, 60][b as usize % 3]
        ),
        Msg::Module => format!("No module named '{}'", pick(MODULES, a)),
        Msg::Import => format!(
            "cannot import name '{}' from 'libs.{}' (/opt/app/libs/{}.py)",
            pick(ATTRS, b),
            worker_name(file),
            worker_name(file)
        ),
        Msg::Permission => format!(
            "[Errno 13] Permission denied: '/var/log/app/{}.log'",
            pick(LOGS, a)
        ),
        Msg::Slack429Ja => format!(
            "Slack通知に失敗しました (チャンネル: {}, ステータス: 429)",
            pick(CHANNELS, a)
        ),
        Msg::SlackHttp => format!(
            "{} Server Error for url: https://hooks.slack.com/services/T0{:07X}/B0{:07X}",
            [500, 502, 503][b as usize % 3],
            a % 0x0FFF_FFFF,
            c % 0x0FFF_FFFF
        ),
        Msg::TooManyConnections => format!(
            "connection to server at \"10.0.1.{host}\", port 5432 failed: FATAL:  sorry, too many clients already ({} > max_connections=100)",
            100 + b % 20
        ),
        Msg::Deadlock => format!(
            "deadlock detected\nDETAIL:  Process {} waits for ShareLock on transaction {}; blocked by process {}.",
            1000 + a % 60000,
            100_000 + b % 900_000,
            1000 + c % 60000
        ),
        Msg::RedisTimeout => format!(
            "Timeout reading from 10.0.2.{host}:6379 after {}s",
            1 + b % 10
        ),
        Msg::Key => format!("'{}'", pick(KEYS, a)),
        Msg::Type => [
            "unsupported operand type(s) for +: 'int' and 'NoneType'",
            "'NoneType' object is not subscriptable",
            "expected str, bytes or os.PathLike object, not NoneType",
        ][a as usize % 3]
            .to_string(),
        Msg::Value => format!(
            "invalid literal for int() with base 10: \"{}\"",
            pick(KEYS, b)
        ),
        Msg::Attribute => format!("'NoneType' object has no attribute '{}'", pick(ATTRS, a)),
        Msg::ConfigJa => "設定ファイル config/settings.yaml の読み込みに失敗しました".to_string(),
        Msg::Memory => format!(
            "Unable to allocate {}.{} GiB for an array with shape ({}, 1024) and data type float64",
            1 + a % 8,
            b % 10,
            100_000 + c % 900_000
        ),
        Msg::Fatal => format!(
            "worker {} crashed with exit code 137 (OOM killed)",
            worker_name(file)
        ),
        Msg::CrashJa => format!(
            "ワーカープロセスが異常終了しました (PID: {}, シグナル: SIGKILL)",
            1000 + a % 60000
        ),
        Msg::DiskJa => format!(
            "ディスク使用率が{}%を超えました: /var/lib/postgresql",
            90 + a % 10
        ),
        Msg::PerfJa => format!(
            "処理時間が閾値を超過しました: {}.{}秒 (閾値 30秒)",
            31 + a % 90,
            b % 10
        ),
        Msg::Auth => format!(
            "Authentication failed for user 'svc_{}' (token expired)",
            worker_name(file)
        ),
        Msg::DbAuth => format!(
            "connection to server at \"10.0.1.{host}\", port 5432 failed: FATAL:  password authentication failed for user \"{}\"",
            pick(DB_USERS, b)
        ),
        Msg::UndefinedTable => format!(
            "relation \"{}\" does not exist\nLINE 1: SELECT * FROM {} WHERE id = {}",
            pick(TABLES, a),
            pick(TABLES, a),
            c % 100_000
        ),
        Msg::S3Upload => format!(
            "Failed to upload /tmp/export_{}.csv to {}/exports/{}.csv: An error occurred (SlowDown) when calling the PutObject operation",
            c % 1_000_000,
            pick(BUCKETS, b),
            c % 1_000_000
        ),
    }
}

fn fix(fix: Fix, file: &str, a: u32) -> String {
    match fix {
        Fix::Text(t) => t.to_string(),
        Fix::Chmod => format!("chmod 644 /var/log/app/{}.log", pick(LOGS, a)),
        Fix::RestartWorker => format!("systemctl restart {}", worker_name(file).replace('_', "-")),
        Fix::Concurrency => format!("ワーカー並列数を{}に増加", 2 + a % 7),
    }
}

/// A JSON string as Python writes it with `ensure_ascii=False`.
fn push_str(buf: &mut Vec<u8>, s: &str) {
    buf.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => buf.extend_from_slice(b"\\\""),
            b'\\' => buf.extend_from_slice(b"\\\\"),
            b'\n' => buf.extend_from_slice(b"\\n"),
            b'\r' => buf.extend_from_slice(b"\\r"),
            b'\t' => buf.extend_from_slice(b"\\t"),
            0..0x20 => buf.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => buf.push(b),
        }
    }
    buf.push(b'"');
}

fn push_u64(buf: &mut Vec<u8>, v: u64) {
    buf.extend_from_slice(v.to_string().as_bytes());
}

fn push_digits(buf: &mut Vec<u8>, v: u32, width: u32) {
    for i in (0..width).rev() {
        buf.push(b'0' + (v / 10u32.pow(i) % 10) as u8);
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffff+00:00`.
fn push_time(buf: &mut Vec<u8>, micros: i64) {
    use chrono::{Datelike, Timelike};
    let t = Timestamp::from_micros(micros).to_datetime();
    push_digits(buf, t.year().max(0) as u32, 4);
    buf.push(b'-');
    push_digits(buf, t.month(), 2);
    buf.push(b'-');
    push_digits(buf, t.day(), 2);
    buf.push(b'T');
    push_digits(buf, t.hour(), 2);
    buf.push(b':');
    push_digits(buf, t.minute(), 2);
    buf.push(b':');
    push_digits(buf, t.second(), 2);
    buf.push(b'.');
    push_digits(buf, (micros.rem_euclid(1_000_000)) as u32, 6);
    buf.extend_from_slice(b"+00:00");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::error_history::ErrorReader;
    use std::collections::HashSet;

    #[test]
    fn is_deterministic_and_reads_back_consistently() {
        let mut a = Vec::new();
        let mut b = Vec::new();
        generate(2000, 7, 0.02, &mut a).unwrap();
        generate(2000, 7, 0.02, &mut b).unwrap();
        assert_eq!(a, b);
        let mut c = Vec::new();
        generate(2000, 8, 0.02, &mut c).unwrap();
        assert_ne!(a, c);

        let mut reader = ErrorReader::new(&a[..]);
        let mut ids = HashSet::new();
        let (mut n, mut ok, mut prev) = (0u64, 0u64, None);
        while let Some(r) = reader.read_record().unwrap() {
            n += 1;
            ok += u64::from(r.success);
            assert!(prev < Some(r.timestamp));
            prev = Some(r.timestamp);
            if let Some(id) = r.incident_id {
                assert!(ids.insert(id), "duplicate {id}");
            }
        }
        assert_eq!(n, 2000);
        assert!((10..=90).contains(&ids.len()), "{}", ids.len());
        assert!((1200..=1600).contains(&ok), "{ok}");
        let meta = reader.metadata().unwrap();
        assert_eq!(meta["total_errors"], 2000);
        assert_eq!(meta["resolved_errors"], ok);
        let stats = reader.pattern_statistics().unwrap();
        assert!(stats["PATTERN_001"]["count"].as_u64().unwrap() > 100);
        let per_record = a.len() / 2000;
        assert!(
            (250..=400).contains(&per_record),
            "{per_record} bytes per record"
        );
    }

    #[test]
    fn extended_history_keeps_default_output_and_writes_truth() {
        let mut plain = Vec::new();
        generate(500, 7, 0.0, &mut plain).unwrap();
        let mut again = Vec::new();
        let mut truth = Vec::new();
        let opts = GenerateOptions {
            n: 500,
            seed: 7,
            migrated_share: 0.0,
            extended: false,
        };
        generate_with(&opts, &mut again, Some(&mut truth)).unwrap();
        assert_eq!(plain, again, "the default output is unchanged");
        assert_eq!(
            truth
                .split(|&b| b == b'\n')
                .filter(|l| !l.is_empty())
                .count(),
            500
        );

        let mut ext = Vec::new();
        let mut truth = Vec::new();
        let opts = GenerateOptions {
            extended: true,
            n: 3000,
            ..opts
        };
        generate_with(&opts, &mut ext, Some(&mut truth)).unwrap();
        let mut reader = ErrorReader::new(&ext[..]);
        let lines: Vec<serde_json::Value> = truth
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        let mut files: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        let mut users = HashSet::new();
        let mut i = 0;
        while let Some(r) = reader.read_record().unwrap() {
            let t = &lines[i];
            assert_eq!(t["record"], i);
            assert_eq!(t["error_type"], r.error_type.as_ref());
            assert_eq!(t["file"], r.file.as_ref());
            let problem = t["problem"].as_str().unwrap().to_string();
            if problem == "DbAuth" {
                users.insert(r.error_message.rsplit('"').nth(1).unwrap().to_string());
            }
            files.entry(problem).or_default().insert(r.file.to_string());
            i += 1;
        }
        assert_eq!(i, 3000);
        assert_eq!(
            users.len(),
            DB_USERS.len(),
            "a few-valued variable: {users:?}"
        );
        for p in ["DbAuth", "UndefinedTable", "S3Upload"] {
            assert!(files[p].len() > 2, "{p} is raised from several files");
        }
    }

    #[test]
    fn empty_history_is_valid() {
        let mut a = Vec::new();
        generate(0, 1, 0.0, &mut a).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&a).unwrap();
        assert_eq!(v["error_history"], serde_json::json!([]));
        assert_eq!(ErrorReader::new(&a[..]).count(), 0);
    }
}
