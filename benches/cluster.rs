//! Clustering throughput: 1,000,000 synthetic log lines, generated from a fixed seed.
//!
//! `cargo bench --bench cluster [-- LINES]` clusters them and prints the time and the peak
//! resident memory of the process; `cargo bench --bench cluster -- LINES --emit` prints the
//! lines instead, to time `incident cluster` on the same input.

use std::time::Instant;

use incident::patterns::miner::{Miner, MinerConfig};

/// SplitMix64: a fixed generator, so every run clusters the same lines.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const USERS: &[&str] = &[
    "root", "admin", "oracle", "test", "guest", "deploy", "postgres", "ubuntu",
];
const HOSTS: &[&str] = &[
    "db-1.example.com",
    "api.internal",
    "cache-03.prod.local",
    "localhost",
];
const WORDS: &[&str] = &[
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
];

/// Loghub-like templates; `{i}` integer, `{x}` hex, `{ip}` IPv4, `{hp}` host:port,
/// `{p}` path, `{u}` UUID, `{n}` user name, `{w}` word, `{t}` time, `{f}` float.
const TEMPLATES: &[&str] = &[
    "PacketResponder {i} for block blk_-{i} terminating",
    "Received block blk_{i} of size {i} from /{ip}",
    "BLOCK* NameSystem.addStoredBlock: blockMap updated: {ip}:{i} is added to blk_{i} size {i}",
    "Verification succeeded for blk_{i}",
    "Failed password for {n} from {ip} port {i} ssh2",
    "Failed password for invalid user {n} from {ip} port {i} ssh2",
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={ip}  user={n}",
    "Received disconnect from {ip}: 11: Bye Bye [preauth]",
    "Connection closed by {ip} [preauth]",
    "Running task {f} in stage {f} (TID {i})",
    "Block rdd_{i}_{i} stored as values in memory (estimated size {f} KB, free {f} MB)",
    "Finished task {f} in stage {f} (TID {i}). {i} bytes result sent to driver",
    "acquire lock={i}, flags=0x{x}, tag=\"{w} Lock\", name=com.android.{w}, ws=null, uid={i}, pid={i}",
    "setLightsOn({w})",
    "Address change detected. Old: {hp} New: {hp}",
    "Progress of TaskAttempt attempt_{i}_{i}_m_{i}_{i} is : {f}",
    "[instance: {u}] Took {f} seconds to build instance.",
    "{ip} \"GET /v2/{x}/servers/detail HTTP/1.1\" status: 200 len: {i} time: {f}",
    "Loaded Servicing Stack v6.1.{i}.{i} with Core: C:\\Windows\\winsxs\\amd64_{x}\\cbscore.dll",
    "Session: {i}_{i} initialized by client WindowsUpdateAgent.",
    "generating core.{i}",
    "{i} floating point alignment exceptions",
    "ciod: Error loading {p}: invalid or missing program image, No such file or directory",
    "Connection to {hp} timed out after {i}ms",
    "GET https://{w}.example.com/api/v1/items/{i}?page={i} returned 503",
    "user {n} ({n}@example.com) logged in from {ip} at {t}",
    "RabbitMQ接続エラー: {hp} への接続が{i}秒でタイムアウトしました",
    "ディスク使用率が{i}%を超えました: {p}",
    "INC-2025{i}-{i} escalated to {n} after {i} minutes",
    "worker {w} finished job {u} in {f}s with status={w}",
    "Exception in thread \"main\" java.lang.NullPointerException at com.example.{w}.Service.run(Service.java:{i})",
    "Disk quota exceeded for {n} on {p} ({i} of {i} blocks)",
];

fn render(tpl: &str, rng: &mut Rng, out: &mut String) {
    out.clear();
    let mut rest = tpl;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c);
        let field = &rest[open + 1..close];
        use std::fmt::Write;
        let _ = match field {
            "i" => write!(out, "{}", rng.below(100_000)),
            "x" => write!(out, "{:x}", rng.next()),
            "ip" => write!(
                out,
                "10.{}.{}.{}",
                rng.below(256),
                rng.below(256),
                rng.below(256)
            ),
            "hp" => write!(out, "{}:{}", rng.pick(HOSTS), 1024 + rng.below(60_000)),
            "p" => write!(out, "/var/lib/{}/{}.dat", rng.pick(WORDS), rng.below(1000)),
            "u" => write!(
                out,
                "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
                rng.next() as u32,
                rng.below(1 << 16),
                rng.below(1 << 12),
                rng.below(1 << 12),
                rng.next() & 0xffff_ffff_ffff
            ),
            "n" => write!(out, "{}", rng.pick(USERS)),
            "w" => write!(out, "{}", rng.pick(WORDS)),
            "t" => write!(
                out,
                "2025-01-{:02}T{:02}:{:02}:{:02}Z",
                1 + rng.below(28),
                rng.below(24),
                rng.below(60),
                rng.below(60)
            ),
            "f" => write!(out, "{}.{}", rng.below(1000), rng.below(1000)),
            _ => write!(out, "{{{field}}}"),
        };
        rest = &rest[(close + 1).min(rest.len())..];
    }
    out.push_str(rest);
}

fn main() {
    let lines: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut rng = Rng(0x5EED);
    let mut buf = String::new();
    let mut text = String::with_capacity(lines * 100);
    let mut offsets = Vec::with_capacity(lines + 1);
    offsets.push(0);
    for _ in 0..lines {
        let tpl = TEMPLATES[rng.below(TEMPLATES.len() as u64) as usize];
        render(tpl, &mut rng, &mut buf);
        text.push_str(&buf);
        offsets.push(text.len());
    }
    let bytes = text.len();
    if std::env::args().any(|a| a == "--emit") {
        use std::io::Write;
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        for w in offsets.windows(2) {
            let _ = writeln!(out, "{}", &text[w[0]..w[1]]);
        }
        return;
    }

    let start = Instant::now();
    let mut miner = Miner::new(MinerConfig::default());
    for w in offsets.windows(2) {
        miner.add(&text[w[0]..w[1]]);
    }
    let added = start.elapsed();
    let mined = miner.finish();
    let total = start.elapsed();

    let secs = total.as_secs_f64();
    println!("lines:      {lines}");
    println!("bytes:      {bytes}");
    println!("clusters:   {}", mined.clusters.len());
    println!("add:        {:.3} s", added.as_secs_f64());
    println!("finish:     {:.3} s", (total - added).as_secs_f64());
    println!("wall time:  {secs:.3} s");
    println!(
        "throughput: {:.0} lines/s, {:.1} MB/s",
        lines as f64 / secs,
        bytes as f64 / secs / 1e6
    );
    // Peak resident memory of the whole process, the generated input included (Linux).
    if let Some(peak) = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
    {
        println!("peak RSS:  {}", peak.trim_start_matches("VmHWM:").trim());
    }
}
