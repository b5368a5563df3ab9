#!/usr/bin/env python3
"""A check of `incident cluster` against an error-message generator written apart from the
miner's own evaluation (examples/synthetic_eval.rs) and after its rules were settled:
14 problems raised from several files, English and Japanese, error types with digits,
few-valued and many-valued slots (two-valued ones included, the hard case). Prints GA.

    python3 examples/independent_errors.py [target/release/incident] [count] [seed]
"""
import json
import random
import subprocess
import sys
import uuid
from collections import defaultdict

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/incident"
N = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 7)

files = ["app/api/orders.py", "app/api/users.py", "workers/billing.py", "workers/mailer.py",
         "lib/storage/s3.py", "lib/db/pool.py", "jobs/nightly_export.py", "services/auth/token.py"]
users = ["svc_orders", "svc_billing", "readonly"]
tables = ["orders", "invoices", "customers", "audit_log"]
channels = ["#alerts", "#billing-ops", "#sre"]
buckets = ["prod-exports", "prod-backups"]
hosts = ["db-1.internal", "db-2.internal", "cache-3.internal"]


def ip():
    return f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"


PROBLEMS = [
    ("psycopg2.errors.DeadlockDetected", lambda: f"deadlock detected on table {rng.choice(tables)} (process {rng.randint(1000, 99999)} waits for ShareLock on transaction {rng.randint(10**6, 10**7)})"),
    ("psycopg2.OperationalError", lambda: f'FATAL: password authentication failed for user "{rng.choice(users)}"'),
    ("S3UploadFailedError", lambda: f"Failed to upload /tmp/export-{rng.randint(1, 999)}.csv to {rng.choice(buckets)}/daily/{rng.randint(2020, 2025)}-{rng.randint(1, 12):02d}.csv: An error occurred (SlowDown) when calling the PutObject operation"),
    ("OAuth2TokenExpired", lambda: f"access token for client {uuid.UUID(int=rng.getrandbits(128))} expired {rng.randint(1, 600)}s ago"),
    ("HTTP2ProtocolError", lambda: f"stream {rng.randint(1, 999)} reset by peer {ip()}:{rng.choice([443, 8443])} (error code {rng.choice([1, 2, 7])})"),
    ("Base64DecodeError", lambda: f"Incorrect padding at offset {rng.randint(0, 4096)} in field {rng.choice(['payload', 'signature'])}"),
    ("TimeoutError", lambda: f"Redis {rng.choice(hosts)}:6379 did not answer within {rng.choice([1, 2, 5])}s"),
    ("SlackWebhookError", lambda: f"Slack通知に失敗しました: チャンネル {rng.choice(channels)} (HTTP {rng.choice([403, 404, 429, 500])})"),
    ("DiskUsageWarning", lambda: f"ディスク使用率が{rng.randint(85, 99)}%に達しました: /var/lib/{rng.choice(['postgresql', 'docker', 'app'])}"),
    ("KeyError", lambda: f"'{rng.choice(['order_id', 'user_id', 'sku', 'region', 'tenant'])}' が見つかりません (message_id={rng.randint(10**5, 10**6)})"),
    ("ConnectionResetError", lambda: f"[Errno 104] Connection reset by peer while reading from {ip()}"),
    ("ValueError", lambda: f"invalid literal for int() with base 10: '{rng.choice(['abc', '12x', '', 'N/A'])}'"),
    ("WorkerCrashError", lambda: f"ワーカー {rng.choice(['billing', 'mailer', 'export'])}-{rng.randint(1, 16)} が異常終了しました (exit {rng.choice([1, 137, 139])})"),
    ("ssl.SSLCertVerificationError", lambda: f"certificate verify failed: certificate has expired for host api{rng.randint(1, 3)}.partner.example"),
]


def ga(pred, truth):
    pg, tg = defaultdict(set), defaultdict(set)
    for i, (p, t) in enumerate(zip(pred, truth)):
        pg[p].add(i)
        tg[t].add(i)
    return sum(1 for p, t in zip(pred, truth) if pg[p] == tg[t]) / len(truth), len(pg)


def main():
    rows = []
    for _ in range(N):
        k = rng.randrange(len(PROBLEMS))
        ty, msg = PROBLEMS[k]
        rows.append((k, ty, rng.choice(files), msg()))
    for style in ("message", "typed", "migrated"):
        lines = [
            m if style == "message" else f"{ty}: {m}" if style == "typed" else f"{ty} in {f} — {m}"
            for _, ty, f, m in rows
        ]
        out = subprocess.run([BIN, "cluster", "-", "--format", "jsonl"], input="\n".join(lines) + "\n",
                             capture_output=True, text=True, check=True).stdout
        pred = [json.loads(l)["cluster"] for l in out.splitlines()]
        score, groups = ga(pred, [k for k, *_ in rows])
        print(f"{style:<9} GA {score:.4f}  groups {groups} (truth {len(PROBLEMS)})")


if __name__ == "__main__":
    main()
