"""Python package speed: create_incident cost, and migrating an error history through the
package against the original tool's approach (a JSON file loaded, appended to and saved).

    python python/bench/bench.py [--errors 100000] [--incident-bin target/release/incident]

Prints a Markdown table. The original approach is reimplemented here from its design (one
incident_history.json; create_incident loads it, appends, and writes it back), in two
forms: per incident, as its create_incident does, and batched (load once, append every
error, save once), the best a script over that file can do.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime

from incident import IncidentManager


def fsync_baseline(directory, n=200):
    """Median cost of a 4 KiB write plus fsync in `directory`: the disk's floor."""
    path = os.path.join(directory, "fsync.probe")
    times = []
    with open(path, "wb") as f:
        for _ in range(n):
            t = time.perf_counter()
            f.write(b"x" * 4096)
            f.flush()
            os.fsync(f.fileno())
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def create_cost(directory, n=300):
    with IncidentManager(os.path.join(directory, "create.redb")) as m:
        times = []
        for i in range(n):
            t = time.perf_counter()
            m.create_incident("failure", "high", f"RabbitMQ接続断 {i}", "refused",
                              ["rabbitmq", "pm_worker"], "通知停止")
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def original_incident(err, n):
    """An incident dict as the original tool built one from an error."""
    now = datetime.now().isoformat()
    return {
        "incident_id": f"INC-{datetime.now():%Y%m%d}-{n:04d}",
        "timestamp": now,
        "category": "error",
        "priority": "medium",
        "title": f"{err['error_type']} in {err['file']}",
        "description": err["error_message"],
        "affected_components": [err["file"]],
        "impact": "システムエラーによる処理中断",
        "assignee": "ai_system",
        "status": "resolved" if err.get("success") else "open",
        "timeline": [{"timestamp": now, "action": "インシデント作成", "details": "error_historyから移行"}],
        "resolution": None,
    }


def original_per_incident(errors, path):
    """The original's create_incident per error: load the file, append, save."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"metadata": {}, "incidents": [], "statistics": {}}, f)
    for n, err in enumerate(errors, 1):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        data["incidents"].append(original_incident(err, n))
        data["statistics"]["total_incidents"] = len(data["incidents"])
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, ensure_ascii=False, indent=2)


def original_batched(errors, path):
    data = {"metadata": {}, "incidents": [], "statistics": {}}
    for n, err in enumerate(errors, 1):
        data["incidents"].append(original_incident(err, n))
    data["statistics"]["total_incidents"] = len(data["incidents"])
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=2)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--errors", type=int, default=100_000)
    ap.add_argument("--per-incident-sample", type=int, default=2_000)
    ap.add_argument("--incident-bin", default="target/release/incident")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        history = os.path.join(d, "error_history.json")
        subprocess.run([a.incident_bin, "bridge", "generate", str(a.errors), "--seed", "42",
                        "-o", history], check=True, capture_output=True)
        with open(history, encoding="utf-8") as f:
            errors = json.load(f)["error_history"]

        fs = fsync_baseline(d)
        cc = create_cost(d)
        # On tmpfs a sync costs nothing: what remains is the store's own work.
        mem = None
        if os.path.isdir("/dev/shm"):
            with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
                mem = create_cost(shm)

        t = time.perf_counter()
        with IncidentManager(os.path.join(d, "migrate.redb")) as m:
            summary = m.migrate_error_history(history)
        package = time.perf_counter() - t
        assert summary["records"] == a.errors

        t = time.perf_counter()
        original_batched(errors, os.path.join(d, "batched.json"))
        batched = time.perf_counter() - t

        k = min(a.per_incident_sample, a.errors)
        t = time.perf_counter()
        original_per_incident(errors[:k], os.path.join(d, "per_incident.json"))
        sample = time.perf_counter() - t
        # Each save rewrites the whole file: cost grows with the square of the count.
        per_incident = sample * (a.errors / k) ** 2

    print(f"| measure ({a.errors:,} errors) | time |")
    print("|---|--:|")
    print(f"| create_incident from Python, median of 300 | {cc * 1e3:.2f} ms |")
    if mem is not None:
        print(f"| the same on tmpfs (no sync cost: the store's own work) | {mem * 1e3:.2f} ms |")
    print(f"| 4 KiB write + fsync on the same disk, median | {fs * 1e3:.2f} ms |")
    print(f"| migrate_error_history (package) | {package:.2f} s |")
    print(f"| original approach, batched (load once, append all, save once) | {batched:.2f} s |")
    print(f"| original approach, per incident (measured on {k:,}: {sample:.1f} s; "
          f"quadratic extrapolation) | {per_incident / 3600:.1f} h |")


if __name__ == "__main__":
    sys.exit(main())
