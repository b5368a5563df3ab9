//! The outbox and its delivery, run as real processes against real HTTP receivers on
//! 127.0.0.1 that fail, hang or answer slowly.

#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeSet, HashMap};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::Env;
use common::receiver::{Receiver, Reply, Request};
use serde_json::Value;

/// A config with one `format: json` target at `url`; fast retries, short timeouts.
fn config(env: &Env, url: &str, extra_target: &str, delivery: &str) -> String {
    let text = format!(
        r#"{{"notify": [{{"name": "hook", "url": "{url}", "format": "json", "events": ["*"]{extra_target}}}],
            "delivery": {{"backoff_initial_ms": 100, "backoff_max_ms": 400, "connect_timeout_ms": 500,
                          "request_timeout_ms": 1000{delivery}}}}}"#
    );
    env.write("incident.json", &text).display().to_string()
}

fn create(env: &Env, n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            env.create_at(
                &format!("障害 {i}"),
                "failure",
                "high",
                &["db"],
                "2025-07-01T10:00:00+09:00",
            )
        })
        .collect()
}

/// Incident ids of the requests answered 2xx.
fn delivered_ids(reqs: &[Request]) -> BTreeSet<String> {
    reqs.iter()
        .filter(|r| r.answered.is_some_and(|s| (200..300).contains(&s)))
        .map(|r| r.json()["incident"]["id"].as_str().unwrap().to_string())
        .collect()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn deliverer(env: &Env, cfg: &str) -> Killed {
    Killed(
        env.process()
            .args(["outbox", "deliver", "--config", cfg])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn outbox(env: &Env) -> Value {
    env.json(&["outbox", "--format", "json"])
}

#[test]
fn failures_are_retried_until_delivered_and_duplicates_share_the_event_id() {
    let env = Env::new();
    let rx = Receiver::start(|n| {
        if n < 3 {
            Reply::Status(500)
        } else {
            Reply::Status(200)
        }
    });
    let cfg = config(&env, &rx.url, r#", "secret": "env:HOOK_SECRET""#, "");
    let ids = create(&env, 5);
    let log = |name: &str| std::fs::File::create(env.dir.path().join(name)).unwrap();
    let d = Killed(
        env.process()
            .args(["outbox", "deliver", "--config", &cfg])
            .env("HOOK_SECRET", "s3cret-値")
            .stdout(log("deliver.out"))
            .stderr(log("deliver.err"))
            .spawn()
            .unwrap(),
    );
    let reqs = rx.wait_for(Duration::from_secs(30), "all 5 incidents", |r| {
        delivered_ids(r).len() == 5
    });
    assert_eq!(delivered_ids(&reqs), ids.iter().cloned().collect());
    assert!(
        reqs.len() >= 8,
        "3 failures and 5 successes: {}",
        reqs.len()
    );
    // Every request of one event carries the same id, in the header and the body.
    let mut keys: HashMap<String, Vec<Option<u16>>> = HashMap::new();
    for r in &reqs {
        let key = r.header("Idempotency-Key").unwrap().to_string();
        assert_eq!(r.json()["event_id"], key.as_str());
        assert_eq!(r.json()["event"], "created");
        let sig = r.header("X-Incident-Signature").unwrap();
        assert_eq!(
            sig,
            incident::notify::signature("s3cret-値".as_bytes(), &r.body),
            "HMAC-SHA256 over the body"
        );
        keys.entry(key).or_default().push(r.answered);
    }
    assert_eq!(keys.len(), 5, "one event id per incident");
    let retried: Vec<_> = keys.values().filter(|v| v.len() > 1).collect();
    assert!(
        !retried.is_empty(),
        "a failed event was sent again under its id"
    );
    for v in keys.values() {
        assert_eq!(v.last(), Some(&Some(200)));
    }
    // Delivered messages leave the outbox.
    let start = Instant::now();
    while outbox(&env)["pending"] != 0 {
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(100));
    }
    // The secret is in no output: the deliverer's, the outbox's, the metrics'.
    drop(d);
    let mut seen = String::new();
    for f in ["deliver.out", "deliver.err"] {
        seen.push_str(&std::fs::read_to_string(env.dir.path().join(f)).unwrap());
    }
    assert!(seen.contains("delivered"), "the deliverer reports: {seen}");
    // Each failed attempt is logged with its id, the receiver's answer and what comes next.
    let failed: Vec<&str> = seen
        .lines()
        .filter(|l| l.starts_with("outbox: delivery failed: "))
        .collect();
    assert_eq!(failed.len(), 3, "{seen}");
    for l in failed {
        assert!(l.contains("/hook (event evt-"), "{l}");
        assert!(l.contains(", attempt 1: HTTP 500"), "{l}");
        assert!(l.contains("; next attempt at "), "{l}");
    }
    seen.push_str(&env.ok(&["outbox"]));
    seen.push_str(&env.ok(&["outbox", "--format", "json"]));
    let metrics = env
        .process()
        .args(["metrics", "--config", &cfg])
        .env("HOOK_SECRET", "s3cret-値")
        .output()
        .unwrap();
    assert!(metrics.status.success());
    seen.push_str(&String::from_utf8_lossy(&metrics.stdout));
    seen.push_str(&String::from_utf8_lossy(&metrics.stderr));
    assert!(!seen.contains("s3cret"), "{seen}");
}

#[test]
fn a_hang_times_out_and_is_retried() {
    let env = Env::new();
    let rx = Receiver::start(|n| {
        if n == 0 {
            Reply::Hang
        } else {
            Reply::Status(204)
        }
    });
    let cfg = config(&env, &rx.url, "", "");
    let ids = create(&env, 1);
    let start = Instant::now();
    let out = env.ok(&["outbox", "deliver", "--once", "--config", &cfg]);
    assert!(out.is_empty());
    let elapsed = start.elapsed();
    assert!(
        elapsed < Duration::from_secs(8),
        "the hang was cut by the 1 s timeout, not waited out: {elapsed:?}"
    );
    let v = outbox(&env);
    assert_eq!(v["pending"], 1, "{v}");
    let row = &v["rows"][0];
    assert!(
        row["last_error"].as_str().unwrap().contains("timed out"),
        "{row}"
    );
    let _d = deliverer(&env, &cfg);
    let reqs = rx.wait_for(Duration::from_secs(20), "the retry", |r| {
        delivered_ids(r).len() == 1
    });
    assert_eq!(delivered_ids(&reqs), ids.into_iter().collect());
    assert_eq!(
        reqs[0].header("Idempotency-Key"),
        reqs[1].header("Idempotency-Key")
    );
}

#[test]
fn a_slow_answer_within_the_timeout_is_delivered_once() {
    let env = Env::new();
    let rx = Receiver::start(|_| Reply::Slow(Duration::from_millis(400), 200));
    let cfg = config(&env, &rx.url, "", "");
    create(&env, 2);
    env.ok(&["outbox", "deliver", "--once", "--config", &cfg]);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 2, "one request per event, no retry");
    assert_eq!(outbox(&env)["pending"], 0);
}

#[test]
fn kill_9_between_commit_and_delivery_still_delivers_after_restart() {
    let env = Env::new();
    // The first deliverer's requests hang: it is killed while sending.
    let rx = Receiver::start(|n| {
        if n < 4 {
            Reply::Hang
        } else {
            Reply::Status(200)
        }
    });
    let cfg = config(&env, &rx.url, "", "");
    let ids = create(&env, 4);
    let mut first = deliverer(&env, &cfg);
    rx.wait_for(Duration::from_secs(20), "the first sends", |r| r.len() >= 4);
    first.0.kill().unwrap(); // SIGKILL
    first.0.wait().unwrap();
    // Claimed and unanswered: still in the outbox, waiting for the lease to run out.
    let v = outbox(&env);
    assert_eq!(v["pending"], 4, "{v}");
    let _second = deliverer(&env, &cfg);
    let reqs = rx.wait_for(Duration::from_secs(30), "all 4 after restart", |r| {
        delivered_ids(r).len() == 4
    });
    assert_eq!(delivered_ids(&reqs), ids.into_iter().collect());
    let keys: BTreeSet<_> = reqs
        .iter()
        .map(|r| r.header("Idempotency-Key").unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 4, "resent messages keep their event ids");
}

#[test]
fn two_deliverers_never_send_one_message_at_the_same_time() {
    let env = Env::new();
    let rx = Receiver::start(|_| Reply::Slow(Duration::from_millis(150), 200));
    let cfg = config(&env, &rx.url, "", "");
    let ids = create(&env, 12);
    let _a = deliverer(&env, &cfg);
    let _b = deliverer(&env, &cfg);
    let reqs = rx.wait_for(Duration::from_secs(30), "all 12", |r| {
        delivered_ids(r).len() == 12
    });
    assert_eq!(delivered_ids(&reqs), ids.into_iter().collect());
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(rx.requests().len(), 12, "each message sent exactly once");
}

#[test]
fn dead_letters_are_listed_and_retried() {
    let env = Env::new();
    let rx = Receiver::start(|n| {
        if n < 2 {
            Reply::Status(503)
        } else {
            Reply::Status(200)
        }
    });
    let cfg = config(&env, &rx.url, "", r#", "max_attempts": 2"#);
    create(&env, 1);
    let start = Instant::now();
    while outbox(&env)["dead"] != 1 {
        env.ok(&["outbox", "deliver", "--once", "--config", &cfg]);
        assert!(start.elapsed() < Duration::from_secs(10));
        std::thread::sleep(Duration::from_millis(150));
    }
    let failed = env.json(&["outbox", "--failed", "--format", "json"]);
    let row = &failed["rows"][0];
    assert_eq!(row["state"], "dead");
    assert_eq!(row["attempts"], 2);
    assert!(row["last_error"].as_str().unwrap().starts_with("HTTP 503"));
    let text = env.ok(&["outbox", "--failed"]);
    assert!(text.contains("dead") && text.contains("HTTP 503"), "{text}");
    // A dead letter is not sent again until retried.
    env.ok(&["outbox", "deliver", "--once", "--config", &cfg]);
    assert_eq!(rx.requests().len(), 2);
    let err = env.fails(&["outbox", "--retry", "999/hook"], 1);
    assert!(
        err.contains("--retry 999/hook: no dead letter matches"),
        "{err}"
    );
    let id = row["id"].as_str().unwrap();
    assert!(
        env.ok(&["outbox", "--retry", id])
            .contains("1 dead letter(s) queued again")
    );
    env.ok(&["outbox", "deliver", "--once", "--config", &cfg]);
    assert_eq!(rx.requests().len(), 3);
    assert_eq!(outbox(&env)["dead"], 0);
    assert_eq!(outbox(&env)["pending"], 0);
}

#[test]
fn a_refusal_4xx_is_dead_at_once() {
    let env = Env::new();
    let rx = Receiver::start(|_| Reply::Status(404));
    let cfg = config(&env, &rx.url, "", "");
    create(&env, 1);
    env.ok(&["outbox", "deliver", "--once", "--config", &cfg]);
    assert_eq!(rx.requests().len(), 1);
    assert_eq!(outbox(&env)["dead"], 1);
}

#[test]
fn every_lifecycle_change_writes_its_event() {
    let env = Env::new();
    let id = create(&env, 1).remove(0);
    env.ok(&[
        "update",
        &id,
        "--status",
        "in_progress",
        "--at",
        "2025-07-01T10:05:00+09:00",
    ]);
    env.ok(&["note", &id, "メモ", "--at", "2025-07-01T10:06:00+09:00"]);
    env.ok(&[
        "resolve",
        &id,
        "--actions",
        "restart",
        "--root-cause",
        "oom",
        "--at",
        "2025-07-01T10:30:00+09:00",
    ]);
    env.ok(&["reopen", &id, "--at", "2025-07-01T11:00:00+09:00"]);
    // A refused change writes nothing, so it has no event.
    env.fails(&["close", &id], 1);
    let v = outbox(&env);
    let kinds: Vec<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["created", "changed", "changed", "resolved", "reopened"]
    );
    let event_ids: BTreeSet<&str> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(event_ids.len(), 5);
    assert_eq!(v["unrouted"], 5);
}

#[test]
fn slack_messages_carry_blocks_with_the_incident() {
    let env = Env::new();
    let rx = Receiver::start(|_| Reply::Status(200));
    let text = format!(
        r#"{{"dashboard_url": "https://incidents.example.com/",
            "notify": [{{"name": "ops-slack", "url": "{}", "format": "slack",
                         "events": ["created"], "min_priority": "high"}}]}}"#,
        rx.url
    );
    let cfg = env.write("incident.json", &text);
    let id = env.create_at(
        "決済APIの応答遅延",
        "performance",
        "critical",
        &["payment", "api"],
        "2025-07-01T10:00:00+09:00",
    );
    env.create_at(
        "low one",
        "request",
        "low",
        &["x"],
        "2025-07-01T10:00:00+09:00",
    );
    env.ok(&[
        "outbox",
        "deliver",
        "--once",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let reqs = rx.requests();
    assert_eq!(reqs.len(), 1, "min_priority keeps the low incident out");
    let body = reqs[0].json();
    assert!(body["text"].as_str().unwrap().contains(&id));
    let blocks = body["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("[CRITICAL]")
    );
    assert!(
        blocks[0]["text"]["text"]
            .as_str()
            .unwrap()
            .contains("決済APIの応答遅延")
    );
    let fields = blocks[1]["fields"].to_string();
    for want in [
        "Priority",
        "critical",
        "payment, api",
        "SLA deadline",
        "2025-07-01T01:15:00",
        "<!date^1751332500^{date_num} {time}|",
    ] {
        assert!(fields.contains(want), "{want} in {fields}");
    }
    let button = blocks
        .iter()
        .find(|b| b["type"] == "actions")
        .expect("a dashboard link");
    assert_eq!(
        button["elements"][0]["url"],
        format!("https://incidents.example.com/incidents/{id}")
    );
    assert!(
        reqs[0]
            .header("Idempotency-Key")
            .unwrap()
            .starts_with("evt-")
    );
}

#[test]
fn messages_carry_the_matching_pattern_and_its_knowledge_base_entry() {
    let env = Env::new();
    env.seed_rabbitmq_kb();

    let rx = Receiver::start(|_| Reply::Status(200));
    let text = format!(
        r#"{{"notify": [{{"name": "ops-slack", "url": "{url}", "format": "slack",
                          "events": ["created"], "min_priority": "critical"}},
                        {{"name": "hook", "url": "{url}", "format": "json", "events": ["created"]}}]}}"#,
        url = rx.url
    );
    let cfg = env.write("incident.json", &text);
    let id = env.create_at(
        "RabbitMQ接続エラー: 10.0.0.9:5672 への接続が90秒でタイムアウトしました",
        "failure",
        "critical",
        &["rabbitmq"],
        "2025-07-01T10:00:00+09:00",
    );
    env.ok(&[
        "outbox",
        "deliver",
        "--once",
        "--config",
        cfg.to_str().unwrap(),
    ]);
    let reqs = rx.requests();
    let about_new: Vec<Value> = reqs
        .iter()
        .map(|r| r.json())
        .filter(|b| b.to_string().contains(&id))
        .collect();
    assert_eq!(about_new.len(), 2, "one slack and one json message");
    let json = about_new
        .iter()
        .find(|b| b["event_id"].is_string())
        .unwrap();
    let pattern = &json["pattern"];
    assert!(pattern["id"].as_str().unwrap().starts_with('P'), "{json}");
    assert_eq!(pattern["last_fix"][0], "systemctl restart rabbitmq-server");
    let entry = &pattern["kb_entry"];
    assert_eq!(entry["entry"], "INCIDENT_002", "{json}");
    assert_eq!(entry["title"], "RabbitMQ接続断");
    let markdown = entry["markdown"].as_str().unwrap();
    assert!(
        markdown.starts_with("### INCIDENT_002: RabbitMQ接続断\n"),
        "{markdown}"
    );
    assert!(markdown.contains("rabbitmqctl list_queues"), "{markdown}");
    assert!(!markdown.contains("<!--"), "markers stay out: {markdown}");
    assert!(
        !markdown.contains("INCIDENT_003"),
        "one entry only: {markdown}"
    );

    let slack = about_new.iter().find(|b| b["blocks"].is_array()).unwrap();
    let kb_block = slack["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["text"]["text"].as_str().unwrap_or(""))
        .find(|t| t.starts_with("*Knowledge base*"))
        .unwrap_or_else(|| panic!("a knowledge-base section in {slack}"));
    assert!(
        kb_block.starts_with("*Knowledge base*: INCIDENT_002 RabbitMQ接続断\n"),
        "{kb_block}"
    );
    assert!(
        kb_block.contains("*症状*"),
        "bold as Slack writes it: {kb_block}"
    );
    assert!(
        !kb_block.contains("**") && !kb_block.contains("]("),
        "{kb_block}"
    );
    assert!(
        !kb_block.contains("### "),
        "the heading is the block's first line: {kb_block}"
    );
}

#[test]
fn a_damaged_outbox_entry_is_named_by_check_and_does_not_stop_the_others() {
    let env = Env::new();
    let ids = create(&env, 3);
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
    incident::testing::damage_outbox(&env.db()).unwrap();

    let out = env.cmd().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("outbox: record outbox 1 cannot be decoded"),
        "{text}"
    );
    assert!(text.contains("never delivered"), "{text}");
    assert!(
        text.contains("outbox 3 is above the sequence counter 2"),
        "{text}"
    );

    let listing = env.ok(&["outbox"]);
    assert!(listing.contains("damaged"), "{listing}");
    assert!(listing.contains("1 damaged"), "{listing}");

    // Repair moves the counter up; the damaged entry stays for a person to read.
    let out = env.cmd().args(["check", "--repair"]).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(3),
        "a damaged entry is not repaired"
    );
    let out = env.cmd().arg("check").output().unwrap();
    assert_eq!(out.status.code(), Some(3));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("sequence counter"), "{text}");
    assert!(text.contains("record outbox 1 cannot be decoded"), "{text}");
    let next = create(&env, 1);
    let v = outbox(&env);
    assert_eq!(v["damaged"], 1, "{v}");
    assert_eq!(v["unrouted"], 3, "the new event replaced none: {v}");

    let rx = Receiver::start(|_| Reply::Status(200));
    let cfg = config(&env, &rx.url, "", "");
    env.ok(&["outbox", "deliver", "--once", "--config", &cfg]);
    let got = delivered_ids(&rx.requests());
    let want: BTreeSet<String> = ids[1..].iter().chain(&next).cloned().collect();
    assert_eq!(got, want, "every readable event goes out");

    let msg = env.fails(&["outbox", "--discard", "7"], 1);
    assert!(msg.contains("no entry 7"), "{msg}");
    env.ok(&["outbox", "--discard", "1"]);
    assert!(env.ok(&["check"]).contains("0 problem(s)"));
    assert_eq!(outbox(&env)["damaged"], 0);
}

#[test]
fn bad_notify_config_is_refused_naming_the_field() {
    let env = Env::new();
    create(&env, 1);
    let cfg = env.write(
        "bad.json",
        r#"{"notify": [{"name": "a", "url": "http://127.0.0.1:1/", "events": ["*"]},
                       {"name": "b", "url": "http://127.0.0.1:1/", "events": ["created", "deleted"]}]}"#,
    );
    let err = env.fails(
        &[
            "outbox",
            "deliver",
            "--once",
            "--config",
            cfg.to_str().unwrap(),
        ],
        1,
    );
    assert!(
        err.contains("notify[1].events[1]: unknown event \"deleted\""),
        "{err}"
    );
    let cfg = env.write("none.json", r#"{"sla": {}}"#);
    let err = env.fails(&["outbox", "deliver", "--config", cfg.to_str().unwrap()], 1);
    assert!(err.contains("no notification targets"), "{err}");
    // Nothing was sent or changed.
    assert_eq!(outbox(&env)["unrouted"], 1);
}
